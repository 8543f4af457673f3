package discover

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu      sync.Mutex
	changed map[string]bool
}

func (r *recorder) Sync([]Group) {}
func (r *recorder) Changed(g Group) {
	r.mu.Lock()
	r.changed[g.Dir] = true
	r.mu.Unlock()
}
func (r *recorder) Written(string) {}
func (r *recorder) seen(dir string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed[dir]
}

// TestContainerDirCreatedWhileListing: a container directory created between the
// moment its pod directory is watched and the moment it is listed is found at once,
// not at the next full rescan (which is set far away here).
func TestContainerDirCreatedWhileListing(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{changed: map[string]bool{}}
	w, err := New(Options{PodsDir: root, RescanInterval: time.Hour}, rec)
	if err != nil {
		t.Fatal(err)
	}
	pod := "prod_web-0_uid-1"
	container := filepath.Join(root, pod, "app")
	w.afterWatch = func(dir string) {
		if filepath.Base(dir) == pod && !rec.seen(container) {
			if err := os.Mkdir(container, 0o755); err != nil && !os.IsExist(err) {
				t.Error(err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the first full scan has watched the root
	if err := os.Mkdir(filepath.Join(root, pod), 0o755); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !rec.seen(container) {
		if time.Now().After(deadline) {
			t.Fatal("container directory created while its pod directory was being scanned not found within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
