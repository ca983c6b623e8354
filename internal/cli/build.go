package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/image/build/buildcontext"
	"github.com/drover/drover/internal/progress"
)

type buildFlags struct {
	tags, buildArgs, labels, outputs []string
	file, target, platform, progress string
	network                          string
	noCache, pull, push, quiet       bool
}

func buildCommand() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a context: a directory (files excluded by its
.dockerignore are not sent) or "-" to read a Dockerfile, or a tar archive of a context,
from stdin. Each step is shown with its time; a step whose instruction, parent and (for
COPY and ADD) input files are unchanged is taken from the build cache.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	stringsVar(fl, &f.tags, "tag", "t", "name the image (name:tag); repeatable")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default PATH/Dockerfile)")
	stringsVar(fl, &f.buildArgs, "build-arg", "", "set a build-time variable (KEY=VALUE, or KEY to take it from the environment); repeatable")
	stringsVar(fl, &f.labels, "label", "", "set a label on the image (KEY=VALUE); repeatable")
	fl.StringVar(&f.target, "target", "", "build this stage (by name or index) instead of the last")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.BoolVar(&f.pull, "pull", false, "always pull the base images")
	fl.StringVar(&f.platform, "platform", "", "platform of the image (os/arch; only the host's can be built)")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto or plain")
	stringsVar(fl, &f.outputs, "output", "o", "also write the image: type=oci,dest=FILE (an OCI layout and docker-save tar)")
	fl.BoolVar(&f.push, "push", false, "push the image's tags after the build")
	fl.StringVar(&f.network, "network", "", "network of RUN steps: default (host) or none")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	return cmd
}

func keyValues(list []string, flag string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--%s %q: use KEY=VALUE", flag, kv)
		}
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("--%s %q: use KEY=VALUE", flag, kv)
			}
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue // Docker: an unset variable is not passed
			}
		}
		out[k] = v
	}
	return out, nil
}

// ociOutput reads -o type=oci,dest=FILE.
func ociOutput(outputs []string) (string, error) {
	dest := ""
	for _, o := range outputs {
		kind, file := "", ""
		for _, part := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "type":
				kind = v
			case "dest":
				file = v
			default:
				return "", fmt.Errorf("--output %q: unknown key %q (use type=oci,dest=FILE)", o, k)
			}
		}
		if kind != "oci" && kind != "docker" && kind != "tar" {
			return "", fmt.Errorf("--output %q: only type=oci (or docker, tar: the same archive) is supported", o)
		}
		if file == "" {
			return "", fmt.Errorf("--output %q: dest=FILE is required", o)
		}
		dest = file
	}
	return dest, nil
}

func runBuild(cmd *cobra.Command, contextArg string, f buildFlags) error {
	ctx := cmd.Context()
	if f.progress != "auto" && f.progress != "plain" {
		return exitCode(125, fmt.Sprintf("--progress %q: use auto or plain", f.progress))
	}
	buildArgs, err := keyValues(f.buildArgs, "build-arg", true)
	if err != nil {
		return exitCode(125, err.Error())
	}
	labels, err := keyValues(f.labels, "label", false)
	if err != nil {
		return exitCode(125, err.Error())
	}
	dest, err := ociOutput(f.outputs)
	if err != nil {
		return exitCode(125, err.Error())
	}
	if f.push && len(f.tags) == 0 {
		return exitCode(125, "--push needs a name: add -t REGISTRY/NAME:TAG")
	}
	opts := client.BuildOptions{
		Tags: f.tags, BuildArgs: buildArgs, Labels: labels, Target: f.target, NoCache: f.noCache,
		Pull: f.pull, Platform: f.platform, Network: f.network,
	}
	var body io.Reader
	if contextArg == "-" {
		body, err = stdinContext(&opts, f.file)
	} else {
		body, err = dirContext(&opts, contextArg, f.file)
	}
	if err != nil {
		return exitCode(1, err.Error())
	}
	c := clientFor()
	stream, err := c.Build(ctx, body, opts)
	if err != nil {
		return exitCode(1, err.Error())
	}
	defer stream.Close()
	out := io.Writer(os.Stdout)
	if f.quiet {
		out = io.Discard
	}
	id, err := renderBuild(out, stream)
	if err != nil {
		return exitCode(1, err.Error())
	}
	if f.quiet {
		fmt.Println(id)
	}
	if dest != "" {
		if err := saveTo(cmd, c, id, dest); err != nil {
			return exitCode(1, err.Error())
		}
	}
	if f.push {
		for _, t := range f.tags {
			cred, err := credentials(registryOf(t))
			if err != nil {
				return exitCode(1, err.Error())
			}
			body, err := c.ImagePush(ctx, t, cred)
			if err != nil {
				return exitCode(1, fmt.Sprintf("push %s: %v", t, err))
			}
			err = progress.Render(out, body, isTerminal(os.Stdout) && !f.quiet)
			body.Close()
			if err != nil {
				return exitCode(1, fmt.Sprintf("push %s: %v", t, err))
			}
		}
	}
	return nil
}

// dirContext streams a context directory (through a pipe, as it is read) and reads the
// Dockerfile to send beside it.
func dirContext(opts *client.BuildOptions, dir, file string) (io.Reader, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory (use - to read a Dockerfile or tarball from stdin)", dir)
	}
	if file == "" {
		file = filepath.Join(dir, "Dockerfile")
	}
	data, err := readDockerfile(file)
	if err != nil {
		return nil, err
	}
	opts.Dockerfile, opts.DockerfileContent = filepath.Base(file), data
	if len(data) > 512<<10 {
		// Too large for the request header: the daemon reads it from the context.
		if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
			opts.Dockerfile, opts.DockerfileContent = filepath.ToSlash(rel), nil
		}
	}
	excludes, err := buildcontext.Excludes(dir, file)
	if err != nil {
		return nil, err
	}
	if opts.ContextSize, err = buildcontext.Size(dir, excludes); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(buildcontext.Tar(pw, dir, excludes)) }()
	return pr, nil
}

func readDockerfile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no Dockerfile at %s: name it with -f", file)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20+1))
	if err != nil {
		return nil, err
	}
	if len(data) > 4<<20 {
		return nil, fmt.Errorf("%s is larger than 4 MiB", file)
	}
	return data, nil
}

// stdinContext reads "-": a tar archive (maybe gzip) is the context, anything else is the
// Dockerfile alone.
func stdinContext(opts *client.BuildOptions, file string) (io.Reader, error) {
	br := bufio.NewReaderSize(os.Stdin, 64<<10)
	head, _ := br.Peek(512)
	var r io.Reader = br
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		inner := bufio.NewReaderSize(zr, 64<<10)
		head, _ = inner.Peek(512)
		r = inner
	}
	if buildcontext.IsArchive(head) {
		if file != "" {
			opts.Dockerfile = file
		}
		return r, nil
	}
	data, err := io.ReadAll(io.LimitReader(r, 4<<20+1))
	if err != nil {
		return nil, err
	}
	if len(data) > 4<<20 {
		return nil, fmt.Errorf("the Dockerfile on stdin is larger than 4 MiB")
	}
	opts.NoContext, opts.Dockerfile, opts.DockerfileContent = true, "Dockerfile", data
	return nil, nil
}

// renderBuild prints the progress stream and returns the image ID.
func renderBuild(out io.Writer, stream io.Reader) (string, error) {
	dec := json.NewDecoder(stream)
	for {
		var m api.BuildMessage
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return "", errors.New("the daemon ended the build without a result")
			}
			return "", fmt.Errorf("read build progress: %w", err)
		}
		if m.Stream != "" {
			io.WriteString(out, m.Stream)
		}
		if m.Error != "" {
			return "", errors.New(m.Error)
		}
		if m.ID != "" {
			return m.ID, nil
		}
	}
}

// saveTo writes the image as an OCI layout (and docker-save) archive, atomically.
func saveTo(cmd *cobra.Command, c *client.Client, id, dest string) error {
	rc, err := c.ImageSave(cmd.Context(), []string{id})
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".build-output-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

func builderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage the build cache"}
	cmd.AddCommand(&cobra.Command{
		Use:   "prune",
		Short: "Forget the build cache and free the layers only it kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := clientFor().BuildCachePrune(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Printf("Deleted build cache steps: %d\nTotal reclaimed space: %d bytes\n", r.StepsDeleted, r.SpaceReclaimed)
			return nil
		},
	})
	return cmd
}
