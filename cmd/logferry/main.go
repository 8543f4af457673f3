// Command logferry is the node log agent and its companion tools.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() { os.Exit(run()) }

func run() int {
	root := &cobra.Command{
		Use:           "logferry",
		Short:         "Get every pod's logs off every node, whole and on time",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAgentCmd(), newGenCmd())
	root.AddCommand(newStatusCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "logferry:", err)
		return exitCode(err)
	}
	return 0
}

// exitError carries a specific process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}
