package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls onChange whenever the content of the file at path changes, until ctx is
// done. It watches the file's directory rather than the file, so it sees the ways a
// file gets replaced: an editor's rename over it, and a Kubernetes ConfigMap update,
// which swaps the directory's "..data" symlink so the path resolves into a new
// directory while the file itself is never written. Events are debounced by settle and
// the content is compared by hash, so touching or re-saving an identical file does
// nothing. A missing or unreadable file is not a change (the next good content is).
// It returns an error only if the directory cannot be watched.
func Watch(ctx context.Context, path string, settle time.Duration, onChange func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return err
	}
	last := hashFile(path)
	var timer <-chan time.Time
	poll := time.NewTicker(30 * time.Second) // in case an event is missed
	defer poll.Stop()
	check := func() {
		h := hashFile(path)
		if h == nil || bytes.Equal(h, last) {
			return
		}
		last = h
		onChange()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			timer = time.After(settle)
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			timer = time.After(settle)
		case <-timer:
			timer = nil
			check()
		case <-poll.C:
			check()
		}
	}
}

func hashFile(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
