package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// records decodes the JSON lines in buf.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{})
	l.Info("hello", "took", 1500*time.Millisecond, "n", 3,
		slog.Group("g", slog.Duration("d", 2*time.Minute)))
	l.With("wait", 250*time.Millisecond).Warn("second")

	recs := records(t, &buf)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2:\n%s", len(recs), buf.String())
	}
	r := recs[0]
	ts, ok := r["time"].(string)
	if !ok {
		t.Fatalf("time = %#v, want a string", r["time"])
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("time %q: %v", ts, err)
	}
	if r["level"] != "INFO" || r["msg"] != "hello" {
		t.Errorf("level, msg = %v, %v", r["level"], r["msg"])
	}
	if r["took"] != "1.5s" {
		t.Errorf("took = %#v, want \"1.5s\"", r["took"])
	}
	if r["n"] != float64(3) {
		t.Errorf("n = %#v, want 3", r["n"])
	}
	if g, _ := r["g"].(map[string]any); g == nil || g["d"] != "2m0s" {
		t.Errorf("g = %#v, want {d: 2m0s}", r["g"])
	}
	if _, ok := r[SuppressedKey]; ok {
		t.Errorf("unexpected %s on a first record", SuppressedKey)
	}
	if recs[1]["wait"] != "250ms" || recs[1]["level"] != "WARN" {
		t.Errorf("second record = %v", recs[1])
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Format: FormatText})
	l.Info("hello", "took", 1500*time.Millisecond)
	got := buf.String()
	for _, want := range []string{"level=INFO", "msg=hello", "took=1.5s"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
}

func TestUnknownFormatWarnsAndUsesJSON(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Format: "yaml"})
	l.Info("after")
	recs := records(t, &buf)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2:\n%s", len(recs), buf.String())
	}
	if recs[0]["level"] != "WARN" || recs[0]["format"] != "yaml" {
		t.Errorf("warning = %v", recs[0])
	}
	if recs[1]["msg"] != "after" {
		t.Errorf("record = %v", recs[1])
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{" WARN ", slog.LevelWarn, false},
		{"Error", slog.LevelError, false},
		{"", 0, true},
		{"warning", 0, true},
		{"trace", 0, true},
		{"info+2", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLevel(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLevelChangeAtRuntime(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	l := New(&buf, Options{Level: lv})
	derived := l.With("sink", "s1").WithGroup("g")

	l.Info("info 1")
	derived.Info("derived info 1")
	l.Warn("warn 1")

	if err := l.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	if lv.Level() != slog.LevelDebug {
		t.Errorf("caller's LevelVar = %v after SetLevel(debug)", lv.Level())
	}
	l.Debug("debug 1")
	derived.Debug("derived debug 1")

	lv.Set(slog.LevelError) // the caller changes it directly, as on a reload
	l.Warn("warn 2")
	derived.Warn("derived warn 2")
	l.Error("error 1")

	if err := l.SetLevel("loud"); err == nil {
		t.Error("SetLevel(loud) succeeded")
	}
	if lv.Level() != slog.LevelError {
		t.Errorf("level = %v after a failed SetLevel, want ERROR", lv.Level())
	}

	var msgs []string
	for _, r := range records(t, &buf) {
		msgs = append(msgs, r["msg"].(string))
	}
	want := []string{"warn 1", "debug 1", "derived debug 1", "error 1"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Errorf("written %q, want %q", msgs, want)
	}
}

func TestDefaultLevelIsInfo(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{})
	l.Debug("no")
	l.Info("yes")
	recs := records(t, &buf)
	if len(recs) != 1 || recs[0]["msg"] != "yes" {
		t.Errorf("got %v", recs)
	}
}

func TestEnabledShortCircuit(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	l := New(&buf, Options{Burst: 1, OnSuppressed: func(slog.Level) { calls++ }})
	derived := l.With("path", "/x").WithGroup("g")

	// With the limiter's lock held, a disabled call must still return: Enabled
	// must not lock.
	l.lim.mu.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			l.Debug("disabled")
			derived.Debug("disabled")
			_ = l.Handler().Enabled(context.Background(), slog.LevelDebug)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		l.lim.mu.Unlock()
		t.Fatal("a disabled log call blocked on the limiter's lock")
	}
	l.lim.mu.Unlock()

	if n := len(l.lim.keys); n != 0 {
		t.Errorf("%d rate-limit keys after disabled calls only", n)
	}
	if calls != 0 || buf.Len() != 0 {
		t.Errorf("OnSuppressed calls %d, output %q", calls, buf.String())
	}
	if a := testing.AllocsPerRun(100, func() { derived.Debug("disabled", "k", 1) }); a != 0 {
		t.Errorf("disabled call allocates %v times", a)
	}
}
