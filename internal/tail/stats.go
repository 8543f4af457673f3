package tail

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats are the collection counters. All fields are safe for concurrent use; a later
// metrics layer exports them.
type Stats struct {
	LinesRead    atomic.Int64 // logical lines emitted
	BytesRead    atomic.Int64 // input bytes consumed
	Truncations  atomic.Int64 // files that shrank below the read offset
	Rotations    atomic.Int64 // renames of a file that was being read
	DroppedBytes atomic.Int64 // message bytes cut by the line and merge caps
	LostBytes    atomic.Int64 // bytes given up (deleted-file budget)
	OpenErrors   atomic.Int64 // files that could not be opened or read
	FilesOpen    atomic.Int64
	DeletedHeld  atomic.Int64 // bytes of deleted files still held open
	PartialFlush atomic.Int64 // partial lines flushed without their final fragment
	InvalidUTF8  atomic.Int64 // lines whose invalid UTF-8 was replaced (flagged invalid_utf8)

	mu        sync.Mutex
	malformed map[string]int64 // by reason
	lost      map[string]int64 // by group key
}

func (s *Stats) addMalformed(reason string) {
	s.mu.Lock()
	if s.malformed == nil {
		s.malformed = map[string]int64{}
	}
	s.malformed[reason]++
	s.mu.Unlock()
}

func (s *Stats) addLost(group string, n int64) {
	s.LostBytes.Add(n)
	s.mu.Lock()
	if s.lost == nil {
		s.lost = map[string]int64{}
	}
	s.lost[group] += n
	s.mu.Unlock()
}

// Malformed returns a copy of the malformed-line counts by reason.
func (s *Stats) Malformed() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.malformed)
}

// Lost returns a copy of the bytes given up, by container group.
func (s *Stats) Lost() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.lost)
}

// groupStats are one container's counters; they live as long as the group, so a
// container's series disappear with it.
type groupStats struct {
	bytesRead   atomic.Int64
	linesRead   atomic.Int64
	malformed   atomic.Int64 // lines skipped as malformed
	lineCap     atomic.Int64 // message bytes cut by max_line_bytes / max_merged_bytes
	budget      atomic.Int64 // bytes given up by the deleted-file budget
	rotations   atomic.Int64
	truncations atomic.Int64
	lastLine    atomic.Int64 // log time (unix ns) of the newest line read
}

// The helpers below count an event both node-wide and for its container.

func (m *Manager) countDropped(g *group, n int64) {
	m.o.Stats.DroppedBytes.Add(n)
	if g != nil {
		g.st.lineCap.Add(n)
	}
}

func (m *Manager) countMalformed(g *group, reason string) {
	m.o.Stats.addMalformed(reason)
	g.st.malformed.Add(1)
}

func (m *Manager) countLost(g *group, n int64) {
	m.o.Stats.addLost(g.g.Key, n)
	g.st.budget.Add(n)
}
