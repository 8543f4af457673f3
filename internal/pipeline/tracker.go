package pipeline

import "sync"

// Tracker follows the chunks of one file and computes its committed offset: the
// highest offset below which every record has been acknowledged by every sink.
//
// The reader calls Add for every chunk it produces, in read order, with the chunk's safe
// offset: the offset from which a restart loses nothing, that is the minimum of the read
// position after the chunk and the start of any partial line still held by the decoder.
// Safe offsets are non-decreasing. Acknowledgements may arrive in any order; Commit only
// moves over a contiguous prefix of acknowledged chunks, so it never runs ahead of an
// unacknowledged record.
type Tracker struct {
	mu        sync.Mutex
	base      uint64 // sequence number of pending[0]
	pending   []slot // chunks not yet covered by committed, in sequence order
	committed int64  // offset covered by acknowledged chunks
	onCommit  func(int64)
}

type slot struct {
	safe  int64
	first int64 // log time (unix ns) of the chunk's oldest line; 0 if unknown
	done  bool
}

// NewTracker starts at committed offset start. onCommit, if not nil, is called with the
// new committed offset each time it advances; it is called with the tracker's lock held,
// so it must be quick and must not call back into the tracker.
func NewTracker(start int64, onCommit func(int64)) *Tracker {
	return &Tracker{committed: start, onCommit: onCommit}
}

// Add registers the next chunk and returns its sequence number. first is the log time
// (unix nanoseconds) of the chunk's oldest line, 0 if unknown; see Oldest.
func (t *Tracker) Add(safe, first int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, slot{safe: safe, first: first})
	return t.base + uint64(len(t.pending)) - 1
}

// Advance records that reading moved to safe without producing records (malformed or
// filtered lines only). It commits at once when nothing is outstanding.
func (t *Tracker) Advance(safe int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		t.commit(safe)
		return
	}
	t.pending = append(t.pending, slot{safe: safe, done: true})
}

// Done acknowledges chunk seq.
func (t *Tracker) Done(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := int(seq - t.base)
	if seq < t.base || i >= len(t.pending) {
		return
	}
	t.pending[i].done = true
	n := 0
	for n < len(t.pending) && t.pending[n].done {
		n++
	}
	if n == 0 {
		return
	}
	safe := t.pending[n-1].safe
	t.base += uint64(n)
	t.pending = append(t.pending[:0], t.pending[n:]...)
	t.commit(safe)
}

func (t *Tracker) commit(safe int64) {
	if safe <= t.committed {
		return
	}
	t.committed = safe
	if t.onCommit != nil {
		t.onCommit(safe)
	}
}

// Committed returns the committed offset.
func (t *Tracker) Committed() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// Outstanding reports the number of chunks not yet acknowledged.
func (t *Tracker) Outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.pending {
		if !s.done {
			n++
		}
	}
	return n
}

// Oldest returns the log time (unix nanoseconds) of the oldest line not yet
// acknowledged, as given to Add, or 0 when every chunk is acknowledged or the times are
// unknown.
func (t *Tracker) Oldest() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var oldest int64
	for _, s := range t.pending {
		if !s.done && s.first != 0 && (oldest == 0 || s.first < oldest) {
			oldest = s.first
		}
	}
	return oldest
}

// Reset forgets outstanding chunks and restarts at offset (after a truncation). Late
// acknowledgements of forgotten chunks are ignored.
func (t *Tracker) Reset(offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.base += uint64(len(t.pending))
	t.pending = t.pending[:0]
	t.committed = offset
	if t.onCommit != nil {
		t.onCommit(offset)
	}
}
