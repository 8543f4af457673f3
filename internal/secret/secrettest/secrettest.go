// Package secrettest writes the files tests read secrets (passwords, tokens, keys,
// certificates) from. Only _test.go files import it.
package secrettest

import (
	"os"
	"path/filepath"
	"testing"
)

// Files returns a function that writes content to the file name (mode 0600) in a
// temporary directory of t, replacing it if it is there, and returns its path. It
// fails the test when the file cannot be written.
func Files(t testing.TB) func(name, content string) string {
	dir := t.TempDir()
	return func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
