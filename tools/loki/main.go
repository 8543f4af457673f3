// Command loki builds (once) and caches the Grafana Loki binary that the integration
// tests run (internal/lokitest), and prints its path: `go run ./tools/loki`. CI runs it
// before the tests: the build takes about ten minutes, more than a test may wait.
// $LOGFERRY_LOKI, the path of an existing binary, skips the build.
package main

import (
	"fmt"
	"os"

	"github.com/logferry/logferry/internal/lokitest"
)

func main() {
	path, err := lokitest.BinaryPath(func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loki:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
