package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"testing"
)

const dockerTS = "2019-01-01T11:11:11.111111111Z"

// dj builds a docker json-file line in the daemon's key order.
func dj(log, stream string) string {
	return `{"log":` + log + `,"stream":"` + stream + `","time":"` + dockerTS + `"}`
}

var dockerCases = []decodeCase{
	{
		name:  "documented example",
		lines: []string{`{"log":"Log line is here\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}`},
		want:  []want{{msg: "Log line is here", stream: Stdout, time: dockerTS}},
	},
	{
		name: "key orders and whitespace",
		lines: []string{
			`{"log":"a\n","stream":"stderr","time":"` + dockerTS + `"}`,
			`{"stream":"stdout","time":"` + dockerTS + `","log":"b\n"}`,
			` { "time" : "` + dockerTS + `" ,` + "\t" + `"log":"c\n" , "stream":"stdout" } ` + "\r",
			`{"LOG":"d\n","Stream":"stdout","TIME":"` + dockerTS + `"}`, // encoding/json matches keys case-insensitively
		},
		want: []want{
			{msg: "a", stream: Stderr, time: dockerTS},
			{msg: "b", stream: Stdout, first: 1, last: 1, time: dockerTS},
			{msg: "c", stream: Stdout, first: 2, last: 2, time: dockerTS},
			{msg: "d", stream: Stdout, first: 3, last: 3, time: dockerTS},
		},
	},
	{
		name:  "containerd-style time widths and offsets",
		lines: []string{`{"log":"a\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}`, `{"log":"b\n","stream":"stdout","time":"2019-01-01T13:11:11.5+02:00"}`},
		want: []want{
			{msg: "a", stream: Stdout, time: "2019-01-01T11:11:11Z"},
			{msg: "b", stream: Stdout, first: 1, last: 1, time: "2019-01-01T13:11:11.5+02:00"},
		},
	},
	{
		name: "escapes",
		lines: []string{
			dj(`"q\" b\\ s\/ \b\f\r\t end\n"`, "stdout"),
			dj(`"\u00e9\u00E9 \u003chtml\u003e \u0026 \u2028 \u0000\n"`, "stdout"),
			dj(`"pair \ud83d\ude00 lone-high \ud800 lone-low \udc00 high-then-ascii \ud800\u0041 high-high \ud800\ud83d\ude00 end\n"`, "stdout"),
			dj(`"\ud800"`, "stdout"),
			dj(`"\n"`, "stdout"),
			dj(`"\n\n"`, "stdout"),
			dj(`"a\nb\n"`, "stdout"),
			dj(`"\"abcdef\n"`, "stdout"), // first escape at 0, len-2 == 8: found by FuzzDocker
		},
		want: []want{
			{msg: "q\" b\\ s/ \b\f\r\t end", stream: Stdout},
			{msg: "éé <html> & \u2028 \x00", stream: Stdout, first: 1, last: 1},
			{msg: "pair 😀 lone-high \uFFFD lone-low \uFFFD high-then-ascii \uFFFDA high-high \uFFFD😀 end", stream: Stdout, first: 2, last: 2},
			{msg: "\uFFFD", stream: Stdout, first: 3, last: 4},
			{msg: "\n", stream: Stdout, first: 5, last: 5},
			{msg: "a\nb", stream: Stdout, first: 6, last: 6},
			{msg: "\"abcdef", stream: Stdout, first: 7, last: 7},
		},
	},
	{
		name:  "CRLF: the CR is kept",
		lines: []string{dj(`"dos\r\n"`, "stdout")},
		want:  []want{{msg: "dos\r", stream: Stdout}},
	},
	{
		name:  "raw UTF-8 and invalid UTF-8 pass through",
		lines: []string{dj("\"héllo \xff\"", "stdout"), dj(`"\n"`, "stdout")},
		want:  []want{{msg: "héllo \xff", stream: Stdout, first: 0, last: 1}},
	},
	{
		name: "16 KiB pieces joined, first piece's time",
		lines: []string{
			`{"log":"aaa","stream":"stdout","time":"2019-01-01T11:11:11.1Z"}`,
			`{"log":"bbb","stream":"stdout","time":"2019-01-01T11:11:12.1Z"}`,
			`{"log":"ccc\n","stream":"stdout","time":"2019-01-01T11:11:13.1Z"}`,
		},
		want:    []want{{msg: "aaabbbccc", stream: Stdout, first: 0, last: 2, time: "2019-01-01T11:11:11.1Z"}},
		pending: []int{0, 0, -1},
	},
	{
		name: "pieces of both streams interleave",
		lines: []string{
			dj(`"o1"`, "stdout"),
			dj(`"e1"`, "stderr"),
			dj(`"e2\n"`, "stderr"),
			dj(`"o2\n"`, "stdout"),
		},
		want: []want{
			{msg: "e1e2", stream: Stderr, first: 1, last: 2},
			{msg: "o1o2", stream: Stdout, first: 0, last: 3},
		},
		pending: []int{0, 0, 0, -1},
	},
	{
		name:    "unterminated last piece flushed",
		lines:   []string{dj(`"done\n"`, "stdout"), dj(`"no newline at EOF"`, "stdout")},
		want:    []want{{msg: "done", stream: Stdout}},
		flushed: []want{{msg: "no newline at EOF", stream: Stdout, first: 1, last: 1, partial: true, time: dockerTS}},
		pending: []int{-1, 1},
	},
	{
		name: "missing or empty log is an empty piece",
		lines: []string{
			`{"stream":"stdout","time":"` + dockerTS + `"}`,
			dj(`""`, "stdout"),
			dj(`"x\n"`, "stdout"),
			`{"stream":"stderr","time":"` + dockerTS + `"}`,
			`{"log":null,"stream":"stdout","time":"` + dockerTS + `"}`,
		},
		want:    []want{{msg: "x", stream: Stdout, first: 0, last: 2}},
		flushed: []want{{msg: "", stream: Stderr, first: 3, last: 3, partial: true}, {msg: "", stream: Stdout, first: 4, last: 4, partial: true}},
		pending: []int{0, 0, -1, 3, 3},
	},
	{
		name: "attrs sorted by key, in any position",
		lines: []string{
			`{"log":"a\n","stream":"stdout","attrs":{"z":"1","a":"2","m":"\u00e9"},"time":"` + dockerTS + `"}`,
			`{"log":"b\n","stream":"stdout","time":"` + dockerTS + `","attrs":{"tag":"web"}}`,
			`{"log":"c\n","stream":"stdout","time":"` + dockerTS + `","attrs":{}}`,
			`{"log":"d\n","stream":"stdout","time":"` + dockerTS + `","attrs":{"k":"1","k":"2"}}`,
			`{"log":"e\n","stream":"stdout","time":"` + dockerTS + `","attrs":null}`,
			`{"log":"f","stream":"stdout","time":"` + dockerTS + `","attrs":{"first":"piece"}}`,
			`{"log":"g\n","stream":"stdout","time":"` + dockerTS + `","attrs":{"second":"piece"}}`,
		},
		want: []want{
			{msg: "a", stream: Stdout, attrs: []Attr{{"a", "2"}, {"m", "é"}, {"z", "1"}}},
			{msg: "b", stream: Stdout, first: 1, last: 1, attrs: []Attr{{"tag", "web"}}},
			{msg: "c", stream: Stdout, first: 2, last: 2},
			{msg: "d", stream: Stdout, first: 3, last: 3, attrs: []Attr{{"k", "2"}}},
			{msg: "e", stream: Stdout, first: 4, last: 4},
			{msg: "fg", stream: Stdout, first: 5, last: 6, attrs: []Attr{{"first", "piece"}}},
		},
	},
	{
		name: "invalid JSON",
		lines: []string{
			`{"log":"x\n","stream":"stdout","time":"` + dockerTS + `"`,
			`not json`,
			``,
			`[1]`,
			`null`,
			`"string"`,
			`{"log":1,"stream":"stdout","time":"` + dockerTS + `"}`,
			`{"log":"bad escape \x","stream":"stdout","time":"` + dockerTS + `"}`,
			`{"log":"bad quote escape \'","stream":"stdout","time":"` + dockerTS + `"}`,
			"{\"log\":\"raw\tcontrol\",\"stream\":\"stdout\",\"time\":\"" + dockerTS + "\"}",
			`{"log":"x\n","stream":"stdout","time":"` + dockerTS + `"} trailing`,
			`{"log":"x\n","stream":"stdout","time":"` + dockerTS + `","attrs":{"k":1}}`,
			`{"log":"\ud83"}`,
			dj(`"ok\n"`, "stdout"),
		},
		errs: map[int]string{0: ReasonBadJSON, 1: ReasonBadJSON, 2: ReasonBadJSON, 3: ReasonBadJSON,
			4: ReasonBadJSON, 5: ReasonBadJSON, 6: ReasonBadJSON, 7: ReasonBadJSON, 8: ReasonBadJSON,
			9: ReasonBadJSON, 10: ReasonBadJSON, 11: ReasonBadJSON, 12: ReasonBadJSON},
		want: []want{{msg: "ok", stream: Stdout, first: 13, last: 13}},
	},
	{
		name: "missing and bad fields",
		lines: []string{
			`{"log":"x\n","time":"` + dockerTS + `"}`,
			dj(`"x\n"`, ""),
			dj(`"x\n"`, "stdxx"),
			`{"log":"x\n","stream":"stdout"}`,
			`{"log":"x\n","stream":"stdout","time":"yesterday"}`,
			`{"log":"x\n","stream":"stdout","time":"2019-02-30T11:11:11Z"}`,
			`{"log":"x\n","stream":"std\u006fut","time":"2019-01-01T11:11:11\u002e5Z"}`,
		},
		errs: map[int]string{0: ReasonMissingField, 1: ReasonMissingField, 2: ReasonBadStream,
			3: ReasonBadTimestamp, 4: ReasonBadTimestamp, 5: ReasonBadTimestamp},
		want: []want{{msg: "x", stream: Stdout, first: 6, last: 6, time: "2019-01-01T11:11:11.5Z"}},
	},
	{
		name: "a malformed line between pieces keeps the run",
		lines: []string{
			dj(`"a"`, "stdout"),
			`garbage`,
			dj(`"b\n"`, "stdout"),
		},
		errs:    map[int]string{1: ReasonBadJSON},
		want:    []want{{msg: "ab", stream: Stdout, first: 0, last: 2}},
		pending: []int{0, 0, -1},
	},
	{
		name:  "cap over many pieces",
		limit: 5,
		lines: []string{
			dj(`"abc"`, "stdout"),
			dj(`"def"`, "stdout"),
			dj(`"ghi"`, "stdout"),
			dj(`"j\n"`, "stdout"),
			dj(`"123456\n"`, "stdout"),
		},
		want: []want{
			{msg: "abcde", stream: Stdout, first: 0, last: 3, truncated: true},
			{msg: "12345", stream: Stdout, first: 4, last: 4, truncated: true},
		},
		dropped: 5 + 1,
	},
	{
		name:      "caller-truncated line",
		lines:     []string{dj(`"complete but flagged\n"`, "stdout"), `{"log":"cut in the mid`},
		truncated: []bool{true, true},
		want:      []want{{msg: "complete but flagged", stream: Stdout, truncated: true}},
		errs:      map[int]string{1: ReasonBadJSON},
	},
}

func TestDocker(t *testing.T) {
	for _, tc := range dockerCases {
		t.Run(tc.name, func(t *testing.T) { runDecodeCase(t, KindDocker, tc) })
	}
}

// TestDockerFastMatchesEncodingJSON checks the hand-rolled scanner against encoding/json
// on the table lines: whenever the fast path accepts a line, it must decode it exactly
// as the fallback does.
func TestDockerFastMatchesEncodingJSON(t *testing.T) {
	n := 0
	for _, tc := range dockerCases {
		for _, l := range tc.lines {
			if checkFastSlow(t, []byte(l)) {
				n++
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d table lines took the fast path", n)
	}
}

// checkFastSlow compares the fast and the encoding/json decoding of line and reports
// whether the fast path accepted it.
func checkFastSlow(t *testing.T, line []byte) bool {
	t.Helper()
	var r dockerRaw
	if !scanDocker(line, &r) {
		return false
	}
	var fd, sd dockerDecoder
	fl, fr, _ := fd.decode(line)
	sl, sr, sdet := sd.decodeSlow(line)
	if fr != sr {
		t.Errorf("%q: fast reason %q, encoding/json reason %q (%s)", line, fr, sr, sdet)
		return true
	}
	if fr != "" {
		return true
	}
	if !fl.time.Equal(sl.time) || fl.stream != sl.stream || fl.final != sl.final ||
		!bytes.Equal(fixUTF8(fl.msg), sl.msg) || !sameAttrs(fl.attrs, sl.attrs) {
		t.Errorf("%q:\nfast %+v\nslow %+v", line, fl, sl)
	}
	return true
}

// fixUTF8 replaces every invalid byte by U+FFFD, as encoding/json does.
func fixUTF8(b []byte) []byte { return []byte(string([]rune(string(b)))) }

func sameAttrs(a, b []Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(fixUTF8([]byte(a[i].Key))) != b[i].Key || string(fixUTF8([]byte(a[i].Value))) != b[i].Value {
			return false
		}
	}
	return true
}

func TestDockerRoundTrip(t *testing.T) {
	for _, s := range []string{"", "x", "x\n", "a\"b\\c/d\te\r\n", "<&>\u2028\u2029", "\xff\xfe bad \xed\xa0\x80", "😀 é \x00\x1f\n"} {
		roundTrip(t, s, 0)
	}
}

// roundTrip writes s as encoding/json would and as the daemon does (with attrs), and
// checks that decoding gives back s after UTF-8 replacement.
func roundTrip(t *testing.T, s string, limit int) {
	t.Helper()
	type jl struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}
	a, err := json.Marshal(jl{Log: s, Stream: "stdout", Time: dockerTS})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	q := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	b := []byte(`{"log":` + string(q) + `,"stream":"stderr","attrs":{"k":` + string(q) + `},"time":"` + dockerTS + `"}`)

	want := fixUTF8([]byte(s))
	want, final := cutNewline(want)
	if limit <= 0 {
		limit = DefaultMaxMergedBytes
	}
	wantTrunc := len(want) > limit
	if wantTrunc {
		want = want[:limit]
	}
	for i, line := range [][]byte{a, b} {
		d := New(KindDocker, Options{MaxMergedBytes: limit})
		var es []got
		emit := func(e *Entry) { es = append(es, copyEntry(e)) }
		if err := d.Line(line, 0, int64(len(line))+1, false, emit); err != nil {
			t.Fatalf("%q -> %s: %v", s, line, err)
		}
		d.Flush(emit)
		if len(es) != 1 {
			t.Fatalf("%q -> %s: %d entries", s, line, len(es))
		}
		e := es[0]
		if e.Msg != string(want) || e.Partial == final || e.Truncated != wantTrunc {
			t.Fatalf("%q -> %s: got %+v, want msg %q final %v", s, line, e, want, final)
		}
		if i == 1 && (len(e.Attrs) != 1 || e.Attrs[0].Value != string(fixUTF8([]byte(s)))) {
			t.Fatalf("%q -> %s: attrs %+v", s, line, e.Attrs)
		}
	}
}

func TestDockerNoAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte(dj(`"plain line\n"`, "stdout")),
		[]byte(dj(`"with \"escapes\" \u00e9\t\n"`, "stderr")),
		[]byte(dj(`"piece"`, "stdout")),
		[]byte(dj(`"end\n"`, "stdout")),
		[]byte(`{"log":"a\n","stream":"stdout","attrs":{"tag":"web","z":"1"},"time":"` + dockerTS + `"}`),
	}
	d := New(KindDocker, Options{})
	emit := func(*Entry) {}
	run := func() {
		for _, b := range lines {
			if err := d.Line(b, 0, int64(len(b))+1, false, emit); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocs per run, want 0", n)
	}
}

func TestSpecialMask(t *testing.T) {
	isSpecial := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	check := func(b []byte) {
		t.Helper()
		first := -1
		for i, c := range b {
			if isSpecial(c) {
				first = i
				break
			}
		}
		m := specialMask(binary.LittleEndian.Uint64(b))
		got := -1
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != first {
			t.Fatalf("specialMask(%q): first special byte %d, want %d", b, got, first)
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			check(b)
			b = []byte("\xff\x80\xa0\x21\x7f~ \xe9")
			b[pos] = byte(c)
			check(b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 16 {
		var b [8]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		check(b[:])
	}
}
