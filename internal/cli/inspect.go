package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/errdefs"
)

func inspectCommand() *cobra.Command {
	var format, typ string
	cmd := &cobra.Command{
		Use:               "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short:             "Return low-level information on containers or images",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c := clientFor()
			var tmpl *template.Template
			if format != "" {
				t, err := template.New("inspect").Funcs(templateFuncs).Parse(format)
				if err != nil {
					return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
				}
				tmpl = t
			}
			var out []any
			failed := false
			for _, name := range args {
				var v any
				var err error
				if typ != "image" {
					v, err = c.ContainerInspect(ctx, name)
				}
				if typ == "image" || (typ == "" && errors.Is(err, errdefs.ErrNotFound)) {
					v, err = c.ImageInspect(ctx, name)
					if err != nil && typ == "" {
						err = fmt.Errorf("no such object: %s", name)
					}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "drover: "+err.Error())
					failed = true
					continue
				}
				out = append(out, v)
			}
			if tmpl != nil {
				for _, v := range out {
					// Templates see the JSON field names, as Docker's do.
					var generic any
					data, _ := json.Marshal(v)
					_ = json.Unmarshal(data, &generic)
					if err := tmpl.Execute(os.Stdout, generic); err != nil {
						return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
					}
					fmt.Println()
				}
			} else {
				if out == nil {
					out = []any{}
				}
				data, _ := json.MarshalIndent(out, "", "    ")
				fmt.Println(string(data))
			}
			if failed {
				return exitCode(1, "")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template")
	cmd.Flags().StringVar(&typ, "type", "", "only inspect objects of this type: container or image")
	return cmd
}
