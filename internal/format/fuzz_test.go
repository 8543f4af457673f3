package format

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// frag is one well-formed physical line, as a reference parser sees it.
type frag struct {
	stream Stream
	time   time.Time
	msg    []byte
	final  bool
	attrs  []Attr
}

// model is a naive reference for the merge rules: per-stream runs concatenated without
// bound, the cap applied when the entry is built.
type model struct {
	limit   int
	runs    [3]*mrun
	out     []got
	dropped int64
}

type mrun struct {
	first got
	msg   []byte
}

func (m *model) add(f frag, off, end int64, trunc bool) {
	r := m.runs[f.stream]
	if r == nil {
		r = &mrun{first: got{Time: f.time, Stream: f.stream, Offset: off, Attrs: f.attrs}}
		m.runs[f.stream] = r
	}
	r.msg = append(r.msg, f.msg...)
	r.first.End = end
	r.first.Truncated = r.first.Truncated || trunc
	if f.final {
		m.out = append(m.out, m.entry(f.stream, false))
	}
}

func (m *model) entry(s Stream, partial bool) got {
	r := m.runs[s]
	m.runs[s] = nil
	e := r.first
	e.Partial = partial
	if len(r.msg) > m.limit {
		m.dropped += int64(len(r.msg) - m.limit)
		r.msg = r.msg[:m.limit]
		e.Truncated = true
	}
	e.Msg = string(r.msg)
	return e
}

func (m *model) pending() int64 {
	p := int64(-1)
	for _, r := range m.runs {
		if r != nil && (p < 0 || r.first.Offset < p) {
			p = r.first.Offset
		}
	}
	return p
}

func (m *model) flush() {
	var ss []Stream
	for s, r := range m.runs {
		if r != nil {
			ss = append(ss, Stream(s))
		}
	}
	slices.SortFunc(ss, func(a, b Stream) int { return int(m.runs[a].first.Offset - m.runs[b].first.Offset) })
	for _, s := range ss {
		m.out = append(m.out, m.entry(s, true))
	}
}

// refParseCRI is an independent, naive CRI parser: strings split on spaces.
func refParseCRI(line []byte) (frag, string) {
	parts := bytes.SplitN(line, []byte(" "), 4)
	if len(parts) < 2 {
		return frag{}, ReasonShortLine
	}
	tm, err := ParseTimestamp(parts[0]) // checked against time.Parse by FuzzParseTimestamp
	if err != nil {
		return frag{}, ReasonBadTimestamp
	}
	if len(parts) < 3 {
		return frag{}, ReasonShortLine
	}
	var f frag
	switch string(parts[1]) {
	case "stdout":
		f.stream = Stdout
	case "stderr":
		f.stream = Stderr
	default:
		return frag{}, ReasonBadStream
	}
	switch strings.Split(string(parts[2]), ":")[0] {
	case "P":
	case "F":
		f.final = true
	default:
		return frag{}, ReasonBadTag
	}
	if len(parts) == 4 {
		f.msg = parts[3]
	}
	f.time = tm
	return f, ""
}

// fuzzDecoder feeds the lines of data to a decoder of kind k and checks it against the
// model fed by ref, plus the invariants every decoder must keep.
func fuzzDecoder(t *testing.T, k Kind, data []byte, limit uint16, truncMask uint64, ref func([]byte) (frag, string)) {
	d := New(k, Options{MaxMergedBytes: int(limit)})
	m := &model{limit: Options{MaxMergedBytes: int(limit)}.maxMerged()}
	lines := bytes.Split(data, []byte("\n"))
	offs := map[int64]bool{}
	ends := map[int64]bool{}
	var entries []got
	check := func(e *Entry) {
		if e.Offset > e.End || !offs[e.Offset] || !ends[e.End] {
			t.Fatalf("entry [%d,%d) does not start and end at fed lines", e.Offset, e.End)
		}
		if len(e.Msg) > m.limit {
			t.Fatalf("entry of %d bytes over the cap %d", len(e.Msg), m.limit)
		}
		entries = append(entries, copyEntry(e))
	}
	var off int64
	for i, line := range lines {
		end := off + int64(len(line)) + 1
		offs[off], ends[end] = true, true
		trunc := truncMask>>(i%64)&1 == 1
		err := d.Line(line, off, end, trunc, check)
		f, reason := ref(line)
		var e *Error
		switch {
		case reason == "" && err != nil:
			t.Fatalf("line %q: unexpected error %v", line, err)
		case reason != "" && (!errors.As(err, &e) || e.Reason != reason || e.Offset != off):
			t.Fatalf("line %q: error %v, want reason %s", line, err, reason)
		case reason == "":
			m.add(f, off, end, trunc)
		}
		p, ok := d.Pending()
		if ok && p > off {
			t.Fatalf("Pending %d is past the latest line %d", p, off)
		}
		if mp := m.pending(); (mp >= 0) != ok || (ok && mp != p) {
			t.Fatalf("Pending = %d, %v; model %d", p, ok, mp)
		}
		off = end
	}
	d.Flush(check)
	m.flush()
	if _, ok := d.Pending(); ok {
		t.Fatal("Pending after Flush")
	}
	if len(entries) != len(m.out) {
		t.Fatalf("%d entries, model %d:\n%+v\n%+v", len(entries), len(m.out), entries, m.out)
	}
	for i := range entries {
		if !sameEntry(entries[i], m.out[i], true) {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i, entries[i], m.out[i])
		}
	}
	if got := d.Dropped(); got != m.dropped {
		t.Fatalf("Dropped = %d, model %d", got, m.dropped)
	}
}

func seedLines(f *testing.F, cases []decodeCase) {
	for i, tc := range cases {
		f.Add([]byte(strings.Join(tc.lines, "\n")), uint16(max(tc.limit, 0)), uint64(i)*0x9e3779b97f4a7c15)
	}
}

func FuzzCRI(f *testing.F) {
	seedLines(f, criCases)
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, truncMask uint64) {
		fuzzDecoder(t, KindCRI, data, limit, truncMask, refParseCRI)
	})
}

func FuzzDocker(f *testing.F) {
	for i, tc := range dockerCases {
		f.Add([]byte(strings.Join(tc.lines, "\n")), uint16(max(tc.limit, 0)), uint64(i), "hello\n")
	}
	f.Add([]byte(dj(`"a"`, "stdout")), uint16(0), uint64(0), "\xff\xed\xa0\x80 \"<&>\u2028 \\u0041")
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, truncMask uint64, s string) {
		// Merging, against the model, with each line decoded by a separate decoder.
		var rd dockerDecoder
		fuzzDecoder(t, KindDocker, data, limit, truncMask, func(line []byte) (frag, string) {
			l, reason, _ := rd.decode(line)
			return frag{stream: l.stream, time: l.time, msg: slices.Clone(l.msg), final: l.final, attrs: l.attrs}, reason
		})
		// Per-line decoding: the fast path against encoding/json.
		for _, line := range bytes.Split(data, []byte("\n")) {
			checkFastSlow(t, line)
		}
		// A line written by encoding/json round-trips.
		roundTrip(t, s, int(limit))
	})
}

func FuzzRaw(f *testing.F) {
	seedLines(f, rawCases)
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, truncMask uint64) {
		fuzzDecoder(t, KindRaw, data, limit, truncMask, func(line []byte) (frag, string) {
			return frag{msg: line, final: true}, ""
		})
	})
}

func FuzzDetect(f *testing.F) {
	for _, cases := range [][]decodeCase{criCases, dockerCases, rawCases} {
		for _, tc := range cases {
			for _, l := range tc.lines {
				f.Add([]byte(l))
			}
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		k := Detect(line)
		if k == KindUnknown {
			t.Fatal("Detect returned KindUnknown")
		}
		// A detected line must decode with the detected decoder.
		if err := New(k, Options{}).Line(line, 0, int64(len(line))+1, false, func(*Entry) {}); err != nil {
			t.Fatalf("Detect(%q) = %v but Line fails: %v", line, k, err)
		}
	})
}
