package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Handler receives what the watcher finds. Calls come from one goroutine, in order.
type Handler interface {
	// Sync delivers the complete set of groups found by a full scan. Groups that are not
	// in the set no longer have a directory.
	Sync(groups []Group)
	// Changed says that files of g were created, renamed or removed (or g is new).
	Changed(g Group)
	// Written says that a file of the group with this key was written to.
	Written(key string)
}

// Options configures a Watcher.
type Options struct {
	PodsDir        string // kubelet pod log root; "" disables
	DockerDir      string // docker containers root; "" disables
	RescanInterval time.Duration
	Logger         *slog.Logger
	// OnError is called for every problem found while scanning (unreadable directory,
	// a root that is not a directory, a failed watch), with a short reason label.
	OnError func(reason string, err error)
}

// Watcher discovers groups with inotify (through fsnotify) and a periodic full rescan as
// a safety net: a missed event costs at most one rescan interval, never a file.
type Watcher struct {
	o  Options
	h  Handler
	fw *fsnotify.Watcher

	mu      sync.Mutex
	watched map[string]watchKind // directory -> what it is
	byDir   map[string][]Group   // directory -> groups whose files live there

	// The current window of write events (Run's goroutine only), see pauseIfHot.
	winStart  time.Time
	winWrites int

	// afterWatch, when set (tests), runs after a pod directory is watched and before
	// it is listed.
	afterWatch func(dir string)
}

// Write events come one per write(2) of a container runtime: tens of thousands a
// second on a busy node. Read as they come, each inotify read(2) returned an event or
// two, and reading them cost a third of the agent's CPU (measured: 100 pods writing
// 20 MB/s). When more than hotWrites arrive within writeWindow, Run stops taking
// events for writePause: the kernel queues them meanwhile (it holds 16,384 by
// default; a pause gathers a few hundred), and the next read(2) returns them all.
// Other events wait as long, a few milliseconds, far below discovery's target.
const (
	writeWindow = 5 * time.Millisecond
	hotWrites   = 100
	writePause  = 5 * time.Millisecond
)

type watchKind uint8

const (
	kindPodsRoot watchKind = iota + 1
	kindPodDir
	kindGroupDir
	kindDockerRoot
)

// New returns a watcher; Run starts it.
func New(o Options, h Handler) (*Watcher, error) {
	if o.RescanInterval <= 0 {
		o.RescanInterval = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnError == nil {
		o.OnError = func(string, error) {}
	}
	// Events name directories as they were watched: the roots as configured, with a
	// trailing slash or not, must name them the way the scan's paths do.
	if o.PodsDir != "" {
		o.PodsDir = filepath.Clean(o.PodsDir)
	}
	if o.DockerDir != "" {
		o.DockerDir = filepath.Clean(o.DockerDir)
	}
	fw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("discover: start inotify: %w", err)
	}
	return &Watcher{o: o, h: h, fw: fw, watched: map[string]watchKind{}, byDir: map[string][]Group{}}, nil
}

// Run scans, then follows events until ctx is done. It closes the inotify watcher on return.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.fw.Close()
	w.fullScan()
	t := time.NewTicker(w.o.RescanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.fullScan()
		case ev, ok := <-w.fw.Events:
			if !ok {
				return nil
			}
			w.event(ev)
			if ev.Op == fsnotify.Write {
				w.pauseIfHot(ctx)
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.o.Logger.Warn("inotify queue overflowed; rescanning everything")
				w.fullScan()
				continue
			}
			w.o.OnError("inotify", err)
		}
	}
}

// pauseIfHot counts a write event and pauses when they come faster than hotWrites a
// writeWindow (see writePause).
func (w *Watcher) pauseIfHot(ctx context.Context) {
	now := time.Now()
	if now.Sub(w.winStart) > writeWindow {
		w.winStart, w.winWrites = now, 0
	}
	w.winWrites++
	if w.winWrites < hotWrites {
		return
	}
	t := time.NewTimer(writePause)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	w.winStart, w.winWrites = time.Now(), 0
}

// Rescan performs a full scan now (used by tests and on demand).
func (w *Watcher) Rescan() { w.fullScan() }

func (w *Watcher) event(ev fsnotify.Event) {
	dir := filepath.Dir(ev.Name)
	w.mu.Lock()
	kind := w.watched[dir]
	groups := w.byDir[dir]
	w.mu.Unlock()
	if ev.Op == fsnotify.Write || ev.Op == fsnotify.Chmod {
		if kind == kindGroupDir || kind == kindPodDir {
			base := filepath.Base(ev.Name)
			for _, g := range groups {
				if _, ok := g.ParseName(base); ok {
					w.h.Written(g.Key)
				}
			}
		}
		return
	}
	switch kind {
	case kindPodsRoot:
		w.scanPodDir(filepath.Base(ev.Name))
	case kindDockerRoot:
		w.scanDockerDir(filepath.Base(ev.Name))
	case kindPodDir:
		// A container directory appeared or went, or (legacy layout) a file changed.
		w.scanPodDir(filepath.Base(dir))
	case kindGroupDir:
		for _, g := range groups {
			if g.Layout == Docker && g.Source.Pod == "" {
				w.scanDockerDir(filepath.Base(g.Dir)) // config.v2.json may be there now
				continue
			}
			w.h.Changed(g)
		}
	}
}

// fullScan walks both roots and delivers the complete set of groups.
func (w *Watcher) fullScan() {
	var all []Group
	if w.o.PodsDir != "" {
		if names, ok := w.readRoot(w.o.PodsDir, kindPodsRoot); ok {
			for _, n := range names {
				all = append(all, w.scanPodDir(n)...)
			}
		}
	}
	if w.o.DockerDir != "" {
		if names, ok := w.readRoot(w.o.DockerDir, kindDockerRoot); ok {
			for _, n := range names {
				all = append(all, w.scanDockerDir(n)...)
			}
		}
	}
	w.forgetMissing(all)
	w.h.Sync(all)
}

// readRoot lists the directories of a root and makes sure the root is watched.
func (w *Watcher) readRoot(root string, kind watchKind) ([]string, bool) {
	ents, err := os.ReadDir(root)
	if err != nil {
		reason := "root_unreadable"
		if fi, serr := os.Stat(root); serr == nil && !fi.IsDir() {
			reason = "root_not_dir"
			err = fmt.Errorf("%s is not a directory", root)
		}
		w.o.OnError(reason, err)
		w.unwatch(root)
		return nil, false
	}
	w.watch(root, kind)
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, true
}

// scanPodDir (re)reads one kubelet pod directory, watches it and its container
// directories, and reports each group as changed. It returns the groups found.
func (w *Watcher) scanPodDir(name string) []Group {
	podDir := w.o.PodsDir + "/" + name
	// Watched before it is listed: a container directory created in between is then
	// listed or announced by an event. Listed first, one created between the listing
	// and the watch waited for the next full rescan (up to rescan_interval).
	w.watch(podDir, kindPodDir)
	if w.afterWatch != nil {
		w.afterWatch(podDir)
	}
	ents, err := os.ReadDir(podDir)
	if err != nil {
		if !os.IsNotExist(err) {
			w.o.OnError("dir_unreadable", err)
		}
		w.unwatch(podDir)
		return nil
	}
	des := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		des = append(des, dirEntry{name: e.Name(), dir: e.IsDir()})
	}
	groups := podDirGroups(w.o.PodsDir, name, des)
	legacy := !strings.Contains(name, "_")
	if legacy {
		w.mu.Lock()
		w.byDir[podDir] = groups
		w.mu.Unlock()
	}
	for _, g := range groups {
		if !legacy {
			w.watch(g.Dir, kindGroupDir)
			w.mu.Lock()
			w.byDir[g.Dir] = []Group{g}
			w.mu.Unlock()
		}
		w.h.Changed(g)
	}
	return groups
}

func (w *Watcher) scanDockerDir(id string) []Group {
	dir := w.o.DockerDir + "/" + id
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		w.unwatch(dir)
		return nil
	}
	w.mu.Lock()
	known := w.byDir[dir]
	w.mu.Unlock()
	var g Group
	if len(known) == 1 && known[0].Source.Pod != "" {
		g = known[0] // metadata read once; config.v2.json may appear after the log
	} else {
		g = dockerGroup(w.o.DockerDir, id)
	}
	w.watch(g.Dir, kindGroupDir)
	w.mu.Lock()
	w.byDir[g.Dir] = []Group{g}
	w.mu.Unlock()
	w.h.Changed(g)
	return []Group{g}
}

func (w *Watcher) watch(dir string, kind watchKind) {
	w.mu.Lock()
	_, ok := w.watched[dir]
	if !ok {
		w.watched[dir] = kind
	}
	w.mu.Unlock()
	if ok {
		return
	}
	if err := w.fw.Add(dir); err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // gone already: its removal is handled
			w.o.OnError("watch_failed", fmt.Errorf("watch %s: %w", dir, err))
		}
		w.mu.Lock()
		delete(w.watched, dir)
		w.mu.Unlock()
	}
}

func (w *Watcher) unwatch(dir string) {
	w.mu.Lock()
	_, ok := w.watched[dir]
	delete(w.watched, dir)
	delete(w.byDir, dir)
	w.mu.Unlock()
	if ok {
		_ = w.fw.Remove(dir) // the directory may already be gone, which removes the watch
	}
}

// forgetMissing drops bookkeeping for group directories that a full scan did not find.
func (w *Watcher) forgetMissing(found []Group) {
	keep := map[string]bool{w.o.PodsDir: true, w.o.DockerDir: true}
	for _, g := range found {
		keep[g.Dir] = true
		keep[filepath.Dir(g.Dir)] = true
	}
	w.mu.Lock()
	var gone []string
	for d := range w.watched {
		if !keep[d] {
			gone = append(gone, d)
		}
	}
	w.mu.Unlock()
	for _, d := range gone {
		w.unwatch(d)
	}
}
