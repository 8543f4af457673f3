package process

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

func TestPassThrough(t *testing.T) {
	tests := []struct {
		name string
		s    podconfig.Settings
	}{
		{"zero", podconfig.Settings{}},
		{"settings that are not the processors'", podconfig.Settings{Route: "r", SilenceAfter: time.Minute,
			Files: []podconfig.FileSpec{{Container: "app", Path: "/a.log"}}, RateLimit: &podconfig.RateLimit{Lines: 1}}},
		{"unknown preset", podconfig.Settings{Multiline: &podconfig.Multiline{Preset: "cobol"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.s, nil, Options{})
			e := &format.Entry{Stream: format.Stdout, Msg: []byte("x")}
			var got []*format.Entry
			c.Entry(e, t0, func(o *format.Entry) { got = append(got, o) })
			if len(got) != 1 || got[0] != e {
				t.Fatalf("emitted %v, want the entry itself", got)
			}
			if _, ok := c.Pending(); ok || c.Due(t0.Add(time.Hour)) {
				t.Fatal("pass-through chain holds something")
			}
			c.Flush(func(*format.Entry) { t.Fatal("flush emitted") })
		})
	}
}

func TestExclude(t *testing.T) {
	c := New(podconfig.Settings{Exclude: true, Multiline: &podconfig.Multiline{Preset: "java"}}, nil, Options{})
	f := newFeeder(c)
	f.lines(format.Stdout, "a", "\tb")
	f.flush()
	if len(f.out) != 0 || c.Stats().Excluded.Load() != 2 {
		t.Fatalf("emitted %d, excluded %d", len(f.out), c.Stats().Excluded.Load())
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		fields string // "" means the parse fails
	}{
		{"object", `{"level":"info","msg":"sent","n":1.50}`, `{"level":"info","msg":"sent","n":1.50}`},
		{"compacted", "{ \"a\" : [1, 2],\n  \"b\": {\"c\": null} }", `{"a":[1,2],"b":{"c":null}}`},
		{"trailing CR", "{\"a\":1}\r", `{"a":1}`},
		{"surrounding spaces", "  {\"a\":1}  ", `{"a":1}`},
		{"empty object", `{}`, `{}`},
		{"duplicate keys kept", `{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{"invalid UTF-8 repaired", "{\"a\":\"x\xffy\"}", `{"a":"x\ufffdy"}`},
		{"escapes kept", `{"a":"\u00e9\n"}`, `{"a":"\u00e9\n"}`},
		{"array", `[1,2]`, ""},
		{"string", `"x"`, ""},
		{"plain text", `GET /healthz 200`, ""},
		{"truncated", `{"a":1`, ""},
		{"trailing data", `{"a":1} extra`, ""},
		{"two objects", `{"a":1}{"b":2}`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(podconfig.Settings{Parse: "json", ParseKey: "app"}, nil, Options{})
			f := newFeeder(c)
			f.line(format.Stdout, tt.msg)
			got := f.take()
			if len(got) != 1 {
				t.Fatalf("%d records", len(got))
			}
			e := got[0]
			if tt.fields == "" {
				if !e.ParseFailed || e.Fields != nil || string(e.Msg) != tt.msg || c.Stats().ParseFailures.Load() != 1 {
					t.Fatalf("failure: got %+v", e)
				}
				return
			}
			if e.ParseFailed || string(e.Fields) != tt.fields || e.FieldsKey != "app" || e.Msg != nil {
				t.Fatalf("got fields %s key %q msg %q failed %v; want %s", e.Fields, e.FieldsKey, e.Msg, e.ParseFailed, tt.fields)
			}
			if !json.Valid(e.Fields) || !utf8.Valid(e.Fields) {
				t.Fatal("fields not valid JSON / UTF-8")
			}
			if e.FieldsRepaired != !utf8.ValidString(tt.msg) {
				t.Fatalf("FieldsRepaired %v for %q", e.FieldsRepaired, tt.msg)
			}
		})
	}
}

func TestParseLogfmt(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		fields string // "" means the parse fails
	}{
		{"pairs", `level=info msg=sent took=12ms`, `{"level":"info","msg":"sent","took":"12ms"}`},
		{"quoted", `msg="order \"A-17\" sent" path="C:\\tmp" nl="a\nb"`, `{"msg":"order \"A-17\" sent","path":"C:\\tmp","nl":"a\nb"}`},
		{"unicode escapes", `a="\u00e9\ud83d\ude00" b="\ud800"`, `{"a":"é😀","b":"` + "\ufffd" + `"}`},
		{"empty values", `a= b="" c=1`, `{"a":"","b":"","c":"1"}`},
		{"= in bare value", `url=/a?b=c&d=e`, `{"url":"/a?b=c\u0026d=e"}`},
		{"tabs and CR", "a=1\tb=2\r", `{"a":"1","b":"2"}`},
		{"last duplicate wins", `a=1 b=2 a=3`, `{"b":"2","a":"3"}`},
		{"odd keys escaped", `k.x/y=1 <k>=2`, `{"k.x/y":"1","\u003ck\u003e":"2"}`},
		{"invalid UTF-8", "a=x\xffy", `{"a":"x\ufffdy"}`},
		{"bare word", `level=info starting`, ""},
		{"plain text", `Starting server on :8080`, ""},
		{"unterminated quote", `a="x`, ""},
		{"quote in bare value", `a=x"y`, ""},
		{"junk after quote", `a="x"y`, ""},
		{"bad escape", `a="\x"`, ""},
		{"short unicode escape", `a="\u12"`, ""},
		{"key with quote", `"a"=1`, ""},
		{"no key", `=1`, ""},
		{"control char", "a=1\x01b=2", ""},
		{"empty", ``, ""},
		{"spaces only", `   `, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(podconfig.Settings{Parse: "logfmt"}, nil, Options{})
			f := newFeeder(c)
			f.line(format.Stdout, tt.msg)
			e := f.take()[0]
			if tt.fields == "" {
				if !e.ParseFailed || e.Fields != nil || string(e.Msg) != tt.msg {
					t.Fatalf("want a failure, got fields %s failed %v", e.Fields, e.ParseFailed)
				}
				return
			}
			if e.ParseFailed || e.FieldsKey != "fields" || e.Msg != nil {
				t.Fatalf("got failed %v key %q msg %q", e.ParseFailed, e.FieldsKey, e.Msg)
			}
			if e.FieldsRepaired != !utf8.ValidString(tt.msg) {
				t.Fatalf("FieldsRepaired %v for %q", e.FieldsRepaired, tt.msg)
			}
			var got, want map[string]string
			if err := json.Unmarshal(e.Fields, &got); err != nil {
				t.Fatalf("fields %s: %v", e.Fields, err)
			}
			if err := json.Unmarshal([]byte(tt.fields), &want); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("fields %s, want %s", e.Fields, tt.fields)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("fields %s, want %s", e.Fields, tt.fields)
				}
			}
		})
	}
	t.Run("many pairs with duplicates", func(t *testing.T) {
		c := New(podconfig.Settings{Parse: "logfmt"}, nil, Options{})
		msg := []byte("dup=first")
		for i := range 100 {
			msg = append(msg, " k"...)
			msg = append(msg, byte('a'+i%26), byte('a'+i/26))
			msg = append(msg, "=v"...)
		}
		msg = append(msg, " dup=last"...)
		f := newFeeder(c)
		f.line(format.Stdout, string(msg))
		var got map[string]string
		if err := json.Unmarshal(f.take()[0].Fields, &got); err != nil || len(got) != 101 || got["dup"] != "last" {
			t.Fatalf("%d keys, dup=%q, err %v", len(got), got["dup"], err)
		}
	})
}

func TestIncludeDrop(t *testing.T) {
	lines := []string{"GET /healthz 200", "GET /orders 200", "POST /orders 500", "DEBUG cache hit", "kube-probe/1.30"}
	res := func(exprs ...string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, e := range exprs {
			out = append(out, regexp.MustCompile(e))
		}
		return out
	}
	tests := []struct {
		name          string
		include, drop []*regexp.Regexp
		want          []string
	}{
		{"drop", nil, res(`/healthz`, `^DEBUG`), []string{"GET /orders 200", "POST /orders 500", "kube-probe/1.30"}},
		{"include", res(`/orders`), nil, []string{"GET /orders 200", "POST /orders 500"}},
		{"include any", res(`500$`, `^kube`), nil, []string{"POST /orders 500", "kube-probe/1.30"}},
		{"drop wins", res(`/orders`), res(`^POST`), []string{"GET /orders 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(podconfig.Settings{Include: tt.include, Drop: tt.drop}, nil, Options{})
			f := newFeeder(c)
			f.lines(format.Stdout, lines...)
			if got := msgs(f.take()); !slices.Equal(got, tt.want) {
				t.Fatalf("kept %q, want %q", got, tt.want)
			}
			if n := c.Stats().Filtered.Load(); n != int64(len(lines)-len(tt.want)) {
				t.Fatalf("Filtered = %d", n)
			}
		})
	}
}

// clock is a settable time source for limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiter(t *testing.T) {
	type step struct {
		after time.Duration // clock advance before the call
		bytes int
		want  bool
	}
	tests := []struct {
		name  string
		r     podconfig.RateLimit
		steps []step
	}{
		{"lines with default burst", podconfig.RateLimit{Lines: 2},
			[]step{{0, 1, true}, {0, 1, true}, {0, 1, false}, {500 * time.Millisecond, 1, true}, {0, 1, false}, {10 * time.Second, 1, true}, {0, 1, true}, {0, 1, false}}},
		{"lines burst", podconfig.RateLimit{Lines: 1, Burst: 3},
			[]step{{0, 9, true}, {0, 9, true}, {0, 9, true}, {0, 9, false}, {time.Second, 9, true}}},
		{"fraction of a line per second", podconfig.RateLimit{Lines: 0.5},
			[]step{{0, 1, true}, {time.Second, 1, false}, {time.Second, 1, true}}},
		{"bytes", podconfig.RateLimit{Bytes: 100, Burst: 100},
			[]step{{0, 60, true}, {0, 60, false}, {0, 40, true}, {0, 1, false}, {time.Second, 100, true}, {0, 0, true}}},
		{"line longer than the byte burst passes on a full bucket", podconfig.RateLimit{Bytes: 100, Burst: 100},
			[]step{{0, 250, true}, {time.Second, 10, false}, {2 * time.Second, 10, true}}},
		{"no limit", podconfig.RateLimit{}, []step{{0, 1 << 20, true}, {0, 1 << 20, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: t0}
			l := NewLimiter(tt.r, clk.now)
			for i, s := range tt.steps {
				clk.add(s.after)
				if got := l.Allow(s.bytes); got != s.want {
					t.Fatalf("step %d: Allow(%d) = %v, want %v", i, s.bytes, got, s.want)
				}
			}
		})
	}
}

// TestLimiterSharedByPod: two containers' chains share their pod's limiter, from two
// goroutines.
func TestLimiterSharedByPod(t *testing.T) {
	clk := &clock{t: t0}
	l := NewLimiter(podconfig.RateLimit{Lines: 100}, clk.now)
	var stats Stats
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := 0
	for range 2 {
		c := New(podconfig.Settings{}, l, Options{Stats: &stats})
		wg.Go(func() {
			for i := range 1000 {
				e := format.Entry{Stream: format.Stdout, Msg: []byte("x"), Offset: int64(i)}
				c.Entry(&e, t0, func(*format.Entry) { mu.Lock(); kept++; mu.Unlock() })
			}
		})
	}
	wg.Wait()
	if kept != 100 || stats.RateLimitedLines.Load() != 1900 || stats.RateLimitedBytes.Load() != 1900 {
		t.Fatalf("kept %d, rate-limited %d lines %d bytes; want 100 kept of 2000", kept, stats.RateLimitedLines.Load(), stats.RateLimitedBytes.Load())
	}
}

// TestCombination runs multiline, JSON parsing, drop and the rate limit together, with
// lines chosen so that any other order gives a different result:
//   - the first record is a JSON object written over two lines: it parses only because
//     multiline joined it first, and it takes one rate-limit token, not two;
//   - a dropped line that is not JSON still counts as a parse failure: parsing ran
//     before the drop;
//   - dropped records take no token: with a budget of 3 records, the three records that
//     survive the drop pass and only the fourth is rate-limited.
func TestCombination(t *testing.T) {
	clk := &clock{t: t0}
	s := podconfig.Settings{
		Multiline: &podconfig.Multiline{Start: regexp.MustCompile(`^\{`), MaxLines: 10, MaxBytes: 1 << 10, Timeout: time.Second},
		Parse:     "json", ParseKey: "fields",
		Drop: []*regexp.Regexp{regexp.MustCompile(`"level":"debug"`), regexp.MustCompile(`^\{oops`)},
	}
	c := New(s, NewLimiter(podconfig.RateLimit{Lines: 3, Burst: 3}, clk.now), Options{})
	f := newFeeder(c)
	f.lines(format.Stdout,
		`{"level":"info","msg":"one",`,
		`  "user":"ann"}`,
		`{"level":"debug","msg":"noise"}`,
		`{oops not json`,
		`{"level":"info","msg":"two"}`,
		`{"level":"warn","msg":"three"}`,
		`{"level":"info","msg":"four"}`,
	)
	f.flush()
	got := f.take()
	var fields []string
	for _, e := range got {
		fields = append(fields, string(e.Fields))
	}
	want := []string{`{"level":"info","msg":"one","user":"ann"}`, `{"level":"info","msg":"two"}`, `{"level":"warn","msg":"three"}`}
	if !slices.Equal(fields, want) {
		t.Fatalf("records %q, want %q", fields, want)
	}
	if !got[0].Multiline || got[0].Offset != 0 || got[0].Msg != nil || got[1].Multiline {
		t.Fatalf("first record: %+v", got[0])
	}
	st := c.Stats()
	if st.MultilineGroups.Load() != 1 || st.ParseFailures.Load() != 1 || st.Filtered.Load() != 2 || st.RateLimitedLines.Load() != 1 {
		t.Fatalf("stats: multiline %d, parse failures %d, filtered %d, rate-limited %d; want 1, 1, 2, 1",
			st.MultilineGroups.Load(), st.ParseFailures.Load(), st.Filtered.Load(), st.RateLimitedLines.Load())
	}
	if st.RateLimitedBytes.Load() != int64(len(`{"level":"info","msg":"four"}`)) {
		t.Fatalf("rate-limited bytes %d", st.RateLimitedBytes.Load())
	}
}

func TestAttrsAndFlagsCarried(t *testing.T) {
	c := New(multilineSettings("java", ""), nil, Options{})
	attrs := []format.Attr{{Key: "k", Value: "v"}}
	f := newFeeder(c)
	e1 := format.Entry{Stream: format.Stdout, Msg: []byte("java.lang.Error: x"), Offset: 10, End: 30, Attrs: attrs, Partial: false}
	e2 := format.Entry{Stream: format.Stdout, Msg: []byte("\tat a.b(C.java:1)"), Offset: 30, End: 50, Truncated: true, Partial: true}
	c.Entry(&e1, t0, f.emit)
	e1.Msg[0] = 'X' // the decoder reuses its buffers: the chain must have copied
	c.Entry(&e2, t0, f.emit)
	f.flush()
	got := f.take()
	if len(got) != 1 {
		t.Fatalf("%d records", len(got))
	}
	g := got[0]
	if string(g.Msg) != "java.lang.Error: x\n\tat a.b(C.java:1)" || g.Offset != 10 || g.End != 50 || !g.Truncated || !g.Partial || len(g.Attrs) != 1 {
		t.Fatalf("got %+v", g)
	}
}

// TestParseBuffersReleased: the buffers one huge message grew are let go once small
// messages no longer need them.
func TestParseBuffersReleased(t *testing.T) {
	for _, parse := range []string{"json", "logfmt"} {
		t.Run(parse, func(t *testing.T) {
			c := New(podconfig.Settings{Parse: parse}, nil, Options{})
			f := newFeeder(c)
			big := `{"a":"` + strings.Repeat("x\xff", 200<<10) + `"}`
			small := `{"a":1}`
			if parse == "logfmt" {
				big, small = strings.Repeat("k=\"\\n\" ", 100<<10), "a=1"
			}
			f.line(format.Stdout, big)
			if c.jbuf.Cap()+cap(c.fields)+cap(c.lf.vals) <= retainBytes {
				t.Fatal("the big message did not grow the buffers")
			}
			for range releaseAfter + 1 {
				f.line(format.Stdout, small)
			}
			if n := c.jbuf.Cap() + cap(c.fields) + cap(c.lf.vals) + 40*cap(c.lf.pairs); n > 4*retainBytes {
				t.Fatalf("%d bytes of buffers kept", n)
			}
			for _, e := range f.take() {
				if e.ParseFailed {
					t.Fatalf("parse failed: %.40q", e.Msg)
				}
			}
		})
	}
}
