package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// criLines renders messages as containerd CRI lines.
func criLines(msgs ...string) string {
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "2026-11-22T10:00:%02d.%09dZ stdout F %s\n", i%60, i+1, m)
	}
	return b.String()
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func gzipFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(dst, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func messages(rs []rec) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message
	}
	return out
}

// checkExactly asserts that got holds every want message exactly once, in order.
func checkExactly(t *testing.T, got []rec, want []string) {
	t.Helper()
	g := messages(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d records, want %d\n got: %v\nwant: %v", len(g), len(want), abbreviate(g), abbreviate(want))
	}
}

func abbreviate(s []string) string {
	if len(s) <= 12 {
		return fmt.Sprint(s)
	}
	return fmt.Sprint(s[:6], " ... ", s[len(s)-6:])
}

func containerDir(t *testing.T, root string) string {
	dir := filepath.Join(root, "pods", "ns_pod_uid", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRotationRenameWithLateWrites(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criLines(seq("a", 0, 50)...))
	stop := startAgent(t, testConfig(t, root))
	out := filepath.Join(root, "out.json")
	waitFor(t, "first lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 50 })
	// The kubelet renames; the runtime writes a few more lines to the renamed file
	// before it reopens; then the new file gets lines.
	rotated := live + ".20261122-100000"
	w, err := os.OpenFile(live, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(live, rotated); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // 0.log missing for a moment: normal
	w.WriteString(criLines(seq("late", 0, 5)...))
	w.Close()
	appendFile(t, live, criLines(seq("b", 0, 50)...))
	want := append(append(seq("a", 0, 50), seq("late", 0, 5)...), seq("b", 0, 50)...)
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	stop()
	checkExactly(t, readRecords(t, out), want)
}

func TestGzipBackfillAfterDowntime(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	out := filepath.Join(root, "out.json")
	appendFile(t, live, criLines(seq("a", 0, 20)...))
	cfg := testConfig(t, root)
	stop := startAgent(t, cfg)
	waitFor(t, "first lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })
	stop()
	// While the agent is down: more lines, then two kubelet rotations; the first
	// rotation is gzipped and its plain file removed.
	appendFile(t, live, criLines(seq("b", 0, 20)...))
	r1 := live + ".20261122-100000"
	os.Rename(live, r1)
	appendFile(t, live, criLines(seq("c", 0, 20)...))
	gzipFile(t, r1, r1+".gz")
	os.Remove(r1)
	r2 := live + ".20261122-100010"
	os.Rename(live, r2)
	appendFile(t, live, criLines(seq("d", 0, 20)...))
	stop = startAgent(t, cfg)
	want := append(append(append(seq("a", 0, 20), seq("b", 0, 20)...), seq("c", 0, 20)...), seq("d", 0, 20)...)
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	time.Sleep(100 * time.Millisecond)
	stop()
	checkExactly(t, readRecords(t, out), want)
}

func TestPlainAndGzipCopyReadOnce(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	rotated := live + ".20261122-100000"
	appendFile(t, rotated, criLines(seq("a", 0, 30)...))
	gzipFile(t, rotated, rotated+".gz") // the kubelet's compression is half done
	os.WriteFile(rotated+".gz.tmp", []byte("partial"), 0o644)
	appendFile(t, live, criLines(seq("b", 0, 30)...))
	out := filepath.Join(root, "out.json")
	stop := startAgent(t, testConfig(t, root))
	want := append(seq("a", 0, 30), seq("b", 0, 30)...)
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	os.Remove(rotated) // compression finishes
	time.Sleep(300 * time.Millisecond)
	stop()
	checkExactly(t, readRecords(t, out), want)
}

func TestRestartFilesReadInOrder(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	appendFile(t, filepath.Join(dir, "1.log"), criLines(seq("second", 0, 40)...))
	appendFile(t, filepath.Join(dir, "0.log"), criLines(seq("first", 0, 40)...))
	out := filepath.Join(root, "out.json")
	stop := startAgent(t, testConfig(t, root))
	want := append(seq("first", 0, 40), seq("second", 0, 40)...)
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	stop()
	got := readRecords(t, out)
	checkExactly(t, got, want)
	if got[0].Kubernetes.Container.RestartCount != 0 || got[79].Kubernetes.Container.RestartCount != 1 {
		t.Fatalf("restart counts: %d, %d", got[0].Kubernetes.Container.RestartCount, got[79].Kubernetes.Container.RestartCount)
	}
}

func TestTruncationRestartsAtZero(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criLines(seq("a", 0, 30)...))
	out := filepath.Join(root, "out.json")
	a, stop := runWrapped(t, testConfig(t, root), func(s sink.Sink) sink.Sink { return s })
	waitFor(t, "first lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 30 })
	if err := os.Truncate(live, 0); err != nil { // copytruncate
		t.Fatal(err)
	}
	appendFile(t, live, criLines(seq("b", 0, 3)...))
	waitFor(t, "lines after truncation", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 33 })
	stop()
	checkExactly(t, readRecords(t, out), append(seq("a", 0, 30), seq("b", 0, 3)...))
	if n := a.Tails().Stats().Truncations.Load(); n != 1 {
		t.Fatalf("truncations counted %d, want 1", n)
	}
}

// gateSink holds every batch until opened.
type gateSink struct {
	sink.Sink
	open chan struct{}
}

func (g *gateSink) Consume(ctx context.Context, b *pipeline.Batch) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Sink.Consume(ctx, b)
}

func TestDeletedFileHeldUntilAcknowledged(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criLines(seq("a", 0, 100)...))
	cfg := testConfig(t, root)
	cfg.Pipeline.MaxBufferBytes = 1 << 20
	cfg.Pipeline.ReadQuantum = 4 << 10 // many small chunks
	gate := make(chan struct{})
	a, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return &gateSink{Sink: s, open: gate} })
	waitFor(t, "the file to be opened", 5*time.Second, func() bool { return len(a.Tails().Files()) == 1 })
	os.Remove(live) // the container is removed while its lines are in flight
	time.Sleep(200 * time.Millisecond)
	close(gate)
	out := filepath.Join(root, "out.json")
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 100 })
	waitFor(t, "the deleted file to be released", 5*time.Second, func() bool { return len(a.Tails().Files()) == 0 })
	stop()
	checkExactly(t, readRecords(t, out), seq("a", 0, 100))
	if lost := a.Tails().Stats().LostBytes.Load(); lost != 0 {
		t.Fatalf("lost %d bytes", lost)
	}
}

func TestDeletedBudgetCountsLoss(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criLines(seq("a", 0, 30000)...)) // more than the buffer holds
	cfg := testConfig(t, root)
	cfg.Sources.DeletedBudget = 1024
	cfg.Pipeline.MaxBufferBytes = 1 << 20
	cfg.Pipeline.ReadQuantum = 4 << 10
	gate := make(chan struct{})
	var once sync.Once
	a, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return &gateSink{Sink: s, open: gate} })
	waitFor(t, "the file to be opened", 5*time.Second, func() bool { return len(a.Tails().Files()) == 1 })
	os.Remove(live)
	waitFor(t, "the loss to be counted", 5*time.Second, func() bool { return a.Tails().Stats().LostBytes.Load() > 0 })
	once.Do(func() { close(gate) })
	stop()
	lost := a.Tails().Stats().Lost()
	if lost[filepath.Join(root, "pods", "ns_pod_uid", "app")] == 0 {
		t.Fatalf("loss not counted per container: %v", lost)
	}
}

func TestLegacyLayout(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "0b1c-uid")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "app_0.log"), criLines(seq("app", 0, 20)...))
	appendFile(t, filepath.Join(dir, "db_0.log"), criLines(seq("db", 0, 20)...))
	out := filepath.Join(root, "out.json")
	stop := startAgent(t, testConfig(t, root))
	waitFor(t, "all lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 40 })
	appendFile(t, filepath.Join(dir, "app_1.log"), criLines(seq("app1", 0, 5)...)) // a restart
	waitFor(t, "the restart's lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 45 })
	stop()
	byContainer := map[string][]string{}
	for _, r := range readRecords(t, out) {
		if r.Kubernetes.Pod.UID != "0b1c-uid" {
			t.Fatalf("record without the pod uid from the legacy path: %+v", r.Kubernetes)
		}
		byContainer[r.Kubernetes.Container.Name] = append(byContainer[r.Kubernetes.Container.Name], r.Message)
	}
	if got, want := strings.Join(byContainer["app"], ","), strings.Join(append(seq("app", 0, 20), seq("app1", 0, 5)...), ","); got != want {
		t.Fatalf("app lines = %s\nwant %s", got, want)
	}
	if got := len(byContainer["db"]); got != 20 {
		t.Fatalf("db lines = %d", got)
	}
}

// A slow sink pauses reading at the memory budget; nothing is dropped, and everything
// arrives once the sink accepts again.
func TestBackpressurePausesReading(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	appendFile(t, filepath.Join(dir, "0.log"), criLines(seq("a", 0, 60000)...)) // ~3 MB, ~20 MB encoded
	cfg := testConfig(t, root)
	cfg.Pipeline.MaxBufferBytes = 1 << 20
	gate := make(chan struct{})
	a, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return &gateSink{Sink: s, open: gate} })
	waitFor(t, "the file to be opened", 5*time.Second, func() bool { return len(a.Tails().Files()) == 1 })
	time.Sleep(300 * time.Millisecond)
	f := a.Tails().Files()[0]
	if f.Offset >= f.Size {
		t.Fatalf("read the whole file (%d of %d bytes) although the sink accepted nothing", f.Offset, f.Size)
	}
	if f.Committed != 0 {
		t.Fatalf("committed %d bytes that no sink acknowledged", f.Committed)
	}
	close(gate)
	out := filepath.Join(root, "out.json")
	waitFor(t, "all lines", 20*time.Second, func() bool { return len(readRecords(t, out)) >= 60000 })
	stop()
	checkExactly(t, readRecords(t, out), seq("a", 0, 60000))
}

// One container with a large backlog does not hold back another container's line:
// groups take turns of one read quantum each, so the quiet container's line leaves
// after at most a quantum or two of the noisy one, not after its whole backlog. A slow
// sink keeps the backlog in the files (backpressure), which is when fairness matters.
func TestFairReading(t *testing.T) {
	root := t.TempDir()
	noisy := containerDir(t, root)
	appendFile(t, filepath.Join(noisy, "0.log"), criLines(seq("noisy", 0, 40000)...)) // ~2 MB
	quiet := filepath.Join(root, "pods", "ns_quiet_uid2", "app")
	if err := os.MkdirAll(quiet, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(quiet, "0.log"), criLines("quiet line"))
	cfg := testConfig(t, root)
	cfg.Pipeline.Workers = 1
	cfg.Pipeline.ReadQuantum = 64 << 10
	cfg.Pipeline.MaxBufferBytes = 1 << 20
	_, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return &slowSink{Sink: s, delay: 20 * time.Millisecond} })
	out := filepath.Join(root, "out.json")
	waitFor(t, "the quiet line", 30*time.Second, func() bool {
		for _, r := range readRecords(t, out) {
			if r.Message == "quiet line" {
				return true
			}
		}
		return false
	})
	stop()
	noisyBefore := 0
	for _, r := range readRecords(t, out) {
		if r.Message == "quiet line" {
			break
		}
		noisyBefore++
	}
	// One 64 KiB quantum is ~1,300 of these lines; allow a few turns.
	if noisyBefore > 10000 {
		t.Fatalf("the quiet container's line waited for %d noisy lines", noisyBefore)
	}
	t.Logf("quiet line shipped after %d of 40000 noisy lines", noisyBefore)
}

// slowSink takes delay for every batch.
type slowSink struct {
	sink.Sink
	delay time.Duration
}

func (s *slowSink) Consume(ctx context.Context, b *pipeline.Batch) error {
	time.Sleep(s.delay)
	return s.Sink.Consume(ctx, b)
}

// runWrapped runs an agent whose sinks are wrapped by wrap (to slow or gate them) and
// returns a function that stops it and waits.
func runWrapped(t *testing.T, cfg *config.Config, wrap func(sink.Sink) sink.Sink) (*Agent, func()) {
	t.Helper()
	return run(t, cfg, Options{Logger: testLogger(t), NewSink: func(c config.Sink, l *slog.Logger) (sink.Sink, error) {
		s, err := BuildSink(c, l)
		if err != nil {
			return nil, err
		}
		return wrap(s), nil
	}})
}

// An orphan partial line (a P record never followed by its F, as containerd leaves at
// exit) is shipped after partial_flush_timeout, flagged partial; a long line written
// slowly, piece by piece, is not cut by that timeout while its pieces keep coming.
func TestPartialLineTimeout(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	cfg := testConfig(t, root)
	cfg.Sources.PartialFlushTimeout = 300 * time.Millisecond
	out := filepath.Join(root, "out.json")
	_, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return s })
	defer stop()
	// Slow pieces: one every 100 ms for 800 ms, then the final piece.
	for i := 0; i < 8; i++ {
		appendFile(t, live, fmt.Sprintf("2026-11-22T10:00:00.%09dZ stdout P piece%d-\n", i+1, i))
		time.Sleep(100 * time.Millisecond)
	}
	appendFile(t, live, "2026-11-22T10:00:01.000000000Z stdout F end\n")
	waitFor(t, "the slow line", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 1 })
	// An orphan piece.
	appendFile(t, live, "2026-11-22T10:00:02.000000000Z stderr P orphan\n")
	waitFor(t, "the orphan piece", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 2 })
	got := readRecords(t, out)
	if len(got) != 2 {
		t.Fatalf("got %d records: %v", len(got), messages(got))
	}
	if want := "piece0-piece1-piece2-piece3-piece4-piece5-piece6-piece7-end"; got[0].Message != want || len(got[0].Log.Flags) != 0 {
		t.Fatalf("slow line = %q %v, want %q unflagged", got[0].Message, got[0].Log.Flags, want)
	}
	if got[1].Message != "orphan" || len(got[1].Log.Flags) != 1 || got[1].Log.Flags[0] != "partial" {
		t.Fatalf("orphan = %q %v, want flagged partial", got[1].Message, got[1].Log.Flags)
	}
}

// read_from: end starts the files found at the agent's first start after their last
// complete line (rotated files are skipped); files that appear later start at 0.
func TestReadFromEndOnFirstStart(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live+".20261122-090000", criLines(seq("old-rotated", 0, 5)...))
	appendFile(t, live, criLines(seq("old", 0, 10)...)+"2026-11-22T10:00:00.5Z stdout F incomp") // an incomplete last line
	cfg := testConfig(t, root)
	cfg.Sources.ReadFrom = "end"
	out := filepath.Join(root, "out.json")
	a, stop := runWrapped(t, cfg, func(s sink.Sink) sink.Sink { return s })
	waitFor(t, "the live file to be opened", 5*time.Second, func() bool { return len(a.Tails().Files()) == 1 })
	time.Sleep(100 * time.Millisecond) // its first turn: nothing to read
	appendFile(t, live, "lete\n"+criLines(seq("new", 0, 5)...))
	other := filepath.Join(root, "pods", "ns_later_uid3", "app")
	os.MkdirAll(other, 0o755)
	appendFile(t, filepath.Join(other, "0.log"), criLines(seq("later", 0, 3)...))
	waitFor(t, "new lines", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 9 })
	stop()
	got := map[string]bool{}
	for _, m := range messages(readRecords(t, out)) {
		got[m] = true
	}
	for _, m := range append(append([]string{"incomplete"}, seq("new", 0, 5)...), seq("later", 0, 3)...) {
		if !got[m] {
			t.Errorf("missing %q (got %v)", m, messages(readRecords(t, out)))
		}
	}
	if len(got) != 9 {
		t.Errorf("got %d records, want 9 (nothing from before the start): %v", len(got), messages(readRecords(t, out)))
	}
}
