package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// envCache names the cache directory for built test binaries.
const envCache = "LOGFERRY_TEST_CACHE"

// CacheDir is where built test binaries are kept: $LOGFERRY_TEST_CACHE, else
// $HOME/.cache/logferry-test.
func CacheDir() (string, error) {
	if d := os.Getenv(envCache); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set %s or HOME: %w", envCache, err)
	}
	return filepath.Join(home, ".cache", "logferry-test"), nil
}

// CachedBinary is the path where the binary name of a server at version is kept:
// CacheDir()/<name>-<version>/<name> ("" when there is no cache directory).
func CachedBinary(name, version string) string {
	dir, err := CacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, name+"-"+version, name)
}

// BuildGoModule builds the main package pkg of a module at version in a throwaway
// module (go install refuses modules with replace directives), whose go.mod gets
// goModExtra appended (the replace lines the built module needs), and moves the
// binary to out atomically, so that a concurrent test sees all of it or nothing.
func BuildGoModule(out, pkg, version, goModExtra string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "build-"+filepath.Base(out)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	run := func(args ...string) error {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
		if outp, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, outp)
		}
		return nil
	}
	if err := run("mod", "init", "local/build"); err != nil {
		return err
	}
	if goModExtra != "" {
		f, err := os.OpenFile(filepath.Join(dir, "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(goModExtra)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	bin := filepath.Join(dir, filepath.Base(out))
	if err := run("get", pkg+"@"+version); err != nil {
		return err
	}
	if err := run("build", "-o", bin, pkg); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// Poll calls cond every interval until it is true (true) or d has passed (false).
func Poll(d, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}
