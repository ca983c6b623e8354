package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/remote/auth"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/progress"
)

// registryOf is the registry a reference lives on ("docker.io" for Docker Hub).
func registryOf(ref string) string {
	r, err := image.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Domain
}

// credentials returns the user's stored credentials for registry, encoded for the
// X-Registry-Auth header ("" when there are none).
func credentials(registry string) (string, error) {
	f, err := auth.Load(auth.DefaultConfigPath())
	if err != nil {
		return "", err
	}
	a, err := f.Get(registry)
	if err != nil {
		return "", err
	}
	if a == (api.AuthConfig{}) {
		return "", nil
	}
	a.ServerAddress = registry
	return auth.EncodeHeader(a), nil
}

// pullImage pulls ref, rendering progress on out (bars on a terminal).
func pullImage(ctx context.Context, c *client.Client, ref, platform string, out io.Writer, quiet bool) error {
	cred, err := credentials(registryOf(ref))
	if err != nil {
		return err
	}
	body, err := c.ImagePull(ctx, ref, platform, cred)
	if err != nil {
		return err
	}
	defer body.Close()
	if quiet {
		_, err = progress.Quiet(body)
		return err
	}
	return progress.Render(out, body, isTerminal(out))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func pullCommand() *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Long: `Download an image from a registry. Layers download in parallel and unpack while they
arrive; layers already stored are not fetched again, and an interrupted pull resumes.
Credentials come from drover login (the Docker config file, credential helpers honoured).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := image.ParseReference(args[0])
			if err != nil {
				return exitCode(1, err.Error())
			}
			if err := pullImage(cmd.Context(), clientFor(), args[0], platform, os.Stdout, quiet); err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Println(ref.String())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().StringVar(&platform, "platform", "", "pull this platform's image of a multi-platform index (os/arch[/variant])")
	return cmd
}

func pushCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:               "push [OPTIONS] NAME[:TAG]",
		Short:             "Upload an image to a registry",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			cred, err := credentials(registryOf(args[0]))
			if err != nil {
				return exitCode(1, err.Error())
			}
			body, err := clientFor().ImagePush(cmd.Context(), args[0], cred)
			if err != nil {
				return exitCode(1, err.Error())
			}
			defer body.Close()
			if quiet {
				_, err = progress.Quiet(body)
			} else {
				err = progress.Render(os.Stdout, body, isTerminal(os.Stdout))
			}
			if err != nil {
				return exitCode(1, err.Error())
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

func loginCommand() *cobra.Command {
	var username, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (Docker Hub when no server is given)",
		Long: `Log in to a registry. The daemon checks the credentials against the registry; they are
then stored in the Docker config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json),
through its credential store or helper when one is configured.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = normaliseServer(args[0])
			}
			if passwordStdin {
				if password != "" {
					return exitCode(1, "--password and --password-stdin are mutually exclusive")
				}
				if username == "" {
					return exitCode(1, "--password-stdin needs --username")
				}
				data, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
				if err != nil {
					return exitCode(1, err.Error())
				}
				password = strings.TrimRight(string(data), "\r\n")
			}
			if password != "" && !passwordStdin {
				fmt.Fprintln(os.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			if username == "" || password == "" {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return exitCode(1, "cannot prompt for credentials: stdin is not a terminal; use --username with --password-stdin")
				}
				var err error
				if username, password, err = prompt(username); err != nil {
					return exitCode(1, err.Error())
				}
			}
			a := api.AuthConfig{Username: username, Password: password, ServerAddress: server}
			res, err := clientFor().Login(cmd.Context(), a)
			if err != nil {
				return exitCode(1, err.Error())
			}
			f, err := auth.Load(auth.DefaultConfigPath())
			if err == nil {
				err = f.Store(server, a)
			}
			if err != nil {
				return exitCode(1, fmt.Sprintf("credentials work but could not be stored: %v", err))
			}
			fmt.Println(res.Status)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from stdin")
	return cmd
}

// normaliseServer accepts "https://host/v2/" forms as Docker does.
func normaliseServer(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), "/v2")
	s = strings.TrimSuffix(s, "/v1")
	switch s {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return s
}

func prompt(username string) (string, string, error) {
	in := bufio.NewReader(os.Stdin)
	if username == "" {
		fmt.Fprint(os.Stderr, "Username: ")
		line, err := in.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		username = strings.TrimSpace(line)
	}
	fmt.Fprint(os.Stderr, "Password: ")
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", "", err
	}
	if username == "" || len(pw) == 0 {
		return "", "", errors.New("username and password are required")
	}
	return username, string(pw), nil
}

func logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry (remove its stored credentials)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = normaliseServer(args[0])
			}
			f, err := auth.Load(auth.DefaultConfigPath())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if err := f.Erase(server); err != nil {
				if errors.Is(err, errdefs.ErrNotFound) {
					fmt.Printf("Not logged in to %s\n", server)
					return nil
				}
				return exitCode(1, err.Error())
			}
			fmt.Printf("Removing login credentials for %s\n", server)
			return nil
		},
	}
}

// createContainer creates a container, pulling its image first as --pull says: always,
// missing (when the daemon does not have it) or never.
func createContainer(ctx context.Context, c *client.Client, cfg api.ContainerConfig, pull, platform string) (created api.CreateResponse, err error) {
	err = withPull(ctx, c, cfg.Image, pull, platform, func() error {
		created, err = c.ContainerCreate(ctx, cfg)
		return err
	})
	return created, err
}

// withPull runs create (a request that needs the image) under the --pull policy: the
// image is pulled first with "always", and when create finds it missing with "missing".
func withPull(ctx context.Context, c *client.Client, image, pull, platform string, create func() error) error {
	switch pull {
	case "always":
		if err := pullImage(ctx, c, image, platform, os.Stderr, false); err != nil {
			return err
		}
	case "missing", "", "never":
	default:
		return fmt.Errorf("invalid --pull value %q: use always, missing or never", pull)
	}
	err := create()
	if err != nil && (pull == "missing" || pull == "") && errors.Is(err, errdefs.ErrNotFound) && strings.Contains(err.Error(), "no such image") {
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", image)
		if perr := pullImage(ctx, c, image, platform, os.Stderr, false); perr != nil {
			return perr
		}
		err = create()
	}
	return err
}
