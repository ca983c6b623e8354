// Package cli is drover's Docker-compatible command line. It talks to the daemon only
// through the client package.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
)

// Version of the CLI.
var Version = "0.1.0-dev"

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode returns err as an exit status (silent when msg is empty).
func exitCode(code int, msg string) error { return &exitError{code: code, msg: msg} }

var host string

// clientFor returns the API client for the chosen daemon socket.
func clientFor() *client.Client {
	if host != "" {
		return client.New(strings.TrimPrefix(host, "unix://"))
	}
	return client.FromEnv()
}

// NewRoot builds the drover command tree (the daemon and shim commands are added by main).
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "drover",
		Short:         "A container platform in one binary",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&host, "host", "H", "", "daemon socket (default $DROVER_HOST or "+api.DefaultSocket+")")
	root.AddCommand(
		runCommand(), createCommand(), startCommand(), stopCommand(), killCommand(), restartCommand(),
		rmCommand(), psCommand(), logsCommand(), execCommand(), inspectCommand(), waitCommand(),
		topCommand(), statsCommand(), renameCommand(), pauseCommand(), unpauseCommand(), cpCommand(),
		attachCommand(), commitCommand(), diffCommand(), containerCommand(),
		importCommand(), loadCommand(), saveCommand(), imagesCommand(), rmiCommand(), tagCommand(), imageCommand(),
		pullCommand(), pushCommand(), loginCommand(), logoutCommand(), systemCommand(), historyCommand(),
		networkCommand(), portCommand(), podCommand(), volumeCommand(), buildCommand(), builderCommand(),
		infoCommand(), versionCommand(), keyCommand(), signCommand(), verifyCommand(),
		clusterCommand(), nodeCommand(),
	)
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(root *cobra.Command) int {
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "drover: "+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "drover: "+err.Error())
	if strings.Contains(err.Error(), "unknown flag") || strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "accepts") || strings.Contains(err.Error(), "requires") {
		fmt.Fprintf(os.Stderr, "See '%s --help'.\n", root.CommandPath())
	}
	return 125
}

// completeContainers completes container names for shell completion.
func completeContainers(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	list, err := clientFor().ContainerList(cmd.Context(), client.ListOptions{All: true})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeImages completes image names.
func completeImages(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	imgs, err := clientFor().ImageList(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, img := range imgs {
		out = append(out, img.RepoTags...)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// forEach applies fn to every named container, reporting each failure, as Docker does.
func forEach(names []string, fn func(name string) error) error {
	failed := false
	for _, n := range names {
		if err := fn(n); err != nil {
			fmt.Fprintln(os.Stderr, "drover: "+err.Error())
			failed = true
			continue
		}
	}
	if failed {
		return exitCode(1, "")
	}
	return nil
}
