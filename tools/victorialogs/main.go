// Command victorialogs builds (once) and caches the VictoriaLogs binary that the
// integration tests run (internal/vltest), and prints its path: `go run ./tools/victorialogs`.
// CI runs it before the tests so the first build (about a minute) is not charged to a
// test's timeout. $LOGFERRY_VICTORIALOGS, the path of an existing binary, skips the build.
package main

import (
	"fmt"
	"os"

	"github.com/logferry/logferry/internal/vltest"
)

func main() {
	path, err := vltest.BinaryPath(func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "victorialogs:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
