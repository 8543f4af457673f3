// Package testenv decides what a test does when something it needs from the machine
// (a program, a server) is missing. Only tests import it.
//
// By hand, such a test is skipped with a message saying how to install what is
// missing. In CI (CI=true) it fails instead: there a missing tool is a broken CI setup,
// and a skipped test must never be reported as passing.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// SkipOrFail skips t with the message, or fails it under CI=true.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s\n(CI=true, so this test must run: .ci/run installs what it needs)", msg)
	}
	t.Skip(msg)
}

// NeedTool returns the path of the program name, or skips (fails under CI) with
// installHint when it is not on PATH.
func NeedTool(t testing.TB, name, installHint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "%s is not on PATH: %s", name, installHint)
	}
	return path
}
