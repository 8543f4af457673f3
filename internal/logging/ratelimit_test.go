package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// suppressedOf returns the suppressed attribute of a decoded record, 0 if absent.
func suppressedOf(t *testing.T, r map[string]any) int {
	t.Helper()
	v, ok := r[SuppressedKey]
	if !ok {
		return 0
	}
	f, ok := v.(float64)
	if !ok || f <= 0 {
		t.Fatalf("%s = %#v, want a positive number", SuppressedKey, v)
	}
	return int(f)
}

func TestBurstAndWindow(t *testing.T) {
	type step struct {
		advance time.Duration // before logging
		n       int           // identical records logged
	}
	tests := []struct {
		name   string
		window time.Duration
		burst  int
		steps  []step
		// want has one element per record written: its suppressed count
		// (0: no attribute).
		want    []int
		dropped int
	}{
		{
			name: "within burst", window: 10 * time.Second, burst: 3,
			steps: []step{{0, 3}},
			want:  []int{0, 0, 0},
		},
		{
			name: "over burst drops", window: 10 * time.Second, burst: 3,
			steps:   []step{{0, 7}},
			want:    []int{0, 0, 0},
			dropped: 4,
		},
		{
			name: "count attached after the window rolls", window: 10 * time.Second, burst: 2,
			steps:   []step{{0, 5}, {10 * time.Second, 3}},
			want:    []int{0, 0, 3, 0},
			dropped: 4,
		},
		{
			name: "window not yet rolled", window: 10 * time.Second, burst: 2,
			steps:   []step{{0, 3}, {9999 * time.Millisecond, 1}, {time.Millisecond, 1}},
			want:    []int{0, 0, 2},
			dropped: 2,
		},
		{
			name: "window starts at the first record, not at a tick", window: 10 * time.Second, burst: 1,
			steps: []step{{0, 1}, {5 * time.Second, 1}, {5 * time.Second, 1}, {5 * time.Second, 1}},
			// t=0 pass, t=5 drop, t=10 pass(1) and restarts the window, t=15 drop
			want:    []int{0, 1},
			dropped: 2,
		},
		{
			name: "quiet windows carry no count", window: time.Second, burst: 1,
			steps: []step{{0, 1}, {time.Second, 1}, {time.Hour, 1}},
			want:  []int{0, 0, 0},
		},
		{
			name: "count survives empty windows", window: time.Second, burst: 1,
			steps:   []step{{0, 4}, {time.Hour, 1}},
			want:    []int{0, 3},
			dropped: 3,
		},
		{
			name: "clock going back restarts the window", window: 10 * time.Second, burst: 1,
			steps:   []step{{0, 2}, {-time.Second, 1}},
			want:    []int{0, 1},
			dropped: 1,
		},
		{
			name: "defaults: 5 per 10s", window: 0, burst: 0,
			steps:   []step{{0, 8}, {9 * time.Second, 1}, {time.Second, 1}},
			want:    []int{0, 0, 0, 0, 0, 4},
			dropped: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clk := newClock()
			var dropped int
			l := New(&buf, Options{
				Window: tt.window, Burst: tt.burst, Now: clk.Now,
				OnSuppressed: func(lv slog.Level) {
					if lv != slog.LevelWarn {
						t.Errorf("OnSuppressed level %v, want WARN", lv)
					}
					dropped++
				},
			})
			for _, s := range tt.steps {
				clk.Advance(s.advance)
				for range s.n {
					l.Warn("disk slow", "took", time.Second)
				}
			}
			recs := records(t, &buf)
			var got []int
			for _, r := range recs {
				if r["msg"] != "disk slow" || r["level"] != "WARN" || r["took"] != "1s" {
					t.Errorf("record changed: %v", r)
				}
				got = append(got, suppressedOf(t, r))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("suppressed per written record = %v, want %v", got, tt.want)
			}
			if dropped != tt.dropped {
				t.Errorf("OnSuppressed called %d times, want %d", dropped, tt.dropped)
			}
		})
	}
}

func TestLevelIsPartOfKey(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Burst: 1, Now: newClock().Now})
	l.Warn("same")
	l.Error("same")
	l.Warn("same")
	l.Warn("other")
	if got := len(records(t, &buf)); got != 3 {
		t.Errorf("wrote %d records, want 3", got)
	}
}

func TestKeyAttrs(t *testing.T) {
	type call struct {
		with []any // attrs added with With before logging
		args []any // attrs of the call
	}
	tests := []struct {
		name     string
		keyAttrs []string
		calls    []call
		written  int // with Burst 1 in one window: the number of distinct keys
	}{
		{
			name:  "no key attrs: message only",
			calls: []call{{args: []any{"path", "/a"}}, {args: []any{"path", "/b"}}},
			// the same message for different files is merged
			written: 1,
		},
		{
			name: "different values separate", keyAttrs: []string{"path", "sink"},
			calls:   []call{{args: []any{"path", "/a"}}, {args: []any{"path", "/b"}}, {args: []any{"path", "/a"}}},
			written: 2,
		},
		{
			name: "every key attr counts", keyAttrs: []string{"path", "sink"},
			calls: []call{
				{args: []any{"path", "/a", "sink", "s1"}},
				{args: []any{"path", "/a", "sink", "s2"}},
				{args: []any{"sink", "s1", "path", "/a"}}, // order does not matter
			},
			written: 2,
		},
		{
			name: "other attrs do not", keyAttrs: []string{"path"},
			calls:   []call{{args: []any{"path", "/a", "err", "e1"}}, {args: []any{"path", "/a", "err", "e2"}}},
			written: 1,
		},
		{
			name: "attrs from With count", keyAttrs: []string{"path", "sink"},
			calls: []call{
				{with: []any{"sink", "s1"}},
				{with: []any{"sink", "s2"}},
				{with: []any{"sink", "s1"}},
				{args: []any{"sink", "s1"}}, // the same key whichever way it was added
			},
			written: 2,
		},
		{
			name: "call attrs override With", keyAttrs: []string{"sink"},
			calls: []call{
				{with: []any{"sink", "s1"}, args: []any{"sink", "s2"}},
				{args: []any{"sink", "s2"}},
				{with: []any{"sink", "s2"}, args: []any{"sink", "s1"}},
				{args: []any{"sink", "s1"}},
			},
			written: 2,
		},
		{
			name: "absent differs from empty", keyAttrs: []string{"path"},
			calls:   []call{{}, {args: []any{"path", ""}}, {}},
			written: 2,
		},
		{
			name: "values are typed but unambiguous", keyAttrs: []string{"a", "b"},
			calls: []call{
				{args: []any{"a", "x", "b", "y"}},
				{args: []any{"a", "xy"}},
				{args: []any{"a", 1}},
				{args: []any{"a", "1"}},
				{args: []any{"a", 1}},
				{args: []any{"a", time.Second}},
				{args: []any{"a", 1.5}},
				{args: []any{"a", true}},
				{args: []any{"a", struct{ X int }{1}}},
			},
			written: 8,
		},
		{
			name: "inlined group attrs count", keyAttrs: []string{"path"},
			calls: []call{
				{args: []any{slog.Group("", "path", "/a")}},
				{args: []any{"path", "/a"}},
				{args: []any{slog.Group("file", "path", "/b")}}, // named groups are not searched
				{},
			},
			written: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, Options{Burst: 1, KeyAttrs: tt.keyAttrs, Now: newClock().Now})
			for _, c := range tt.calls {
				lg := l.Logger
				if c.with != nil {
					lg = lg.With(c.with...)
				}
				lg.Warn("cannot read", c.args...)
			}
			if got := len(records(t, &buf)); got != tt.written {
				t.Errorf("wrote %d records, want %d:\n%s", got, tt.written, buf.String())
			}
		})
	}
}

func TestWithGroupSharesState(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	l := New(&buf, Options{Burst: 1, KeyAttrs: []string{"path"}, Now: clk.Now})
	a := l.With("path", "/a")
	ga := a.WithGroup("req")
	ga.Warn("slow", "n", 1)
	a.Warn("slow")                              // same key through the parent: dropped
	l.WithGroup("x").Warn("slow", "path", "/a") // path inside a group still matches: dropped
	l.Warn("slow", "path", "/b")                // another key
	clk.Advance(DefaultWindow)
	ga.Warn("slow", "n", 2)

	recs := records(t, &buf)
	if len(recs) != 3 {
		t.Fatalf("wrote %d records, want 3:\n%s", len(recs), buf.String())
	}
	last := recs[2]
	req, _ := last["req"].(map[string]any)
	if last["path"] != "/a" || req == nil || req["n"] != float64(2) {
		t.Errorf("last record = %v", last)
	}
	// The count is a record attribute, so it lands in the open group.
	if req[SuppressedKey] != float64(2) {
		t.Errorf("req.%s = %v, want 2 (last record %v)", SuppressedKey, req[SuppressedKey], last)
	}
}

func TestFlush(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	l := New(&buf, Options{Burst: 1, KeyAttrs: []string{"path"}, Now: clk.Now})

	s1 := l.With("sink", "s1")
	for range 4 {
		s1.Warn("cannot read", "path", "/a", "err", "EIO")
	}
	for range 3 {
		l.Error("sink down")
	}
	l.Info("once") // nothing pending for this key
	for range 2 {
		s1.Warn("cannot read", "path", "/b")
	}
	buf.Reset()
	clk.Advance(time.Second)

	l.Flush()
	recs := records(t, &buf)
	type sum struct {
		level, msg, path, sink string
		n                      int
	}
	var got []sum
	for _, r := range recs {
		s := sum{level: r["level"].(string), msg: r["msg"].(string), n: suppressedOf(t, r)}
		s.path, _ = r["path"].(string)
		s.sink, _ = r["sink"].(string)
		if _, ok := r["err"]; ok {
			t.Errorf("summary carries a non-key attribute: %v", r)
		}
		if ts, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil || !ts.Equal(clk.Now()) {
			t.Errorf("summary time %v, want the clock's %v", r["time"], clk.Now())
		}
		got = append(got, s)
	}
	want := []sum{
		{"WARN", "cannot read (repeats suppressed)", "/a", "s1", 3},
		{"ERROR", "sink down (repeats suppressed)", "", "", 2},
		{"WARN", "cannot read (repeats suppressed)", "/b", "s1", 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Flush wrote\n%v\nwant\n%v", got, want)
	}

	// Counts are reset: a second Flush writes nothing, and the next record
	// that passes carries no count.
	buf.Reset()
	l.Flush()
	if buf.Len() != 0 {
		t.Errorf("second Flush wrote %q", buf.String())
	}
	clk.Advance(DefaultWindow)
	l.Error("sink down")
	recs = records(t, &buf)
	if len(recs) != 1 || suppressedOf(t, recs[0]) != 0 {
		t.Errorf("after Flush: %v", recs)
	}
}

func TestFlushSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Burst: 1})
	l.Info("a")
	l.Info("a")
	l.Warn("b")
	l.Warn("b")
	if err := l.SetLevel("warn"); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	l.Flush()
	recs := records(t, &buf)
	if len(recs) != 1 || recs[0]["msg"] != "b (repeats suppressed)" {
		t.Errorf("Flush wrote %v", recs)
	}
}

func TestOnSuppressedMayLog(t *testing.T) {
	var buf bytes.Buffer
	var l *Logger
	l = New(&buf, Options{Burst: 1, OnSuppressed: func(slog.Level) { l.Info("dropped one") }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Info("x")
		l.Info("x")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logging from OnSuppressed deadlocked")
	}
}

func TestEvictionBound(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	var dropped int
	l := New(&buf, Options{Burst: 1, KeyAttrs: []string{"path"}, Now: clk.Now,
		OnSuppressed: func(slog.Level) { dropped++ }})

	// The oldest key has a pending count.
	l.Warn("cannot read", "path", "/first")
	l.Warn("cannot read", "path", "/first")
	clk.Advance(time.Millisecond)
	for i := range MaxKeys - 1 {
		l.Warn("cannot read", "path", fmt.Sprint("/f", i))
	}
	if n := len(l.lim.keys); n != MaxKeys {
		t.Fatalf("%d keys tracked, want %d", n, MaxKeys)
	}
	buf.Reset()

	// One more key: the oldest is evicted and its count written right away.
	clk.Advance(time.Millisecond)
	l.Warn("cannot read", "path", "/new")
	if n := len(l.lim.keys); n != MaxKeys {
		t.Errorf("%d keys tracked, want the bound %d", n, MaxKeys)
	}
	if _, ok := l.lim.keys[keyOf(l, slog.LevelWarn, "cannot read", "path", "/first")]; ok {
		t.Error("the oldest key was not the one evicted")
	}
	recs := records(t, &buf)
	if len(recs) != 2 {
		t.Fatalf("wrote %d records, want the eviction summary and the new one:\n%s", len(recs), buf.String())
	}
	if recs[0]["msg"] != "cannot read (repeats suppressed)" || recs[0]["path"] != "/first" || suppressedOf(t, recs[0]) != 1 {
		t.Errorf("eviction summary = %v", recs[0])
	}
	if recs[1]["path"] != "/new" {
		t.Errorf("new record = %v", recs[1])
	}

	// Many more keys never grow the table, and an evicted key starts afresh.
	for i := range 3 * MaxKeys {
		l.Warn("cannot read", "path", fmt.Sprint("/g", i))
	}
	if n := len(l.lim.keys); n > MaxKeys {
		t.Errorf("%d keys tracked, over the bound %d", n, MaxKeys)
	}
	checkList(t, l.lim)
	if dropped != 1 {
		t.Errorf("%d records dropped, want 1", dropped)
	}
}

func TestExpiredKeysPruned(t *testing.T) {
	clk := newClock()
	l := New(io.Discard, Options{Burst: 1, Window: time.Second, KeyAttrs: []string{"path"}, Now: clk.Now})
	for i := range 100 {
		l.Warn("x", "path", fmt.Sprint(i))
	}
	clk.Advance(time.Second)
	l.Warn("x", "path", "new")
	if n := len(l.lim.keys); n != 1 {
		t.Errorf("%d keys after every other window expired, want 1", n)
	}
	checkList(t, l.lim)
}

func TestSmallTableEvictsOldestWindow(t *testing.T) {
	clk := newClock()
	var buf bytes.Buffer
	l := New(&buf, Options{Burst: 1, KeyAttrs: []string{"k"}, Now: clk.Now})
	l.lim.maxKeys = 3
	l.Warn("m", "k", "a") // t=0
	clk.Advance(5 * time.Second)
	l.Warn("m", "k", "b") // t=5
	clk.Advance(time.Second)
	l.Warn("m", "k", "c") // t=6
	clk.Advance(4 * time.Second)
	// t=10: "a"'s window restarts, so "b" is now the oldest, and no window
	// has expired, so nothing is pruned.
	l.Warn("m", "k", "a")
	l.Warn("m", "k", "d")
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := l.lim.keys[keyOf(l, slog.LevelWarn, "m", "k", k)]; !ok {
			t.Errorf("key %q evicted", k)
		}
	}
	if len(l.lim.keys) != 3 {
		t.Errorf("%d keys, want 3", len(l.lim.keys))
	}
	checkList(t, l.lim)
}

// keyOf returns the rate-limit key of a record logged through l.
func keyOf(l *Logger, level slog.Level, msg string, args ...any) string {
	r := slog.NewRecord(time.Time{}, level, msg, 0)
	r.Add(args...)
	return string(l.Handler().(*rateHandler).appendKey(nil, r))
}

// checkList verifies that the list and the map hold the same entries.
func checkList(t *testing.T, l *limiter) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	var prev *entry
	for e := l.head; e != nil; e = e.next {
		if e.prev != prev {
			t.Fatal("broken prev link")
		}
		if l.keys[e.key] != e {
			t.Fatalf("list entry %q not in the map", e.key)
		}
		prev = e
		n++
	}
	if prev != l.tail || n != len(l.keys) {
		t.Fatalf("list has %d entries, map %d", n, len(l.keys))
	}
}

// lineCounter counts the records written and the suppressed counts they carry,
// wherever they are (at the top level or in the group "g").
type lineCounter struct {
	mu         sync.Mutex
	records    int // logged records written (summaries excluded)
	summaries  int
	suppressed int
	errs       []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			c.errs = append(c.errs, fmt.Sprintf("bad JSON line %q: %v", line, err))
			continue
		}
		if msg, _ := r["msg"].(string); strings.HasSuffix(msg, summarySuffix) {
			c.summaries++
		} else {
			c.records++
		}
		for _, m := range []map[string]any{r, func() map[string]any { g, _ := r["g"].(map[string]any); return g }()} {
			if f, ok := m[SuppressedKey].(float64); ok {
				c.suppressed += int(f)
			}
		}
	}
	return len(p), nil
}

func TestConcurrent(t *testing.T) {
	out := &lineCounter{}
	var dropped atomic.Int64
	clk := newClock()
	l := New(out, Options{
		Burst: 3, Window: time.Second, KeyAttrs: []string{"path", "sink"}, Now: clk.Now,
		OnSuppressed: func(slog.Level) { dropped.Add(1) },
	})
	l.lim.maxKeys = 12 // 15 keys: eviction under contention too

	const workers, perWorker = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lg := l.With("sink", fmt.Sprint("s", w%3))
			if w%2 == 0 {
				lg = lg.WithGroup("g")
			}
			for i := range perWorker {
				lg.Warn("busy", "path", fmt.Sprint("/f", i%5), "i", i)
				if i%100 == 0 {
					clk.Advance(100 * time.Millisecond)
				}
			}
		}()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.Flush()
			_ = l.SetLevel("info")
			l.Debug("never written")
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	l.Flush()
	checkList(t, l.lim)

	out.mu.Lock()
	defer out.mu.Unlock()
	total := workers * perWorker
	for _, e := range out.errs {
		t.Error(e)
	}
	if got := out.records + int(dropped.Load()); got != total {
		t.Errorf("written %d + dropped %d = %d, want %d", out.records, dropped.Load(), got, total)
	}
	if int64(out.suppressed) != dropped.Load() {
		t.Errorf("suppressed counts written %d, records dropped %d: counts were lost", out.suppressed, dropped.Load())
	}
	t.Logf("written %d, dropped %d, summaries %d", out.records, dropped.Load(), out.summaries)
	if dropped.Load() == 0 || out.summaries == 0 {
		t.Errorf("dropped %d, summaries %d: the test exercised nothing", dropped.Load(), out.summaries)
	}
}

func BenchmarkPassThrough(b *testing.B) {
	for _, bc := range []struct {
		name     string
		keyAttrs []string
	}{{"message-key", nil}, {"attr-key", []string{"path", "sink"}}} {
		b.Run(bc.name, func(b *testing.B) {
			l := New(io.Discard, Options{Burst: 1 << 30, KeyAttrs: bc.keyAttrs}).With("sink", "s1")
			b.ReportAllocs()
			for b.Loop() {
				l.Info("read chunk", "path", "/var/log/pods/a/b/0.log", "bytes", 4096)
			}
		})
	}
}

func BenchmarkSuppressed(b *testing.B) {
	for _, bc := range []struct {
		name     string
		keyAttrs []string
	}{{"message-key", nil}, {"attr-key", []string{"path", "sink"}}} {
		b.Run(bc.name, func(b *testing.B) {
			l := New(io.Discard, Options{Burst: 1, Window: time.Hour, KeyAttrs: bc.keyAttrs}).With("sink", "s1")
			l.Warn("cannot read", "path", "/var/log/pods/a/b/0.log", "bytes", 4096)
			b.ReportAllocs()
			for b.Loop() {
				l.Warn("cannot read", "path", "/var/log/pods/a/b/0.log", "bytes", 4096)
			}
		})
	}
}

func BenchmarkDisabled(b *testing.B) {
	l := New(io.Discard, Options{KeyAttrs: []string{"path"}}).With("sink", "s1")
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("read chunk", "path", "/var/log/pods/a/b/0.log", "bytes", 4096)
	}
}
