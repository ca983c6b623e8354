package cli

import (
	"bytes"
	"context"
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
			return inspectEach(args, format, func(name string) (any, error) {
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
				return v, err
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template")
	cmd.Flags().StringVar(&typ, "type", "", "only inspect objects of this type: container or image")
	return cmd
}

// printInspect writes objects as inspect does: a JSON array, or tmpl per object (fed the
// JSON field names, as Docker's templates are).
func printInspect(out []any, tmpl *template.Template) error {
	if tmpl == nil {
		if out == nil {
			out = []any{}
		}
		data, _ := json.MarshalIndent(out, "", "    ")
		fmt.Println(string(data))
		return nil
	}
	for _, v := range out {
		data, _ := json.Marshal(v)
		generic := templateValue(data)
		if err := tmpl.Execute(os.Stdout, generic); err != nil {
			return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
		}
		fmt.Println()
	}
	return nil
}

// templateValue decodes JSON for a template with whole numbers as int64, so they print as
// 67108864 rather than 6.7108864e+07 and compare with `eq .State.ExitCode 0`.
func templateValue(data []byte) any {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	return numbers(v)
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// parseInspectFormat compiles a --format template ("" = JSON output).
func parseInspectFormat(format string) (*template.Template, error) {
	if format == "" {
		return nil, nil
	}
	t, err := template.New("inspect").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, exitCode(125, fmt.Sprintf("bad --format template: %v", err))
	}
	return t, nil
}

// objectInspectCommand is "inspect" of one kind of named object (network, volume, pod):
// noun is its placeholder in the usage line (NETWORK), what it is called in the help.
func objectInspectCommand(noun, what string, complete cobra.CompletionFunc, get func(ctx context.Context, name string) (any, error)) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "inspect [OPTIONS] " + noun + " [" + noun + "...]",
		Short:             "Show " + what + " in detail",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(args, format, func(name string) (any, error) {
				return get(cmd.Context(), name)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template")
	return cmd
}

// inspectEach fetches each named object and prints them; a missing one is reported and
// makes the exit code 1, as Docker's inspect commands do.
func inspectEach(names []string, format string, get func(name string) (any, error)) error {
	tmpl, err := parseInspectFormat(format)
	if err != nil {
		return err
	}
	var out []any
	failed := false
	for _, name := range names {
		v, err := get(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "drover: "+err.Error())
			failed = true
			continue
		}
		out = append(out, v)
	}
	if err := printInspect(out, tmpl); err != nil {
		return err
	}
	if failed {
		return exitCode(1, "")
	}
	return nil
}
