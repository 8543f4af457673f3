package process

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

// TestPresetSamples feeds real stack traces of each language (testdata/<preset>.txt:
// the program's output, with a "---8<---" line between the records expected) on one
// stream and checks the records, their offsets and flags.
func TestPresetSamples(t *testing.T) {
	for _, preset := range podconfig.Presets() {
		t.Run(preset, func(t *testing.T) {
			recs := readRecords(t, filepath.Join("testdata", preset+".txt"))
			f := newFeeder(New(multilineSettings(preset, ""), nil, Options{}))
			var inputs []format.Entry
			for _, r := range recs {
				for _, l := range r {
					inputs = append(inputs, f.line(format.Stderr, l))
				}
			}
			f.flush()
			got := f.take()
			if len(got) != len(recs) {
				t.Errorf("%d records, want %d", len(got), len(recs))
			}
			i := 0
			for n, r := range recs {
				if n >= len(got) {
					break
				}
				e := got[n]
				want := strings.Join(r, "\n")
				if string(e.Msg) != want {
					t.Errorf("record %d:\n%s\nwant:\n%s", n, e.Msg, want)
				}
				first, last := inputs[i], inputs[i+len(r)-1]
				if e.Offset != first.Offset || e.End != last.End || !e.Time.Equal(first.Time) {
					t.Errorf("record %d: offset, end, time = %d, %d, %v; want %d, %d, %v", n, e.Offset, e.End, e.Time, first.Offset, last.End, first.Time)
				}
				if e.Multiline != (len(r) > 1) || e.Stream != format.Stderr || e.Truncated || e.Partial {
					t.Errorf("record %d: multiline %v stream %v truncated %v partial %v", n, e.Multiline, e.Stream, e.Truncated, e.Partial)
				}
				i += len(r)
			}
		})
	}
}

// TestPresetRules checks the lines each preset's doc comment names.
func TestPresetRules(t *testing.T) {
	tests := []struct {
		preset string
		lines  []string
		want   []string // records, lines joined by "|"
	}{
		{"java", []string{"Exception in thread \"main\" java.lang.Error: x", "\tat a.B.c(B.java:1)", "at d.E.f(E.java:2)",
			"Caused by: java.io.IOException: y", "\t... 5 common frames omitted", "... 3 more", "...not a frame", ""},
			[]string{"Exception in thread \"main\" java.lang.Error: x|\tat a.B.c(B.java:1)|at d.E.f(E.java:2)|Caused by: java.io.IOException: y|\t... 5 common frames omitted|... 3 more",
				"...not a frame", ""}},
		{"java", []string{"a\r", "  b\r", "c\r"}, []string{"a\r|  b\r", "c\r"}},
		{"go", []string{"SIGQUIT: quit", "PC=0x46ef61 m=0 sigcode=0", "", "goroutine 0 gp=0x5e6b00 m=0 mp=0x5e7560 [idle]:",
			"runtime.futex(0x5e76a0, 0x80, 0x0)", "\t/usr/local/go/src/runtime/sys_linux_amd64.s:557 +0x21", "...additional frames elided...",
			"rax    0xca", "rip    0x46ef61", "exit status 2", "level=info msg=next"},
			[]string{"SIGQUIT: quit|PC=0x46ef61 m=0 sigcode=0||goroutine 0 gp=0x5e6b00 m=0 mp=0x5e7560 [idle]:|runtime.futex(0x5e76a0, 0x80, 0x0)|\t/usr/local/go/src/runtime/sys_linux_amd64.s:557 +0x21|...additional frames elided...|rax    0xca|rip    0x46ef61|exit status 2",
				"level=info msg=next"}},
		{"go", []string{"runtime: goroutine stack exceeds 1000000000-byte limit", "runtime: sp=0xc020160398 stack=[0xc020160000, 0xc040160000]",
			"fatal error: stack overflow", "", "runtime stack:", "runtime.throw({0x4b2b1c?, 0x0?})", "{\"level\":\"info\",\"msg\":\"f(x)\"}"},
			[]string{"runtime: goroutine stack exceeds 1000000000-byte limit|runtime: sp=0xc020160398 stack=[0xc020160000, 0xc040160000]|fatal error: stack overflow||runtime stack:|runtime.throw({0x4b2b1c?, 0x0?})",
				"{\"level\":\"info\",\"msg\":\"f(x)\"}"}},
		{"go", []string{"recovered: boom", "goroutine 7 [running]:", "runtime/debug.Stack()", "a", "b"},
			[]string{"recovered: boom|goroutine 7 [running]:|runtime/debug.Stack()", "a", "b"}},
		{"go", []string{"  indented outside a trace", "goroutinex 1"}, []string{"  indented outside a trace", "goroutinex 1"}},
		{"python", []string{"Traceback (most recent call last):", "  File \"a.py\", line 1, in <module>", "ValueError: x", "", "", "next"},
			[]string{"Traceback (most recent call last):|  File \"a.py\", line 1, in <module>|ValueError: x||", "next"}},
		{"python", []string{"a", "b", "Traceback (most recent call last):", "  File \"a.py\", line 1", "E: x", "Traceback (most recent call last):", "  File \"b.py\", line 1", "F: y"},
			[]string{"a", "b|Traceback (most recent call last):|  File \"a.py\", line 1|E: x", "Traceback (most recent call last):|  File \"b.py\", line 1|F: y"}},
		{"ruby", []string{"app.rb:1:in `x': boom (RuntimeError)", "app.rb:2:in `y': not a cause (KeyError)", "lib/a.rb:3:in `block in z'", "lib/a.rb:3:in `z': cause (E)", "lib/a.rb:3 in `z'"},
			[]string{"app.rb:1:in `x': boom (RuntimeError)", "app.rb:2:in `y': not a cause (KeyError)|lib/a.rb:3:in `block in z'|lib/a.rb:3:in `z': cause (E)", "lib/a.rb:3 in `z'"}},
		{"dotnet", []string{"Unhandled exception. System.Exception: x", "---> System.IO.IOException: y", "--- End of inner exception stack trace ---", "File name: 'a'", "next"},
			[]string{"Unhandled exception. System.Exception: x|---> System.IO.IOException: y|--- End of inner exception stack trace ---|File name: 'a'", "next"}},
	}
	for _, tt := range tests {
		t.Run(tt.preset+"/"+tt.lines[0], func(t *testing.T) {
			f := newFeeder(New(multilineSettings(tt.preset, ""), nil, Options{}))
			f.lines(format.Stdout, tt.lines...)
			f.flush()
			var got []string
			for _, e := range f.take() {
				got = append(got, strings.ReplaceAll(string(e.Msg), "\n", "|"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestCustomStartAndLimits(t *testing.T) {
	type rec struct {
		msg       string
		truncated bool
	}
	tests := []struct {
		name     string
		maxLines int
		maxBytes int
		lines    []string
		want     []rec
		stats    [4]int64 // MultilineGroups, LimitedGroups, TruncatedGroups, TruncatedBytes
	}{
		{"groups", 500, 1 << 10, []string{"  orphan", "2026 a", " b", " c", "2026 d", "2026 e", " f"},
			[]rec{{"  orphan", false}, {"2026 a\n b\n c", false}, {"2026 d", false}, {"2026 e\n f", false}}, [4]int64{2, 0, 0, 0}},
		{"max lines", 3, 1 << 10, []string{"2026 a", " 1", " 2", " 3", " 4", "2026 b"},
			[]rec{{"2026 a\n 1\n 2", false}, {" 3\n 4", false}, {"2026 b", false}}, [4]int64{2, 1, 0, 0}},
		{"max bytes splits without loss", 1000, 10, []string{"2026 a", " 1234", " 5", "2026 b"},
			[]rec{{"2026 a", false}, {" 1234\n 5", false}, {"2026 b", false}}, [4]int64{1, 1, 0, 0}},
		{"a line longer than max bytes is cut", 1000, 10, []string{"2026 0123456789abc", " x"},
			[]rec{{"2026 01234", true}, {" x", false}}, [4]int64{0, 1, 1, 8}},
		{"the cut does not split a rune", 1000, 10, []string{"2026 \u00e9\u00e9\u00e9", " x"},
			[]rec{{"2026 \u00e9\u00e9", true}, {" x", false}}, [4]int64{0, 1, 1, 2}},
		{"one line groups", 1, 1 << 10, []string{"2026 a", " b"},
			[]rec{{"2026 a", false}, {" b", false}}, [4]int64{0, 2, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := podconfig.Settings{Multiline: &podconfig.Multiline{Start: regexp.MustCompile(`^2026 `),
				MaxLines: tt.maxLines, MaxBytes: tt.maxBytes, Timeout: time.Second}}
			c := New(s, nil, Options{})
			f := newFeeder(c)
			f.lines(format.Stdout, tt.lines...)
			f.flush()
			var got []rec
			for _, e := range f.take() {
				got = append(got, rec{string(e.Msg), e.Truncated})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records %+v, want %+v", got, tt.want)
			}
			st := c.Stats()
			if g := [4]int64{st.MultilineGroups.Load(), st.LimitedGroups.Load(), st.TruncatedGroups.Load(), st.TruncatedBytes.Load()}; g != tt.stats {
				t.Errorf("stats (multiline, limited, truncated, truncated bytes) = %v, want %v", g, tt.stats)
			}
		})
	}
}

// TestInterleavedStreams interleaves two Java traces on stdout and stderr line by
// line: each stream's lines form their own groups, and Pending follows the oldest
// held line.
func TestInterleavedStreams(t *testing.T) {
	c := New(multilineSettings("java", ""), nil, Options{})
	f := newFeeder(c)
	out := []string{"java.lang.Error: out", "\tat a.A.a(A.java:1)", "\tat a.A.b(A.java:2)", "next out"}
	errs := []string{"java.lang.Error: err", "\tat b.B.a(B.java:1)", "Caused by: x", "next err"}
	var offs []int64
	for i := range out {
		offs = append(offs, f.line(format.Stdout, out[i]).Offset)
		offs = append(offs, f.line(format.Stderr, errs[i]).Offset)
		if i < 3 {
			if p, ok := c.Pending(); !ok || p != offs[0] {
				t.Fatalf("after line pair %d: Pending = %d, %v; want %d (the first stdout line)", i, p, ok, offs[0])
			}
		}
	}
	// "next out" ended the stdout group; "next err" the stderr group.
	got := f.take()
	want := []string{strings.Join(out[:3], "\n"), strings.Join(errs[:3], "\n")}
	if !slices.Equal(msgs(got), want) {
		t.Fatalf("records %q, want %q", msgs(got), want)
	}
	if got[0].Stream != format.Stdout || got[1].Stream != format.Stderr || got[0].Offset != offs[0] || got[1].Offset != offs[1] {
		t.Fatalf("streams/offsets: %+v", got)
	}
	if p, ok := c.Pending(); !ok || p != offs[6] {
		t.Fatalf("Pending = %d, %v; want %d (next out)", p, ok, offs[6])
	}
	f.flush()
	if got := msgs(f.take()); !slices.Equal(got, []string{"next out", "next err"}) {
		t.Fatalf("flush: %q, want stdout's then stderr's held line, in offset order", got)
	}
	if _, ok := c.Pending(); ok {
		t.Fatal("Pending after Flush")
	}
}

func TestPendingDuringEmit(t *testing.T) {
	c := New(multilineSettings("java", ""), nil, Options{})
	var pending []bool
	emit := func(*format.Entry) { _, ok := c.Pending(); pending = append(pending, ok) }
	for i, m := range []string{"a", "b"} {
		e := format.Entry{Stream: format.Stdout, Msg: []byte(m), Offset: int64(i * 2), End: int64(i*2 + 2)}
		c.Entry(&e, t0, emit)
	}
	c.Flush(emit)
	// A group no longer counts as held while it is emitted; "b", whose arrival ends
	// the group of "a", is taken after that emit.
	if !slices.Equal(pending, []bool{false, false}) {
		t.Fatalf("Pending during emit = %v", pending)
	}
}

func TestTimeout(t *testing.T) {
	c := New(multilineSettings("java", ""), nil, Options{})
	f := newFeeder(c)
	f.lines(format.Stdout, "java.lang.Error: x", "\tat a.A.a(A.java:1)")
	outLast := f.now
	f.now = f.now.Add(1500 * time.Millisecond)
	f.lines(format.Stderr, "err line")
	errLast := f.now
	if c.Due(outLast.Add(1999 * time.Millisecond)) {
		t.Fatal("due before the timeout")
	}
	at := outLast.Add(2 * time.Second)
	if !c.Due(at) {
		t.Fatal("not due at the timeout")
	}
	c.FlushDue(at, f.emit)
	if got := msgs(f.take()); !slices.Equal(got, []string{"java.lang.Error: x\n\tat a.A.a(A.java:1)"}) {
		t.Fatalf("FlushDue emitted %q, want only the stdout group", got)
	}
	if p, ok := c.Pending(); !ok || p == 0 {
		t.Fatalf("the stderr line should still be held: %d, %v", p, ok)
	}
	if c.Due(at) || !c.Due(errLast.Add(2*time.Second)) {
		t.Fatal("stderr group due too early or not at all")
	}
	// A continuation arriving after a timed-out group is a group of its own.
	f.lines(format.Stdout, "\tat late(A.java:2)")
	f.flush()
	if got := msgs(f.take()); !slices.Equal(got, []string{"err line", "\tat late(A.java:2)"}) {
		t.Fatalf("flush emitted %q", got)
	}
	if c.Due(errLast.Add(time.Hour)) {
		t.Fatal("due with nothing held")
	}
}

// TestStatePerStream checks that a preset's state machine is per stream: a Go trace
// on stderr does not make stdout lines continuations.
func TestStatePerStream(t *testing.T) {
	f := newFeeder(New(multilineSettings("go", ""), nil, Options{}))
	f.line(format.Stderr, "panic: boom")
	f.line(format.Stdout, "main.main()")
	f.line(format.Stderr, "main.main()")
	f.line(format.Stdout, "\tnot a trace line")
	f.flush()
	by := map[format.Stream][]string{}
	for _, e := range f.take() {
		by[e.Stream] = append(by[e.Stream], string(e.Msg))
	}
	if !slices.Equal(by[format.Stderr], []string{"panic: boom\nmain.main()"}) ||
		!slices.Equal(by[format.Stdout], []string{"main.main()", "\tnot a trace line"}) {
		t.Fatalf("records by stream %q", by)
	}
}
