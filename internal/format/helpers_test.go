package format

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// got is a copy of an Entry that outlives the decoder call.
type got struct {
	Time      time.Time
	Stream    Stream
	Msg       string
	Offset    int64
	End       int64
	Truncated bool
	Partial   bool
	Attrs     []Attr
}

func copyEntry(e *Entry) got {
	return got{Time: e.Time, Stream: e.Stream, Msg: string(e.Msg), Offset: e.Offset,
		End: e.End, Truncated: e.Truncated, Partial: e.Partial, Attrs: slices.Clone(e.Attrs)}
}

// offsets returns the start and end offsets of lines laid out one after another, each
// followed by '\n'.
func offsets(lines []string) (off, end []int64) {
	var o int64
	for _, l := range lines {
		off = append(off, o)
		o += int64(len(l)) + 1
		end = append(end, o)
	}
	return off, end
}

// step is what one fed line produced.
type step struct {
	entries []got
	err     error
	pending int64 // -1 when nothing is pending
}

// feed feeds lines to d; truncated[i] (if present) is passed for line i. When flush is
// set it calls Flush at the end and returns what it emitted separately.
func feed(t *testing.T, d Decoder, lines []string, truncated []bool, flush bool) (steps []step, flushed []got) {
	t.Helper()
	off, end := offsets(lines)
	for i, l := range lines {
		var s step
		tr := i < len(truncated) && truncated[i]
		s.err = d.Line([]byte(l), off[i], end[i], tr, func(e *Entry) { s.entries = append(s.entries, copyEntry(e)) })
		s.pending = -1
		if p, ok := d.Pending(); ok {
			s.pending = p
		}
		steps = append(steps, s)
	}
	if flush {
		d.Flush(func(e *Entry) { flushed = append(flushed, copyEntry(e)) })
		if p, ok := d.Pending(); ok {
			t.Errorf("Pending after Flush = %d, want none", p)
		}
	}
	return steps, flushed
}

// want describes an expected entry by the indexes of its first and last lines.
type want struct {
	msg         string
	stream      Stream
	first, last int
	truncated   bool
	partial     bool
	time        string // RFC3339Nano of the expected time; "" skips the check
	attrs       []Attr
}

func (w want) entry(t *testing.T, lines []string) got {
	t.Helper()
	off, end := offsets(lines)
	g := got{Stream: w.stream, Msg: w.msg, Offset: off[w.first], End: end[w.last],
		Truncated: w.truncated, Partial: w.partial, Attrs: w.attrs}
	if w.time != "" {
		tm, err := time.Parse(time.RFC3339Nano, w.time)
		if err != nil {
			t.Fatalf("bad want time %q: %v", w.time, err)
		}
		g.Time = tm
	}
	return g
}

func sameEntry(a, b got, checkTime bool) bool {
	if checkTime && !a.Time.Equal(b.Time) {
		return false
	}
	if checkTime {
		_, oa := a.Time.Zone()
		_, ob := b.Time.Zone()
		if oa != ob {
			return false
		}
	}
	return a.Stream == b.Stream && a.Msg == b.Msg && a.Offset == b.Offset && a.End == b.End &&
		a.Truncated == b.Truncated && a.Partial == b.Partial && slices.Equal(a.Attrs, b.Attrs)
}

// decodeCase is one table case shared by the CRI, docker and raw tests.
type decodeCase struct {
	name      string
	limit     int
	lines     []string
	truncated []bool
	want      []want         // entries emitted by Line, in order
	flushed   []want         // entries emitted by Flush, in order
	errs      map[int]string // line index -> Reason
	pending   []int          // per line: index of the line whose offset Pending reports, -1 none; nil skips
	dropped   int64
}

func runDecodeCase(t *testing.T, k Kind, tc decodeCase) {
	t.Helper()
	d := New(k, Options{MaxMergedBytes: tc.limit})
	steps, flushed := feed(t, d, tc.lines, tc.truncated, true)
	off, _ := offsets(tc.lines)

	var entries []got
	for i, s := range steps {
		entries = append(entries, s.entries...)
		wantReason, wantErr := tc.errs[i]
		var e *Error
		switch {
		case !wantErr && s.err != nil:
			t.Errorf("line %d %q: unexpected error %v", i, tc.lines[i], s.err)
		case wantErr && !errors.As(s.err, &e):
			t.Errorf("line %d %q: error %v, want reason %s", i, tc.lines[i], s.err, wantReason)
		case wantErr && (e.Reason != wantReason || e.Offset != off[i] || e.Kind != k):
			t.Errorf("line %d %q: error %+v, want reason %s at %d", i, tc.lines[i], e, wantReason, off[i])
		case wantErr && len(s.entries) > 0:
			t.Errorf("line %d: malformed line emitted %v", i, s.entries)
		}
		if tc.pending != nil {
			w := int64(-1)
			if tc.pending[i] >= 0 {
				w = off[tc.pending[i]]
			}
			if s.pending != w {
				t.Errorf("after line %d: Pending = %d, want %d", i, s.pending, w)
			}
		}
	}
	check := func(what string, gotE []got, ws []want) {
		t.Helper()
		if len(gotE) != len(ws) {
			t.Errorf("%s: got %d entries %+v, want %d", what, len(gotE), gotE, len(ws))
			return
		}
		for i, w := range ws {
			we := w.entry(t, tc.lines)
			if !sameEntry(gotE[i], we, w.time != "") {
				t.Errorf("%s[%d]:\n got %+v\nwant %+v", what, i, gotE[i], we)
			}
		}
	}
	check("entries", entries, tc.want)
	check("flushed", flushed, tc.flushed)
	for _, e := range append(entries, flushed...) {
		limit := tc.limit
		if limit <= 0 {
			limit = DefaultMaxMergedBytes
		}
		if len(e.Msg) > limit {
			t.Errorf("entry of %d bytes exceeds the cap %d", len(e.Msg), limit)
		}
	}
	if got := d.Dropped(); got != tc.dropped {
		t.Errorf("Dropped() = %d, want %d", got, tc.dropped)
	}
	if got := d.Dropped(); got != 0 {
		t.Errorf("second Dropped() = %d, want 0 (reset)", got)
	}
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }
