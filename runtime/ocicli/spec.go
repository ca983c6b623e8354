package ocicli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/errdefs"
)

// specCommand writes a default config.json, refusing to overwrite one.
func specCommand(example func(rootless bool) *specs.Spec) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{Use: "spec", Short: "Write a default config.json into the bundle directory", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists: remove it first: %w", path, errdefs.ErrAlreadyExists)
			}
			data, err := json.MarshalIndent(example(rootless), "", "\t")
			if err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			if _, err := f.Write(append(data, '\n')); err != nil {
				f.Close()
				os.Remove(path)
				return fmt.Errorf("write %s: %w", path, err)
			}
			return f.Close()
		}}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory to write config.json into")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a spec for a container run by a user other than root")
	return cmd
}

func featuresCommand(get func() *features.Features) *cobra.Command {
	return &cobra.Command{Use: "features", Short: "Print what this runtime implements (runtime spec features JSON)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return printJSON(get()) }}
}
