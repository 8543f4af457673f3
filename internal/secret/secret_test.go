package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/secret/secrettest"
)

// TestFile: a secret file is read again when it changes; a version that
// cannot be read, or is empty, keeps the last good value; without one it is an
// error.
func TestFile(t *testing.T) {
	write := secrettest.Files(t)
	path := write("token", "first\n")
	f := &File{Path: path}
	for _, step := range []struct {
		name   string
		change func()
		want   string // "" an error
	}{
		{"first read", func() {}, "first"},
		{"changed", func() { write("token", "  second-token\n") }, "second-token"},
		{"emptied", func() { write("token", "\n") }, "second-token"},
		{"back", func() { write("token", "third") }, "third"},
		{"removed", func() { os.Remove(path) }, "third"},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			f.mu.Lock()
			f.checked = time.Time{} // do not wait for Recheck; every version has a new size
			f.mu.Unlock()
			if v, err := f.Get(); v != step.want || err != nil {
				t.Fatalf("got %q, %v; want %q", v, err, step.want)
			}
		})
	}
	t.Run("cached", func(t *testing.T) {
		p := write("cached", "one")
		f := &File{Path: p}
		f.Get()
		write("cached", "two")
		if v, _ := f.Get(); v != "one" {
			t.Fatalf("looked at again within Recheck: %q", v)
		}
	})
	for name, p := range map[string]string{"missing": filepath.Join(t.TempDir(), "nope"), "empty": write("empty", " \n")} {
		t.Run(name, func(t *testing.T) {
			if v, err := (&File{Path: p}).Get(); err == nil || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %q, %v", v, err)
			}
		})
	}
}

func TestValue(t *testing.T) {
	get, err := Value("inline", "")
	if v, _ := get(); err != nil || v != "inline" {
		t.Fatalf("inline: %q %v", v, err)
	}
	if _, err := Value("", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file is no error")
	}
	p := secrettest.Files(t)("pw", "s3cret\n")
	get, err = Value("ignored", p)
	if v, _ := get(); err != nil || v != "s3cret" {
		t.Fatalf("file: %q %v", v, err)
	}
}
