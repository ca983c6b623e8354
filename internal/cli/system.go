package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
)

func systemCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage drover"}
	cmd.AddCommand(dfCommand(), checkCommand(), infoCommand(), systemPruneCommand())
	return cmd
}

// systemPruneCommand is docker system prune: stopped containers, unused networks,
// dangling images (every unused one with -a), the build cache and, with --volumes,
// unused anonymous volumes.
func systemPruneCommand() *cobra.Command {
	var all, force, volumes bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := api.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if !force {
				what := "  - all stopped containers\n  - all networks not used by at least one container\n"
				if volumes {
					what += "  - all anonymous volumes not used by at least one container\n"
				}
				if all {
					what += "  - all images without at least one container associated to them\n"
				} else {
					what += "  - all dangling images\n"
				}
				what += "  - all build cache\n"
				if !confirm("WARNING! This will remove:\n" + what + "\nAre you sure you want to continue? [y/N] ") {
					return nil
				}
			}
			ctx, c := cmd.Context(), clientFor()
			var freed int64
			ctrs, err := c.ContainersPrune(ctx, f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Containers:", ctrs.Deleted)
			freed += ctrs.SpaceReclaimed
			nets, err := c.NetworkPrune(ctx, f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Networks:", nets.Deleted)
			if volumes {
				vols, err := c.VolumePrune(ctx, false)
				if err != nil {
					return exitCode(1, err.Error())
				}
				printList("Deleted Volumes:", vols.Deleted)
				freed += vols.SpaceReclaimed
			}
			imgs, err := c.ImagePrune(ctx, all, f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Images:", imageDeleteLines(imgs.ImagesDeleted))
			freed += imgs.SpaceReclaimed
			cache, err := c.BuildCachePrune(ctx)
			if err != nil {
				return exitCode(1, err.Error())
			}
			freed += cache.SpaceReclaimed
			fmt.Printf("Total reclaimed space: %s\n", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	stringsVar(cmd.Flags(), &filters, "filter", "", pruneFilterUsage)
	return cmd
}

// imageDeleteLines are the lines docker prints for removed images.
func imageDeleteLines(items []api.ImageDeleteItem) []string {
	var out []string
	for _, it := range items {
		if it.Untagged != "" {
			out = append(out, "untagged: "+it.Untagged)
		}
		if it.Deleted != "" {
			out = append(out, "deleted: "+it.Deleted)
		}
	}
	return out
}

// printList prints a titled list and a blank line, or nothing when it is empty.
func printList(title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Println(title)
	for _, it := range items {
		fmt.Println(it)
	}
	fmt.Println()
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func dfCommand() *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show drover disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := clientFor().DiskUsage(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if format == "json" {
				return json.NewEncoder(os.Stdout).Encode(u)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			defer tw.Flush()
			if verbose {
				printDfVerbose(tw, u)
				return nil
			}
			activeImages, reclaimImages := 0, int64(0)
			for _, img := range u.Images {
				if img.Containers > 0 {
					activeImages++
				} else {
					reclaimImages += img.UniqueSize
				}
			}
			var ctrSize, ctrReclaim int64
			activeCtrs := 0
			for _, c := range u.Containers {
				ctrSize += c.SizeRw
				if c.State == api.StatusRunning || c.State == api.StatusPaused {
					activeCtrs++
				} else {
					ctrReclaim += c.SizeRw
				}
			}
			var volSize, volReclaim int64
			activeVols := 0
			for _, v := range u.Volumes {
				volSize += v.Size
				if v.RefCount > 0 {
					activeVols++
				} else {
					volReclaim += v.Size
				}
			}
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\n", len(u.Images), activeImages, humanSize(u.LayersSize), reclaimable(reclaimImages, u.LayersSize))
			fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", len(u.Containers), activeCtrs, humanSize(ctrSize), reclaimable(ctrReclaim, ctrSize))
			fmt.Fprintf(tw, "Local Volumes\t%d\t%d\t%s\t%s\n", len(u.Volumes), activeVols, humanSize(volSize), reclaimable(volReclaim, volSize))
			fmt.Fprintf(tw, "Build Cache\t0\t0\t0B\t0B\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "json for a machine-readable report")
	return cmd
}

func reclaimable(n, total int64) string {
	if total == 0 {
		return humanSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(n), n*100/total)
}

func printDfVerbose(tw *tabwriter.Writer, u api.DiskUsage) {
	fmt.Fprintln(tw, "Images space usage:\n\nREPOSITORY\tTAG\tIMAGE ID\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, img := range u.Images {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 {
			i := strings.LastIndex(img.RepoTags[0], ":")
			repo, tag = img.RepoTags[0][:i], img.RepoTags[0][i+1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, shortID(img.ID), humanSize(img.Size), humanSize(img.SharedSize), humanSize(img.UniqueSize), img.Containers)
	}
	fmt.Fprintln(tw, "\nContainers space usage:\n\nCONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES")
	for _, c := range u.Containers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shortID(c.ID), c.Image, humanSize(c.SizeRw), c.State, c.Name)
	}
	fmt.Fprintln(tw, "\nLocal Volumes space usage:\n\nVOLUME NAME\tLINKS\tSIZE")
	for _, v := range u.Volumes {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", v.Name, v.RefCount, humanSize(v.Size))
	}
}

func checkCommand() *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Verify every image blob and layer snapshot; --repair fixes what it can",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			problems, err := clientFor().SystemCheck(cmd.Context(), repair)
			if err != nil {
				return exitCode(1, err.Error())
			}
			unfixed := 0
			for _, p := range problems {
				state := ""
				if p.Repaired {
					state = " (repaired)"
				} else {
					unfixed++
				}
				fmt.Printf("%s: %s%s\n", p.Object, p.Message, state)
			}
			if unfixed > 0 {
				hint := ""
				if !repair {
					hint = ": run drover system check --repair"
				}
				return exitCode(1, fmt.Sprintf("%d problem(s) found%s", unfixed, hint))
			}
			fmt.Println("No problems found")
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "delete corrupt data, unpack missing layers again, forget images that cannot be repaired")
	return cmd
}

func imagePruneCommand() *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images (dangling ones only, unless -a)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = force // no prompt: drover never asks, as with --force
			f, err := api.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return exitCode(1, err.Error())
			}
			rep, err := clientFor().ImagePrune(cmd.Context(), all, f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Images:", imageDeleteLines(rep.ImagesDeleted))
			fmt.Printf("Total reclaimed space: %s\n", humanSize(rep.SpaceReclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	stringsVar(cmd.Flags(), &filters, "filter", "", pruneFilterUsage)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

func historyCommand() *cobra.Command {
	var noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:               "history [OPTIONS] IMAGE",
		Short:             "Show the history of an image",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := clientFor().ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return exitCode(1, err.Error())
			}
			if quiet {
				for _, h := range items {
					fmt.Println(h.ID)
				}
				return nil
			}
			type row struct{ ID, CreatedSince, CreatedBy, Size, Comment string }
			var rows []any
			for _, h := range items {
				r := row{ID: h.ID, CreatedBy: h.CreatedBy, Size: humanSize(h.Size), Comment: h.Comment}
				if !noTrunc {
					if h.ID != "<missing>" {
						r.ID = shortID(h.ID)
					}
					r.CreatedBy = truncate(r.CreatedBy, 45)
				}
				if t, err := parseTime(h.Created); err == nil {
					r.CreatedSince = ago(t)
				}
				rows = append(rows, r)
			}
			return render(os.Stdout, format, []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"},
				`{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`, rows)
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().StringVar(&format, "format", "", "table, json, or a Go template")
	return cmd
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }
