// Package secret reads credentials that live in files (a mounted Kubernetes
// Secret, a projected service-account token), following their rotation.
package secret

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// File is a credential kept in a file (a mounted Secret, a projected
// token), trailing white space removed: it is read again when the file's
// modification time or size changes, looked at no more than once per Recheck. If
// a new version cannot be read (or is empty), the last good value is kept.
type File struct {
	Path string

	mu      sync.Mutex
	mod     time.Time
	size    int64
	value   string
	checked time.Time
}

// Recheck is how often a File is looked at.
const Recheck = time.Second

// Get returns the secret.
func (f *File) Get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.value != "" && now.Sub(f.checked) < Recheck {
		return f.value, nil
	}
	f.checked = now
	fi, err := os.Stat(f.Path)
	if err != nil {
		return f.keep(err)
	}
	if f.value != "" && fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return f.value, nil
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return f.keep(err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return f.keep(fmt.Errorf("%s is empty", f.Path))
	}
	f.value, f.mod, f.size = v, fi.ModTime(), fi.Size()
	return v, nil
}

// keep returns the last good value, or err when there is none.
func (f *File) keep(err error) (string, error) {
	if f.value != "" {
		return f.value, nil
	}
	return "", err
}

// Value returns a getter of a secret given either as value or, when file is set,
// kept in file: read now (an error if it cannot be) and again when it changes.
func Value(value, file string) (func() (string, error), error) {
	if file == "" {
		return func() (string, error) { return value, nil }, nil
	}
	f := &File{Path: file}
	if _, err := f.Get(); err != nil {
		return nil, err
	}
	return f.Get, nil
}
