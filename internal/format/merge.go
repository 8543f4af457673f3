package format

import "time"

// retainBytes is the buffer capacity a decoder keeps for good. A larger buffer, grown
// by a big merged message, is released after releaseAfter consecutive uses that needed
// at most a quarter of it, so that one burst of huge lines does not pin up to
// MaxMergedBytes per stream for the life of a file.
const (
	retainBytes  = 64 << 10
	releaseAfter = 8
)

// recycle empties b for reuse, or releases it when it has stayed oversized (see
// retainBytes). used is how many bytes the last use needed; small counts consecutive
// small uses.
func recycle(b []byte, used int, small *uint8) []byte {
	if cap(b) <= retainBytes {
		return b[:0]
	}
	if used > cap(b)/4 {
		*small = 0
		return b[:0]
	}
	if *small++; *small >= releaseAfter {
		*small = 0
		return nil
	}
	return b[:0]
}

// run is a pending partial run of one stream.
type run struct {
	active    bool
	truncated bool
	small     uint8
	time      time.Time // first fragment's
	off       int64     // first fragment's offset
	end       int64     // end of the last fragment taken
	attrs     []Attr    // first fragment's
	buf       []byte    // merged content, at most merger.limit bytes
}

// merger joins fragments into entries, per stream, under the size cap. It is shared by
// the CRI and docker decoders.
type merger struct {
	limit   int
	dropped int64
	runs    [2]run   // by stream-1
	entries [3]Entry // by stream: one Entry per stream, so that the entries emitted by
	// one Flush call stay valid together
}

// fragment takes one well-formed fragment of stream s. final reports that it ends the
// logical line (CRI F, docker log ending in "\n"); t and attrs are used only when the
// fragment starts a run.
func (m *merger) fragment(s Stream, t time.Time, content []byte, off, end int64,
	truncated, final bool, attrs []Attr, emit func(*Entry)) {
	r := &m.runs[s-1]
	if !r.active {
		if final {
			// A whole line in one fragment: emit it without copying.
			e := &m.entries[s]
			*e = Entry{Time: t, Stream: s, Msg: content, Offset: off, End: end,
				Truncated: truncated, Attrs: attrs}
			if len(e.Msg) > m.limit {
				m.dropped += int64(len(e.Msg) - m.limit)
				e.Msg = e.Msg[:m.limit]
				e.Truncated = true
			}
			emit(e)
			return
		}
		r.active = true
		r.time, r.off, r.attrs = t, off, attrs
	}
	r.end = end
	r.truncated = r.truncated || truncated
	m.add(r, content)
	if final {
		m.emit(s, false, emit)
	}
}

// add appends p to r's buffer, dropping and counting what exceeds the cap. The buffer
// never grows beyond the cap.
func (m *merger) add(r *run, p []byte) {
	if room := m.limit - len(r.buf); len(p) > room {
		m.dropped += int64(len(p) - room)
		p = p[:room]
		r.truncated = true
	}
	if len(p) == 0 {
		return
	}
	if need := len(r.buf) + len(p); need > cap(r.buf) {
		n := min(max(2*cap(r.buf), need, 512), m.limit)
		nb := make([]byte, len(r.buf), n)
		copy(nb, r.buf)
		r.buf = nb
	}
	r.buf = append(r.buf, p...)
}

// emit emits the run of stream s and resets it. The run is inactive while emit runs,
// so Pending called from the callback already excludes it. The buffer's bytes stay
// untouched until the next call into the decoder.
func (m *merger) emit(s Stream, partial bool, emit func(*Entry)) {
	r := &m.runs[s-1]
	e := &m.entries[s]
	*e = Entry{Time: r.time, Stream: s, Msg: r.buf, Offset: r.off, End: r.end,
		Truncated: r.truncated, Partial: partial, Attrs: r.attrs}
	buf := recycle(r.buf, len(r.buf), &r.small)
	*r = run{small: r.small, buf: buf}
	emit(e)
}

// flush emits the pending runs in Offset order.
func (m *merger) flush(emit func(*Entry)) {
	first, second := Stdout, Stderr
	if m.runs[1].active && (!m.runs[0].active || m.runs[1].off < m.runs[0].off) {
		first, second = Stderr, Stdout
	}
	for _, s := range [2]Stream{first, second} {
		if m.runs[s-1].active {
			m.emit(s, true, emit)
		}
	}
}

// pending returns the smallest first-fragment offset over the active runs.
func (m *merger) pending() (off int64, ok bool) {
	for i := range m.runs {
		if r := &m.runs[i]; r.active && (!ok || r.off < off) {
			off, ok = r.off, true
		}
	}
	return off, ok
}

func (m *merger) takeDropped() int64 {
	n := m.dropped
	m.dropped = 0
	return n
}
