package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig runs `logferry agent --check-config` on good and bad files: exit 0 for
// a valid file, 2 with every problem named by file, line and key for an invalid one.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		yaml     string
		code     int
		contains []string
	}{
		{"valid", "data_dir: " + dir + "\nsinks:\n  - name: out\n    type: stdout\n", 0, []string{"configuration is valid"}},
		{"unknown key and bad size", "data_dir: " + dir + "\nsources:\n  pod_dir: /x\nsinks:\n  - name: out\n    type: file\n    path: /tmp/x\n    max_size: 10XB\n", 2,
			[]string{"bad.yaml:3: sources.pod_dir: unknown key (did you mean pods_dir?)", "bad.yaml:8: sinks[0].max_size: invalid size"}},
		{"unset variable", "data_dir: ${LOGFERRY_TEST_UNSET_VAR}\nsinks:\n  - name: out\n    type: stdout\n", 2,
			[]string{"bad.yaml:1: data_dir:", "LOGFERRY_TEST_UNSET_VAR"}},
		{"no sinks", "data_dir: " + dir + "\n", 2, []string{"sinks: at least one sink is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "bad.yaml"
			if tt.code == 0 {
				name = "good.yaml"
			}
			path := filepath.Join(t.TempDir(), name)
			writeFile(t, path, tt.yaml)
			out, err := exec.Command(binary, "agent", "--config", path, "--check-config").CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
