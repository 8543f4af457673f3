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
	written map[string]int
}

func newRecorder() *recorder { return &recorder{changed: map[string]bool{}, written: map[string]int{}} }

func (r *recorder) Sync([]Group) {}
func (r *recorder) Changed(g Group) {
	r.mu.Lock()
	r.changed[g.Dir] = true
	r.mu.Unlock()
}
func (r *recorder) Written(key string) {
	r.mu.Lock()
	r.written[key]++
	r.mu.Unlock()
}
func (r *recorder) seen(dir string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed[dir]
}
func (r *recorder) writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.written {
		n += c
	}
	return n
}

// waitFor polls cond every 5 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run starts a watcher of pods root for rec, with the full rescan an hour away; edit,
// if not nil, changes it before it runs. It stops when the test ends.
func run(t *testing.T, root string, rec *recorder, edit func(*Watcher)) {
	t.Helper()
	w, err := New(Options{PodsDir: root, RescanInterval: time.Hour}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestEventDriven: with the full rescan an hour away, a new pod's container
// directory is found and its file's writes are reported from inotify's events alone,
// whichever way the root is spelled.
func TestEventDriven(t *testing.T) {
	for _, suffix := range []string{"", "/", "/."} {
		t.Run("root"+suffix, func(t *testing.T) {
			root := t.TempDir()
			rec := newRecorder()
			run(t, root+suffix, rec, nil)
			time.Sleep(50 * time.Millisecond) // the first full scan has watched the root
			container := filepath.Join(root, "prod_web-0_uid-1", "app")
			if err := os.MkdirAll(container, 0o755); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "new container directory found", func() bool { return rec.seen(container) })
			f, err := os.Create(filepath.Join(container, "0.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for range 100 {
				if _, err := f.WriteString("2026-11-22T10:00:00Z stdout F line\n"); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "writes reported", func() bool { return rec.writes() > 0 })
		})
	}
}

// TestContainerDirCreatedWhileListing: a container directory created between the
// moment its pod directory is watched and the moment it is listed is found at once,
// not at the next full rescan (which is set far away here).
func TestContainerDirCreatedWhileListing(t *testing.T) {
	root := t.TempDir()
	rec := newRecorder()
	pod := "prod_web-0_uid-1"
	container := filepath.Join(root, pod, "app")
	run(t, root, rec, func(w *Watcher) {
		w.afterWatch = func(dir string) {
			if filepath.Base(dir) == pod && !rec.seen(container) {
				if err := os.Mkdir(container, 0o755); err != nil && !os.IsExist(err) {
					t.Error(err)
				}
			}
		}
	})
	time.Sleep(100 * time.Millisecond) // the first full scan has watched the root
	if err := os.Mkdir(filepath.Join(root, pod), 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "container directory created while its pod directory was being scanned found", func() bool { return rec.seen(container) })
}
