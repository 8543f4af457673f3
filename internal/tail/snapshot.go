package tail

import (
	"fmt"
	"sort"
	"time"

	"github.com/logferry/logferry/internal/record"
)

// ContainerSnapshot is one container's files and counters at one moment, for metrics
// and status. Counters are cumulative over the container's life in this process.
type ContainerSnapshot struct {
	Source record.Source // namespace, pod, container as known from the path or docker
	Key    string        // the group key (its directory)

	ReadBytes, ReadLines int64
	MalformedLines       int64
	LineCapBytes         int64 // message bytes cut by the line and merge caps
	BudgetBytes          int64 // bytes given up by the deleted-file budget
	Rotations            int64
	Truncations          int64
	LastLine             time.Time // log time of the newest line read; zero if none

	LagBytes  int64         // written and not yet acknowledged, over all files
	Lag       time.Duration // age of the oldest unacknowledged line; see Snapshot
	Open      int           // files open
	Deleted   int           // deleted files still held open
	DeletedSz int64         // their bytes
	Files     []FileStatus  // oldest first
}

// FileStatus describes one open file.
type FileStatus struct {
	Group       string
	Path        string
	Dev, Ino    uint64
	Fingerprint string // hex, "" until known
	Kind        string
	Offset      int64 // read position
	Committed   int64 // acknowledged position
	Size        int64
	Deleted     bool
	Done        bool
	State       string // see status.File.State
}

// File states, as documented on status.File.
const (
	StateReading  = "reading"
	StateWaiting  = "waiting"
	StateIdle     = "idle"
	StateDraining = "draining"
	StateDeleted  = "deleted"
)

// Snapshot returns every container the manager knows, in no particular order.
//
// Lag is the age of the oldest line not yet acknowledged: for lines read and in flight,
// measured from their log timestamp; for bytes not read yet (the agent is behind), from
// the last time reading of that file made progress, which bounds how long they have
// waited since the agent could have read them. A container that is caught up has 0.
func (m *Manager) Snapshot() []ContainerSnapshot {
	m.mu.Lock()
	groups := make([]*group, 0, len(m.groups))
	for _, g := range m.groups {
		groups = append(groups, g)
	}
	m.mu.Unlock()
	now := m.o.Now()
	out := make([]ContainerSnapshot, 0, len(groups))
	for _, g := range groups {
		c := ContainerSnapshot{
			Key:            g.g.Key,
			ReadBytes:      g.st.bytesRead.Load(),
			ReadLines:      g.st.linesRead.Load(),
			MalformedLines: g.st.malformed.Load(),
			LineCapBytes:   g.st.lineCap.Load(),
			BudgetBytes:    g.st.budget.Load(),
			Rotations:      g.st.rotations.Load(),
			Truncations:    g.st.truncations.Load(),
		}
		if ns := g.st.lastLine.Load(); ns != 0 {
			c.LastLine = time.Unix(0, ns)
		}
		g.mu.Lock()
		c.Source = g.g.Source
		var oldest time.Time
		for _, f := range g.files {
			fs := f.status(g.g.Key)
			if f.r != nil && !f.name.Gz {
				// The poller's size may be a poll interval old: lag is measured now.
				if fi, err := statReader(f.r); err == nil && fi.Size() > fs.Size {
					fs.Size = fi.Size()
					if fs.State == StateIdle || fs.State == StateWaiting {
						fs.State = StateReading
					}
				}
			}
			c.Files = append(c.Files, fs)
			if f.r != nil {
				c.Open++
				if f.deleted {
					c.Deleted++
					c.DeletedSz += f.size
				}
			}
			if f.lost {
				continue
			}
			if lag := fs.Size - fs.Committed; lag > 0 {
				c.LagBytes += lag
			}
			var t time.Time
			if f.tracker != nil {
				if ns := f.tracker.Oldest(); ns != 0 {
					t = time.Unix(0, ns)
				}
			}
			if fs.Size > f.readOff && !f.lastActive.IsZero() && (t.IsZero() || f.lastActive.Before(t)) {
				t = f.lastActive
			}
			if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
		g.mu.Unlock()
		if !oldest.IsZero() && now.After(oldest) {
			c.Lag = now.Sub(oldest)
		}
		out = append(out, c)
	}
	return out
}

// status describes f; the caller holds its group's lock.
func (f *file) status(group string) FileStatus {
	st := FileStatus{Group: group, Path: f.path, Dev: f.dev, Ino: f.ino, Kind: f.kind.String(),
		Offset: f.readOff, Size: f.size, Deleted: f.deleted, Done: f.done}
	if f.fpKnown {
		st.Fingerprint = fmt.Sprintf("%016x", f.fp)
	}
	if f.tracker != nil {
		st.Committed = f.tracker.Committed()
	}
	switch {
	case f.deleted:
		st.State = StateDeleted
	case f.finalSeen || f.done:
		st.State = StateDraining
	case f.size > f.readOff:
		st.State = StateReading
	case st.Committed < f.readOff:
		st.State = StateWaiting
	default:
		st.State = StateIdle
	}
	return st
}

// Files returns the status of every open file, sorted by path.
func (m *Manager) Files() []FileStatus {
	var out []FileStatus
	for _, c := range m.Snapshot() {
		out = append(out, c.Files...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
