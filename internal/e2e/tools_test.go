package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of the external program name. When it is not on PATH the
// test is skipped with installHint (how to get it), except under CI (CI=true), where a
// missing tool is a broken CI setup, so the test fails instead of passing silently.
func needTool(t *testing.T, name, installHint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not on PATH and CI=true, so this test must run: %s (.ci/run installs it)", name, installHint)
	}
	t.Skipf("%s is not on PATH: %s", name, installHint)
	return ""
}
