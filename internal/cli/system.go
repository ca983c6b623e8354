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
	cmd.AddCommand(dfCommand(), checkCommand(), infoCommand())
	return cmd
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
			if len(rep.ImagesDeleted) > 0 {
				fmt.Println("Deleted Images:")
				for _, it := range rep.ImagesDeleted {
					if it.Untagged != "" {
						fmt.Println("untagged: " + it.Untagged)
					}
					if it.Deleted != "" {
						fmt.Println("deleted: " + it.Deleted)
					}
				}
				fmt.Println()
			}
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
