package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drover/drover/api"
)

func importCommand() *cobra.Command {
	var changes []string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return exitCode(1, fmt.Sprintf("open %s: %v", args[0], err))
				}
				defer f.Close()
				r = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			img, err := clientFor().ImageImport(cmd.Context(), r, ref, changes)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Println(img.ID)
			return nil
		},
	}
	stringsVar(cmd.Flags(), &changes, "change", "c", "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL)")
	return cmd
}

func diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "diff CONTAINER",
		Short:             "Inspect changes to files or directories on a container's filesystem",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := clientFor().ContainerChanges(cmd.Context(), args[0])
			if err != nil {
				return exitCode(1, err.Error())
			}
			for _, c := range changes {
				fmt.Printf("%c %s\n", "CAD"[c.Kind%3], c.Path)
			}
			return nil
		},
	}
}

func commitCommand() *cobra.Command {
	var req api.CommitRequest
	pause := true
	cmd := &cobra.Command{
		Use:               "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short:             "Create a new image from a container's changes",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				req.Ref = args[1]
			}
			req.NoPause = !pause
			img, err := clientFor().ContainerCommit(cmd.Context(), args[0], req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Println(img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&req.Author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&req.Comment, "message", "m", "", "commit message")
	f.BoolVarP(&pause, "pause", "p", true, "pause the container during commit")
	stringsVar(f, &req.Changes, "change", "c", "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL)")
	return cmd
}

func loadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive (docker save or OCI layout) or stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = os.Stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return exitCode(1, fmt.Sprintf("open %s: %v", input, err))
				}
				defer f.Close()
				r = f
			} else if term.IsTerminal(int(os.Stdin.Fd())) {
				return exitCode(1, "requested load from stdin, but stdin is empty: use -i FILE or pipe an archive")
			}
			imgs, err := clientFor().ImageLoad(cmd.Context(), r)
			if err != nil {
				return exitCode(1, err.Error())
			}
			if !quiet {
				for _, img := range imgs {
					if len(img.RepoTags) == 0 {
						fmt.Println("Loaded image ID: " + img.ID)
					}
					for _, t := range img.RepoTags {
						fmt.Println("Loaded image: " + t)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func saveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:               "save [OPTIONS] IMAGE [IMAGE...]",
		Short:             "Save images to a tar archive (docker save and OCI layout in one)",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			var w io.Writer = os.Stdout
			if output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return exitCode(1, "refusing to write an archive to a terminal: use -o FILE or redirect stdout")
			}
			body, err := clientFor().ImageSave(cmd.Context(), args)
			if err != nil {
				return exitCode(1, err.Error())
			}
			defer body.Close()
			if output != "" {
				tmp := output + ".tmp"
				f, err := os.Create(tmp)
				if err != nil {
					return exitCode(1, err.Error())
				}
				if _, err := io.Copy(f, body); err != nil {
					f.Close()
					os.Remove(tmp)
					return exitCode(1, err.Error())
				}
				if err := f.Close(); err != nil {
					os.Remove(tmp)
					return exitCode(1, err.Error())
				}
				return os.Rename(tmp, output)
			}
			_, err = io.Copy(w, body)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	return cmd
}

type imageRow struct {
	Repository, Tag, ID, Digest, CreatedSince, CreatedAt, Size string
}

const imagesTable = `{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`

var imagesHeader = []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}

func imageRows(imgs []api.Image, noTrunc bool) []any {
	var rows []any
	for _, img := range imgs {
		id := img.ID
		if !noTrunc {
			id = shortID(id)
		}
		base := imageRow{ID: id, CreatedSince: ago(img.Created), CreatedAt: img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			Size: units.HumanSizeWithPrecision(float64(img.Size), 3), Digest: "<none>"}
		digestOf := func(repo string) string {
			for _, d := range img.RepoDigests {
				if i := strings.LastIndex(d, "@"); i >= 0 && (repo == "" || d[:i] == repo) {
					return d[i+1:]
				}
			}
			return "<none>"
		}
		if len(img.RepoTags) == 0 {
			r := base
			r.Repository, r.Tag, r.Digest = "<none>", "<none>", digestOf("")
			if r.Digest != "<none>" {
				r.Repository = img.RepoDigests[0][:strings.LastIndex(img.RepoDigests[0], "@")]
			}
			rows = append(rows, r)
		}
		for _, t := range img.RepoTags {
			r := base
			i := strings.LastIndex(t, ":")
			r.Repository, r.Tag = t[:i], t[i+1:]
			r.Digest = digestOf(r.Repository)
			rows = append(rows, r)
		}
	}
	return rows
}

func imagesCommand() *cobra.Command {
	var quiet, noTrunc, digests bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Long: `List images. Filters (--filter, repeatable): dangling=true|false, reference=PATTERN
(repository[:tag] glob, e.g. 'busy*' or 'localhost:5000/*:v1'), label=KEY[=VALUE],
before=IMAGE, since=IMAGE.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			imgs, err := clientFor().ImageList(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			if imgs, err = filterImages(imgs, filters); err != nil {
				return exitCode(1, err.Error())
			}
			if quiet {
				for _, img := range imgs {
					if noTrunc {
						fmt.Println(img.ID)
					} else {
						fmt.Println(shortID(img.ID))
					}
				}
				return nil
			}
			header, tmpl := imagesHeader, imagesTable
			if digests {
				header = []string{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"}
				tmpl = `{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`
			}
			return render(os.Stdout, format, header, tmpl, imageRows(imgs, noTrunc))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVar(&digests, "digests", false, "show digests")
	stringsVar(f, &filters, "filter", "f", "filter output (dangling, reference, label, before, since)")
	f.StringVar(&format, "format", "", "table, json, or a Go template")
	return cmd
}

func rmiCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short:             "Remove one or more images",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				items, err := clientFor().ImageRemove(cmd.Context(), name, force)
				if err != nil {
					return err
				}
				for _, it := range items {
					if it.Untagged != "" {
						fmt.Println("Untagged: " + it.Untagged)
					}
					if it.Deleted != "" {
						fmt.Println("Deleted: " + it.Deleted)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	return cmd
}

func tagCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short:             "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := clientFor().ImageTag(cmd.Context(), args[0], args[1]); err != nil {
				return exitCode(1, err.Error())
			}
			return nil
		},
	}
}

func imageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	ls := imagesCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list"}
	rm := rmiCommand()
	rm.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	inspect := inspectCommand()
	_ = inspect.Flags().Set("type", "image")
	cmd.AddCommand(ls, rm, inspect, importCommand(), loadCommand(), saveCommand(), tagCommand(),
		pullCommand(), pushCommand(), imagePruneCommand(), historyCommand())
	return cmd
}

func infoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := clientFor().Info(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Printf("Server Version: %s\nContainers: %d\n Running: %d\nImages: %d\nDefault Runtime: %s\nCgroup Version: %s\nCgroup Parent: %s\nDrover Root Dir: %s\nExec Root: %s\n",
				info.Version, info.Containers, info.Running, info.Images, info.DefaultRuntime, info.CgroupVersion, info.CgroupParent, info.Root, info.ExecRoot)
			return nil
		},
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the drover version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Printf("Client:\n Version: %s\n", Version)
			info, err := clientFor().Info(cmd.Context())
			if err != nil {
				fmt.Printf("\nServer: not reachable (%v)\n", err)
				return nil
			}
			fmt.Printf("\nServer:\n Version: %s\n", info.Version)
			return nil
		},
	}
}
