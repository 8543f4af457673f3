// Command test runs logferry's whole test suite: `go run ./tools/test` (the README's
// test command; `make test` and CI call it too). It turns the race detector on when the
// machine can build it (cgo and a C compiler) and says so when it cannot, so the same
// command works on a machine with only Go installed. Extra arguments are passed to
// `go test` (for example -run or -short).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	args := []string{"test", "-count=1", "-timeout", "30m"}
	if raceSupported() {
		args = append(args, "-race")
	} else {
		fmt.Fprintln(os.Stderr, "test: cgo is off or there is no C compiler, so the race detector is off (apt-get install gcc to turn it on)")
	}
	args = append(args, os.Args[1:]...)
	args = append(args, "./...")
	fmt.Fprintln(os.Stderr, "go", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "test:", err)
		os.Exit(1)
	}
}

func raceSupported() bool {
	out, err := exec.Command("go", "env", "CGO_ENABLED", "CC").Output()
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "1" {
		return false
	}
	_, err = exec.LookPath(f[1])
	return err == nil
}
