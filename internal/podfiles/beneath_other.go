//go:build !linux

package podfiles

import (
	"errors"
	"os"
)

// resolver needs openat-style system calls; on other systems every lookup is refused.
type resolver struct{}

func newResolver(Options) *resolver { return &resolver{} }

func (r *resolver) closeFD(int) {}

func (r *resolver) openVolume(location) (int, string, error) {
	return -1, "", &resolveError{kind: kindUnsupported}
}

func (r *resolver) resolve(int, string, bool) (int, string, error) {
	return -1, "", &resolveError{kind: kindUnsupported}
}

func (r *resolver) regularFile(int, string) (string, error) {
	return "", &resolveError{kind: kindUnsupported}
}

func (r *resolver) listDir(int, string) ([]string, error) {
	return nil, &resolveError{kind: kindUnsupported}
}

// Open opens a file that Resolve returned; see the Linux documentation. On this
// operating system it always fails.
func Open(f File, o Options) (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: f.HostPath, Err: errors.New("podfiles: not supported on this operating system")}
}
