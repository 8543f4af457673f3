package process

import (
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

// class is what a line does to its stream's group.
type class uint8

const (
	// clsStart ends the open group and begins a new one with the line, held until the
	// group ends.
	clsStart class = iota
	// clsCont appends the line to the open group, or begins one when none is open.
	clsCont
)

// classifier decides what line (without a trailing '\r') does, given its stream's
// group, and returns the group's preset state after the line.
type classifier func(g *group, line []byte) (class, uint8)

// multiline groups lines per stream.
type multiline struct {
	classify classifier
	start    *regexp.Regexp // custom Start; classify is nil then
	maxLines int
	maxBytes int
	timeout  time.Duration
	groups   [3]group // by format.Stream: unknown (raw files), stdout, stderr
}

// group is the open group of one stream.
type group struct {
	open  bool
	state uint8 // the preset's state machine; survives a group ended by a limit
	lines int
	cut   bool      // bytes were cut at maxBytes
	last  time.Time // when the last line was added
	e     format.Entry
	buf   []byte
	small uint8 // consecutive small uses of an oversized buf (see recycle)
}

func newMultiline(m podconfig.Multiline) *multiline {
	ml := &multiline{
		maxLines: m.MaxLines,
		maxBytes: m.MaxBytes,
		timeout:  m.Timeout,
	}
	if ml.maxLines <= 0 {
		ml.maxLines = podconfig.DefaultMultilineMaxLines
	}
	if ml.maxBytes <= 0 {
		ml.maxBytes = podconfig.DefaultMultilineMaxBytes
	}
	if ml.timeout <= 0 {
		ml.timeout = podconfig.DefaultMultilineTimeout
	}
	if m.Start != nil {
		ml.start = m.Start
		return ml
	}
	if ml.classify = presetClassifier(m.Preset); ml.classify == nil {
		return nil
	}
	return ml
}

func (m *multiline) class(g *group, msg []byte) (class, uint8) {
	if m.start != nil {
		if m.start.Match(msg) {
			return clsStart, 0
		}
		return clsCont, 0
	}
	if n := len(msg); n > 0 && msg[n-1] == '\r' {
		msg = msg[:n-1]
	}
	return m.classify(g, msg)
}

// line takes one decoded entry.
func (m *multiline) line(c *Chain, e *format.Entry, now time.Time, emit func(*format.Entry)) {
	s := int(e.Stream)
	if s >= len(m.groups) {
		s = 0
	}
	g := &m.groups[s]
	cls, state := m.class(g, e.Msg)
	if cls == clsStart || !g.open {
		m.end(c, g, false, emit)
		g.state = state
		m.begin(c, g, e, now, emit)
		return
	}
	g.state = state
	if len(g.buf)+1+len(e.Msg) > m.maxBytes {
		// The line does not fit: the group ends here and the line begins the next one,
		// so no byte is lost.
		c.stats.LimitedGroups.Add(1)
		m.end(c, g, false, emit)
		m.begin(c, g, e, now, emit)
		return
	}
	g.buf = append(g.buf, '\n')
	g.buf = append(g.buf, e.Msg...)
	g.lines++
	g.last = now
	g.e.End = e.End
	g.e.Truncated = g.e.Truncated || e.Truncated
	g.e.Partial = g.e.Partial || e.Partial
	if g.lines >= m.maxLines {
		c.stats.LimitedGroups.Add(1)
		m.end(c, g, false, emit)
	}
}

// begin opens g with e, cutting a message longer than maxBytes.
func (m *multiline) begin(c *Chain, g *group, e *format.Entry, now time.Time, emit func(*format.Entry)) {
	msg := e.Msg
	g.cut = false
	if len(msg) > m.maxBytes {
		n := m.maxBytes
		// Cut before a rune the limit would split (at most 3 bytes back).
		for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(msg[n]); i++ {
			n--
		}
		if !utf8.RuneStart(msg[n]) {
			n = m.maxBytes
		}
		c.stats.TruncatedBytes.Add(int64(len(msg) - n))
		msg = msg[:n]
		g.cut = true
	}
	g.buf = append(g.buf[:0], msg...)
	g.e = format.Entry{Time: e.Time, Stream: e.Stream, Offset: e.Offset, End: e.End,
		Truncated: e.Truncated || g.cut, Partial: e.Partial, Attrs: e.Attrs}
	g.open = true
	g.lines = 1
	g.last = now
	if g.lines >= m.maxLines {
		c.stats.LimitedGroups.Add(1)
		m.end(c, g, false, emit)
	}
}

// end emits g's group, if one is open, through the rest of the chain. reset returns
// the preset's state machine to its start (after a timeout or flush: whatever comes
// next is not known to continue anything).
func (m *multiline) end(c *Chain, g *group, reset bool, emit func(*format.Entry)) {
	if reset {
		g.state = 0
	}
	if !g.open {
		return
	}
	g.open = false // before emit: Pending called from emit no longer counts it
	g.e.Msg = g.buf
	g.e.Multiline = g.lines > 1
	if g.e.Multiline {
		c.stats.MultilineGroups.Add(1)
	}
	if g.cut {
		c.stats.TruncatedGroups.Add(1)
	}
	c.record(&g.e, emit)
	g.buf = recycle(g.buf, len(g.e.Msg), retainBytes, &g.small)
	g.e = format.Entry{}
}

// due reports whether an open group has waited timeout since its last line.
func (m *multiline) due(now time.Time) bool {
	for i := range m.groups {
		if g := &m.groups[i]; g.open && now.Sub(g.last) >= m.timeout {
			return true
		}
	}
	return false
}

// flush ends the open groups (only those due at now when onlyDue), in Offset order.
func (m *multiline) flush(c *Chain, now time.Time, onlyDue bool, emit func(*format.Entry)) {
	for {
		var first *group
		for i := range m.groups {
			g := &m.groups[i]
			if !g.open || (onlyDue && now.Sub(g.last) < m.timeout) {
				continue
			}
			if first == nil || g.e.Offset < first.e.Offset {
				first = g
			}
		}
		if first == nil {
			break
		}
		m.end(c, first, true, emit)
	}
	if !onlyDue {
		for i := range m.groups {
			m.groups[i].state = 0
		}
	}
}

func (m *multiline) pending() (off int64, ok bool) {
	for i := range m.groups {
		if g := &m.groups[i]; g.open && (!ok || g.e.Offset < off) {
			off, ok = g.e.Offset, true
		}
	}
	return off, ok
}

// retainBytes is the buffer capacity a group keeps for good; a larger buffer, grown by
// a big group, is released after releaseAfter consecutive uses that needed at most a
// quarter of it (as the decoders do), so one huge trace does not pin MaxBytes per
// stream for the life of the container.
const (
	retainBytes  = 64 << 10
	releaseAfter = 8
)

// recycle empties b for reuse, or releases it (returns nil) when it has stayed
// oversized: more than retain elements of capacity, while the last releaseAfter uses
// (used is the last one's length) needed at most a quarter of it.
func recycle[T any](b []T, used, retain int, small *uint8) []T {
	if cap(b) <= retain {
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
