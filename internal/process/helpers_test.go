package process

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// feeder makes entries with consecutive file offsets (as if each line and its '\n'
// were one physical line) and collects what a chain emits, deep-copied.
type feeder struct {
	c    *Chain
	off  int64
	n    int
	now  time.Time
	out  []format.Entry
	emit func(*format.Entry)
}

func newFeeder(c *Chain) *feeder {
	f := &feeder{c: c, now: t0}
	f.emit = func(e *format.Entry) { f.out = append(f.out, clone(e)) }
	return f
}

// line feeds msg on stream s; each line is 1ms after the previous one.
func (f *feeder) line(s format.Stream, msg string) format.Entry {
	e := format.Entry{Time: t0.Add(time.Duration(f.n) * time.Millisecond), Stream: s, Msg: []byte(msg),
		Offset: f.off, End: f.off + int64(len(msg)) + 1}
	f.off = e.End
	f.n++
	f.now = f.now.Add(time.Millisecond)
	f.c.Entry(&e, f.now, f.emit)
	return e
}

func (f *feeder) lines(s format.Stream, msgs ...string) {
	for _, m := range msgs {
		f.line(s, m)
	}
}

func (f *feeder) flush() { f.c.Flush(f.emit) }

// take returns and forgets what was emitted so far.
func (f *feeder) take() []format.Entry {
	out := f.out
	f.out = nil
	return out
}

func clone(e *format.Entry) format.Entry {
	c := *e
	if e.Msg != nil {
		c.Msg = append([]byte{}, e.Msg...)
	}
	if e.Fields != nil {
		c.Fields = append([]byte{}, e.Fields...)
	}
	return c
}

func msgs(es []format.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Msg))
	}
	return out
}

func multilineSettings(preset string, start string) podconfig.Settings {
	m := &podconfig.Multiline{Preset: preset, MaxLines: 500, MaxBytes: 256 << 10, Timeout: 2 * time.Second}
	if start != "" {
		m.Preset, m.Start = "", regexp.MustCompile(start)
	}
	return podconfig.Settings{Multiline: m}
}

// sep separates the expected records in testdata files.
const sep = "---8<---"

// readRecords reads a testdata file: the expected records, each a list of lines.
func readRecords(t testing.TB, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]string
	var cur []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == sep {
			recs = append(recs, cur)
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	return append(recs, cur)
}
