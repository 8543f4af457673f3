// Command test runs logferry's whole test suite: `go run ./tools/test` (the README's
// test command; `make test` and CI call it too). It turns the race detector on when the
// machine can build it (cgo and a C compiler) and says so when it cannot, so the same
// command works on a machine with only Go installed. Extra arguments are passed to
// `go test` (for example -run or -short).
//
// The end-to-end tests (internal/e2e) run after the others, on their own: they run the
// agent binary against a simulated node at thousands of lines per second with
// kubelet-speed rotation, and sharing the CPUs with every other package's tests would
// measure the test machine's overload (an agent starved for seconds can see a log file
// created and deleted before it is listed) rather than the agent.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const e2e = "github.com/logferry/logferry/internal/e2e"

func main() {
	args := []string{"test", "-count=1", "-timeout", "30m"}
	if raceSupported() {
		args = append(args, "-race")
	} else {
		fmt.Fprintln(os.Stderr, "test: cgo is off or there is no C compiler, so the race detector is off (apt-get install gcc to turn it on)")
	}
	args = append(args, os.Args[1:]...)
	pkgs, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test: go list:", err)
		os.Exit(1)
	}
	var rest []string
	for _, p := range strings.Fields(string(pkgs)) {
		if p != e2e {
			rest = append(rest, p)
		}
	}
	code := run(append(append([]string(nil), args...), rest...))
	if c := run(append(append([]string(nil), args...), e2e)); code == 0 {
		code = c
	}
	os.Exit(code)
}

// run runs go with args and returns its exit code.
func run(args []string) int {
	fmt.Fprintln(os.Stderr, "go", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "test:", err)
		return 1
	}
	return 0
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
