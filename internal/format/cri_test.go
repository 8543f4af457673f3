package format

import (
	"testing"
)

const (
	tsA = "2016-10-06T00:17:09.669794202Z"      // containerd, UTC
	tsB = "2016-10-06T00:17:09.6697Z"           // containerd, trimmed fraction
	tsC = "2016-10-06T02:17:10.000000000+02:00" // CRI-O, numeric offset
	tsD = "2016-10-06T00:17:11Z"                // containerd, whole second
)

func cri(ts, stream, tag, content string) string {
	return ts + " " + stream + " " + tag + " " + content
}

var criCases = []decodeCase{
	{
		name:  "containerd full line",
		lines: []string{cri(tsA, "stdout", "F", "log content 1")},
		want:  []want{{msg: "log content 1", stream: Stdout, time: tsA}},
	},
	{
		name:  "containerd trimmed fraction and whole second",
		lines: []string{cri(tsB, "stderr", "F", "a"), cri(tsD, "stdout", "F", "b")},
		want: []want{
			{msg: "a", stream: Stderr, time: tsB},
			{msg: "b", stream: Stdout, first: 1, last: 1, time: tsD},
		},
	},
	{
		name:  "cri-o numeric offset keeps the offset",
		lines: []string{cri(tsC, "stdout", "F", "x")},
		want:  []want{{msg: "x", stream: Stdout, time: tsC}},
	},
	{
		name:  "cri-o +00:00",
		lines: []string{cri("2016-10-06T00:17:09.000000001+00:00", "stdout", "F", "x")},
		want:  []want{{msg: "x", stream: Stdout, time: "2016-10-06T00:17:09.000000001Z"}},
	},
	{
		name:  "content keeps its spaces",
		lines: []string{cri(tsA, "stdout", "F", " a  b stdout F  ")},
		want:  []want{{msg: " a  b stdout F  ", stream: Stdout}},
	},
	{
		name:  "empty content with and without the separator",
		lines: []string{tsA + " stdout F ", tsA + " stderr F", tsA + " stdout F:x"},
		want: []want{
			{msg: "", stream: Stdout},
			{msg: "", stream: Stderr, first: 1, last: 1},
			{msg: "", stream: Stdout, first: 2, last: 2},
		},
	},
	{
		name:  "CRLF: the CR is kept",
		lines: []string{cri(tsA, "stdout", "F", "dos\r"), cri(tsA, "stdout", "P", "a\r"), cri(tsA, "stdout", "F", "b\r")},
		want: []want{
			{msg: "dos\r", stream: Stdout},
			{msg: "a\rb\r", stream: Stdout, first: 1, last: 2},
		},
	},
	{
		name: "forward-compatible tags",
		lines: []string{
			cri(tsA, "stdout", "P:x", "a"),
			cri(tsA, "stdout", "F:future:tags", "b"),
			cri(tsA, "stdout", "F:", "c"),
		},
		want: []want{
			{msg: "ab", stream: Stdout, first: 0, last: 1},
			{msg: "c", stream: Stdout, first: 2, last: 2},
		},
		pending: []int{0, -1, -1},
	},
	{
		name: "garbage streams and tags are skipped, the file goes on",
		lines: []string{
			cri(tsA, "stdxx", "F", "a"),
			cri(tsA, "STDOUT", "F", "a"),
			tsA + "  F a", // empty stream
			cri(tsA, "stdout", "X", "a"),
			cri(tsA, "stdout", "p", "a"),
			cri(tsA, "stdout", "PF", "a"),
			cri(tsA, "stdout", ":F", "a"),
			tsA + " stdout ", // empty tag
			cri(tsA, "stdout", "F", "ok"),
		},
		errs: map[int]string{0: ReasonBadStream, 1: ReasonBadStream, 2: ReasonBadStream,
			3: ReasonBadTag, 4: ReasonBadTag, 5: ReasonBadTag, 6: ReasonBadTag, 7: ReasonBadTag},
		want: []want{{msg: "ok", stream: Stdout, first: 8, last: 8}},
	},
	{
		name: "short lines",
		lines: []string{
			"",
			"garbage",
			tsA,
			tsA + " stdout",
			tsA + " stdxx",
			cri(tsA, "stdout", "F", "ok"),
		},
		errs: map[int]string{0: ReasonShortLine, 1: ReasonShortLine, 2: ReasonShortLine,
			3: ReasonShortLine, 4: ReasonShortLine},
		want: []want{{msg: "ok", stream: Stdout, first: 5, last: 5}},
	},
	{
		name: "impossible and malformed timestamps",
		lines: []string{
			cri("2016-13-06T00:17:09Z", "stdout", "F", "month 13"),
			cri("2023-02-29T00:17:09Z", "stdout", "F", "not a leap year"),
			cri("2016-02-30T00:17:09Z", "stdout", "F", "feb 30"),
			cri("2016-04-31T00:17:09Z", "stdout", "F", "apr 31"),
			cri("2016-10-06T25:17:09Z", "stdout", "F", "hour 25"),
			cri("2016-10-06T24:00:00Z", "stdout", "F", "hour 24"),
			cri("2016-10-06T00:60:09Z", "stdout", "F", "minute 60"),
			cri("2016-10-06T00:17:60Z", "stdout", "F", "leap second"),
			cri("2016-10-06T00:17:09", "stdout", "F", "no zone"),
			cri("2016-10-06T00:17:09.Z", "stdout", "F", "empty fraction"),
			cri("2016-10-06T00:17:09.5z", "stdout", "F", "lower-case z"),
			cri("2016-10-06 00:17:09Z", "stdout", "F", "space instead of T"),
			cri("2016-10-06T00:17:09+0200", "stdout", "F", "offset without colon"),
			cri("2016-10-06T00:17:09+02:00:00", "stdout", "F", "long offset"),
			cri("1475713029", "stdout", "F", "unix seconds"),
			cri("2024-02-29T00:17:09Z", "stdout", "F", "leap day"),
		},
		errs: map[int]string{0: ReasonBadTimestamp, 1: ReasonBadTimestamp, 2: ReasonBadTimestamp,
			3: ReasonBadTimestamp, 4: ReasonBadTimestamp, 5: ReasonBadTimestamp, 6: ReasonBadTimestamp,
			7: ReasonBadTimestamp, 8: ReasonBadTimestamp, 9: ReasonBadTimestamp, 10: ReasonBadTimestamp,
			11: ReasonBadTimestamp, 12: ReasonBadTimestamp, 13: ReasonBadTimestamp, 14: ReasonBadTimestamp},
		want: []want{{msg: "leap day", stream: Stdout, first: 15, last: 15, time: "2024-02-29T00:17:09Z"}},
	},
	{
		name: "partial run joined, first fragment's time",
		lines: []string{
			cri(tsA, "stdout", "P", "a b "),
			cri(tsB, "stdout", "P", ""),
			cri(tsC, "stdout", "P", "c"),
			cri(tsD, "stdout", "F", " d"),
		},
		want:    []want{{msg: "a b c d", stream: Stdout, first: 0, last: 3, time: tsA}},
		pending: []int{0, 0, 0, -1},
	},
	{
		name: "interleaved per-stream partials",
		lines: []string{
			cri(tsA, "stdout", "P", "o1"),
			cri(tsA, "stderr", "P", "e1"),
			cri(tsB, "stdout", "P", "o2"),
			cri(tsB, "stderr", "F", "e2"),
			cri(tsD, "stderr", "P", "e3"),
			cri(tsD, "stdout", "F", "o3"),
			cri(tsD, "stderr", "F", "e4"),
		},
		want: []want{
			{msg: "e1e2", stream: Stderr, first: 1, last: 3, time: tsA},
			{msg: "o1o2o3", stream: Stdout, first: 0, last: 5, time: tsA},
			{msg: "e3e4", stream: Stderr, first: 4, last: 6, time: tsD},
		},
		pending: []int{0, 0, 0, 0, 0, 4, -1},
	},
	{
		name: "a malformed line inside a run keeps both runs",
		lines: []string{
			cri(tsA, "stdout", "P", "a"),
			cri(tsA, "stderr", "P", "x"),
			cri(tsA, "stdxx", "F", "junk"),
			cri("2016-13-06T00:17:09Z", "stdout", "F", "junk"),
			cri(tsA, "stdout", "F", "b"),
		},
		errs:    map[int]string{2: ReasonBadStream, 3: ReasonBadTimestamp},
		want:    []want{{msg: "ab", stream: Stdout, first: 0, last: 4}},
		flushed: []want{{msg: "x", stream: Stderr, first: 1, last: 1, partial: true}},
		pending: []int{0, 0, 0, 0, 1},
	},
	{
		name: "orphan P runs flushed in offset order",
		lines: []string{
			cri(tsA, "stderr", "P", "e1"),
			cri(tsA, "stdout", "P", "o1"),
			cri(tsA, "stderr", "P", "e2"),
		},
		flushed: []want{
			{msg: "e1e2", stream: Stderr, first: 0, last: 2, partial: true, time: tsA},
			{msg: "o1", stream: Stdout, first: 1, last: 1, partial: true, time: tsA},
		},
		pending: []int{0, 0, 0},
	},
	{
		name:    "orphan P with empty content",
		lines:   []string{tsA + " stdout P"},
		flushed: []want{{msg: "", stream: Stdout, partial: true}},
		pending: []int{0},
	},
	{
		name:  "cap: merged message truncated to the cap, one entry at F",
		limit: 10,
		lines: []string{
			cri(tsA, "stdout", "P", "12345"),
			cri(tsA, "stdout", "P", "67890"),
			cri(tsA, "stdout", "P", "abc"),
			cri(tsA, "stdout", "P", "def"),
			cri(tsA, "stdout", "F", "g"),
		},
		want:    []want{{msg: "1234567890", stream: Stdout, first: 0, last: 4, truncated: true, time: tsA}},
		dropped: 7,
		pending: []int{0, 0, 0, 0, -1},
	},
	{
		name:  "cap: exactly at the cap is not truncated",
		limit: 6,
		lines: []string{cri(tsA, "stdout", "P", "abc"), cri(tsA, "stdout", "F", "def"), cri(tsA, "stdout", "F", "123456")},
		want: []want{
			{msg: "abcdef", stream: Stdout, first: 0, last: 1},
			{msg: "123456", stream: Stdout, first: 2, last: 2},
		},
	},
	{
		name:    "cap: a single F line over the cap",
		limit:   4,
		lines:   []string{cri(tsA, "stdout", "F", "abcdefgh")},
		want:    []want{{msg: "abcd", stream: Stdout, truncated: true}},
		dropped: 4,
	},
	{
		name:    "cap: an orphan run over the cap is flushed truncated",
		limit:   3,
		lines:   []string{cri(tsA, "stdout", "P", "ab"), cri(tsA, "stdout", "P", "cd"), cri(tsA, "stdout", "P", "ef")},
		flushed: []want{{msg: "abc", stream: Stdout, first: 0, last: 2, truncated: true, partial: true}},
		dropped: 3,
	},
	{
		name:      "caller-truncated lines mark their entry",
		lines:     []string{cri(tsA, "stdout", "F", "cut"), cri(tsA, "stdout", "P", "a"), cri(tsA, "stdout", "F", "b"), cri(tsA, "stdout", "F", "c")},
		truncated: []bool{true, true, false, false},
		want: []want{
			{msg: "cut", stream: Stdout, truncated: true},
			{msg: "ab", stream: Stdout, first: 1, last: 2, truncated: true},
			{msg: "c", stream: Stdout, first: 3, last: 3},
		},
	},
	{
		name:  "non-ASCII and invalid UTF-8 bytes pass through",
		lines: []string{cri(tsA, "stdout", "F", "héllo \xff\xfe\x00 end")},
		want:  []want{{msg: "héllo \xff\xfe\x00 end", stream: Stdout}},
	},
}

func TestCRI(t *testing.T) {
	for _, tc := range criCases {
		t.Run(tc.name, func(t *testing.T) { runDecodeCase(t, KindCRI, tc) })
	}
}

// TestCRICapManyFragments checks that memory stays bounded by the cap however many
// fragments a run has, and that one truncated entry ends the run.
func TestCRICapManyFragments(t *testing.T) {
	const limit, frags, size = 1000, 10000, 100
	d := New(KindCRI, Options{MaxMergedBytes: limit}).(*criDecoder)
	content := repeat("x", size)
	line := []byte(cri(tsA, "stdout", "P", content))
	var off int64
	var n int
	emit := func(*Entry) { n++ }
	for i := 0; i < frags; i++ {
		if err := d.Line(line, off, off+int64(len(line))+1, false, emit); err != nil {
			t.Fatal(err)
		}
		off += int64(len(line)) + 1
		if c := cap(d.m.runs[0].buf); c > limit {
			t.Fatalf("after %d fragments the run buffer has capacity %d > cap %d", i+1, c, limit)
		}
	}
	if p, ok := d.Pending(); !ok || p != 0 {
		t.Fatalf("Pending = %d, %v; want 0, true", p, ok)
	}
	final := []byte(cri(tsA, "stdout", "F", "end"))
	var e got
	err := d.Line(final, off, off+int64(len(final))+1, false, func(x *Entry) { n++; e = copyEntry(x) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(e.Msg) != limit || !e.Truncated || e.Offset != 0 || e.End != off+int64(len(final))+1 {
		t.Fatalf("got %d entries, last %d bytes truncated=%v [%d,%d)", n, len(e.Msg), e.Truncated, e.Offset, e.End)
	}
	if got, want := d.Dropped(), int64(frags*size+3-limit); got != want {
		t.Fatalf("Dropped = %d, want %d", got, want)
	}
}

// TestBufferRelease checks that a buffer grown by a huge run is released after a
// series of small runs, and kept while big runs go on.
func TestBufferRelease(t *testing.T) {
	d := New(KindCRI, Options{}).(*criDecoder)
	var off int64
	feedLine := func(l string) {
		b := []byte(l)
		if err := d.Line(b, off, off+int64(len(b))+1, false, func(*Entry) {}); err != nil {
			t.Fatal(err)
		}
		off += int64(len(b)) + 1
	}
	big := repeat("y", 200<<10)
	feedLine(cri(tsA, "stdout", "P", big))
	feedLine(cri(tsA, "stdout", "F", big))
	if c := cap(d.m.runs[0].buf); c < 400<<10 {
		t.Fatalf("buffer capacity %d after a big run", c)
	}
	for i := 0; i < releaseAfter; i++ {
		feedLine(cri(tsA, "stdout", "P", "a"))
		feedLine(cri(tsA, "stdout", "F", "b"))
	}
	if c := cap(d.m.runs[0].buf); c > retainBytes {
		t.Fatalf("buffer capacity %d not released after %d small runs", c, releaseAfter)
	}
}

// TestCRIEntryValidUntilNextCall checks that both entries of one Flush stay intact until
// the next call.
func TestCRIEntryValidUntilNextCall(t *testing.T) {
	d := New(KindCRI, Options{})
	lines := []string{cri(tsA, "stdout", "P", "out"), cri(tsA, "stderr", "P", "err")}
	feed(t, d, lines, nil, false)
	var es []*Entry
	d.Flush(func(e *Entry) { es = append(es, e) })
	if len(es) != 2 || string(es[0].Msg) != "out" || string(es[1].Msg) != "err" {
		t.Fatalf("entries after Flush: %+v", es)
	}
}

func TestCRINoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"full containerd", []string{cri(tsA, "stdout", "F", "hello world")}},
		{"full cri-o", []string{cri(tsC, "stderr", "F", "hello world")}},
		{"partial run", []string{cri(tsA, "stdout", "P", "hello"), cri(tsA, "stderr", "P", "x"), cri(tsA, "stdout", "F", "world"), cri(tsA, "stderr", "F", "y")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(KindCRI, Options{})
			bs := make([][]byte, len(tc.lines))
			for i, l := range tc.lines {
				bs[i] = []byte(l)
			}
			emit := func(*Entry) {}
			run := func() {
				for _, b := range bs {
					if err := d.Line(b, 0, int64(len(b))+1, false, emit); err != nil {
						t.Fatal(err)
					}
				}
			}
			run() // warm the buffers
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Fatalf("%v allocs per run, want 0", n)
			}
		})
	}
}
