package process

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

// FuzzMultiline feeds random lines (data split at '\n'; each line's stream is taken
// from the bits of streams) through each preset and a custom start regex, with small
// random limits, and checks: no panic; per stream, the records' messages joined with
// "\n" equal the stream's input lines joined with "\n" (lines longer than MaxBytes cut
// as documented); each record's Offset is its first line's and End its last line's, so
// offsets increase; limits hold; Pending is the oldest line not yet emitted.
func FuzzMultiline(f *testing.F) {
	for _, name := range podconfig.Presets() {
		recs := readRecords(f, "testdata/"+name+".txt")
		var all []string
		for _, r := range recs {
			all = append(all, r...)
		}
		f.Add([]byte(strings.Join(all, "\n")), uint64(0), uint8(0), uint8(40), uint16(4096))
	}
	f.Add([]byte("a\n b\nc\n\td\n\n"), uint64(0b1010), uint8(5), uint8(2), uint16(3))
	f.Add([]byte("2026 \xe9\xe9\xe9\n x"), uint64(0), uint8(5), uint8(9), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, streams uint64, mode, maxLines uint8, maxBytes uint16) {
		m := &podconfig.Multiline{MaxLines: int(maxLines%64) + 1, MaxBytes: int(maxBytes%2048) + 1, Timeout: time.Second}
		if presets := podconfig.Presets(); int(mode)%(len(presets)+1) < len(presets) {
			m.Preset = presets[int(mode)%(len(presets)+1)]
		} else {
			m.Start = regexp.MustCompile(`^\S`)
		}
		c := New(podconfig.Settings{Multiline: m}, nil, Options{})

		type line struct {
			off, end int64
			msg      []byte
		}
		in := map[format.Stream][]line{}
		got := map[format.Stream][]format.Entry{}
		held := map[format.Stream][]int64{} // offsets of the lines fed and not yet emitted
		emit := func(e *format.Entry) {
			got[e.Stream] = append(got[e.Stream], clone(e))
			n := bytes.Count(e.Msg, []byte("\n")) + 1
			h := held[e.Stream]
			if n > len(h) || h[0] != e.Offset {
				t.Fatalf("record at %d of %d lines; held lines of its stream %v", e.Offset, n, h)
			}
			held[e.Stream] = h[n:]
		}
		pending := func() (int64, bool) {
			var p int64
			ok := false
			for _, h := range held {
				if len(h) > 0 && (!ok || h[0] < p) {
					p, ok = h[0], true
				}
			}
			return p, ok
		}
		var off int64
		for i, l := range bytes.Split(data, []byte("\n")) {
			s := format.Stdout
			if streams>>(uint(i)%64)&1 == 1 {
				s = format.Stderr
			}
			e := format.Entry{Stream: s, Msg: l, Offset: off, End: off + int64(len(l)) + 1, Time: t0.Add(time.Duration(i))}
			in[s] = append(in[s], line{e.Offset, e.End, l})
			off = e.End
			held[s] = append(held[s], e.Offset)
			c.Entry(&e, t0, emit)
			p, ok := c.Pending()
			if wp, wok := pending(); p != wp || ok != wok {
				t.Fatalf("after line %d: Pending = %d, %v; want %d, %v", i, p, ok, wp, wok)
			}
		}
		c.Flush(emit)
		if _, ok := c.Pending(); ok {
			t.Fatal("Pending after Flush")
		}
		for s, lines := range in {
			var want [][]byte
			for _, l := range lines {
				msg := l.msg
				if len(msg) > m.MaxBytes {
					msg = msg[:cutPoint(msg, m.MaxBytes)]
				}
				want = append(want, msg)
			}
			var gotMsgs [][]byte
			next := 0 // index of the next input line
			var last int64 = -1
			for _, e := range got[s] {
				gotMsgs = append(gotMsgs, e.Msg)
				n := bytes.Count(e.Msg, []byte("\n")) + 1
				if next+n > len(lines) {
					t.Fatalf("stream %v: more lines out than in", s)
				}
				if e.Offset != lines[next].off || e.End != lines[next+n-1].end || e.Offset <= last {
					t.Fatalf("stream %v: record at %d..%d, want %d..%d after %d", s, e.Offset, e.End, lines[next].off, lines[next+n-1].end, last)
				}
				if n > m.MaxLines || (len(e.Msg) > m.MaxBytes) || e.Multiline != (n > 1) {
					t.Fatalf("record of %d lines, %d bytes (limits %d, %d), multiline %v", n, len(e.Msg), m.MaxLines, m.MaxBytes, e.Multiline)
				}
				last = e.Offset
				next += n
			}
			if g, w := bytes.Join(gotMsgs, []byte("\n")), bytes.Join(want, []byte("\n")); !bytes.Equal(g, w) || next != len(lines) {
				t.Fatalf("stream %v: records joined\n%q\nwant\n%q", s, g, w)
			}
		}
	})
}

// cutPoint is where a line longer than max is cut: at max, moved back to a rune start
// when max would split a rune (at most 3 bytes).
func cutPoint(msg []byte, limit int) int {
	n := limit
	for i := 0; i < 3 && n > 0 && !utf8.RuneStart(msg[n]); i++ {
		n--
	}
	if !utf8.RuneStart(msg[n]) {
		return limit
	}
	return n
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\"a\":\"\xff\"}\r", `[1]`, `{"a":{"b":[1,2,{"c":null}]}}`, ` { } `, `{"a":1}x`, `{"\ud800":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := New(podconfig.Settings{Parse: "json"}, nil, Options{})
		e := format.Entry{Stream: format.Stdout, Msg: msg}
		var out format.Entry
		c.Entry(&e, t0, func(o *format.Entry) { out = clone(o) })
		trimmed := bytes.Trim(msg, " \t\r\n") // JSON's whitespace
		wantOK := json.Valid(trimmed) && len(trimmed) > 0 && trimmed[0] == '{'
		if out.ParseFailed == wantOK {
			t.Fatalf("ParseFailed = %v for %q", out.ParseFailed, msg)
		}
		if out.ParseFailed {
			if out.Fields != nil || !bytes.Equal(out.Msg, msg) {
				t.Fatal("failed parse changed the entry")
			}
			return
		}
		if !json.Valid(out.Fields) || !utf8.Valid(out.Fields) || out.Fields[0] != '{' || out.Msg != nil {
			t.Fatalf("fields %q from %q", out.Fields, msg)
		}
		var a, b any
		if utf8.Valid(msg) {
			if json.Unmarshal(trimmed, &a) != nil || json.Unmarshal(out.Fields, &b) != nil {
				t.Fatal("does not unmarshal")
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) {
				t.Fatalf("fields %s differ from the message %s", jb, ja)
			}
		}
	})
}

func FuzzParseLogfmt(f *testing.F) {
	for _, s := range []string{`a=1 b="x y" c=`, `a="\u00e9\ud83d\ude00\ud800"`, "a=\xff", `a=1 a=2`, `plain text`, `a="\"`, `k=v=w`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := New(podconfig.Settings{Parse: "logfmt"}, nil, Options{})
		e := format.Entry{Stream: format.Stdout, Msg: msg}
		var out format.Entry
		c.Entry(&e, t0, func(o *format.Entry) { out = clone(o) })
		if out.ParseFailed {
			if out.Fields != nil || !bytes.Equal(out.Msg, msg) {
				t.Fatal("failed parse changed the entry")
			}
			return
		}
		if !json.Valid(out.Fields) || !utf8.Valid(out.Fields) {
			t.Fatalf("fields %q from %q", out.Fields, msg)
		}
		// An object of strings, each key once, and at least one key.
		dec := json.NewDecoder(bytes.NewReader(out.Fields))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object: %q", out.Fields)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, _ := dec.Token()
			v, err := dec.Token()
			if _, ok := v.(string); !ok || err != nil {
				t.Fatalf("value of %v is %v", k, v)
			}
			// Keys are compared as written: two keys that differ only in invalid UTF-8
			// can both become U+FFFD.
			if seen[k.(string)] && utf8.Valid(msg) {
				t.Fatalf("key %q twice in %s", k, out.Fields)
			}
			seen[k.(string)] = true
		}
		if len(seen) == 0 {
			t.Fatalf("no key: %s", out.Fields)
		}
		// Round trip: re-render the object as logfmt with every value quoted; it
		// parses back to the same object.
		var obj map[string]string
		if err := json.Unmarshal(out.Fields, &obj); err != nil {
			t.Fatal(err)
		}
		var re []byte
		for k, v := range obj {
			if strings.ContainsAny(k, " \t=\"") || !utf8.ValidString(k) || strings.ContainsFunc(k, func(r rune) bool { return r < ' ' }) || k == "" {
				return
			}
			q, _ := json.Marshal(v)
			re = append(re, k+"="...)
			re = append(re, q...)
			re = append(re, ' ')
		}
		e2 := format.Entry{Stream: format.Stdout, Msg: re}
		var out2 format.Entry
		c.Entry(&e2, t0, func(o *format.Entry) { out2 = clone(o) })
		var obj2 map[string]string
		if out2.ParseFailed || json.Unmarshal(out2.Fields, &obj2) != nil || len(obj2) != len(obj) {
			t.Fatalf("round trip of %q failed: %q", re, out2.Fields)
		}
		for k, v := range obj {
			if obj2[k] != v {
				t.Fatalf("round trip of %q: %q", re, out2.Fields)
			}
		}
	})
}
