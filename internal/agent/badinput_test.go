package agent

// Bad input: every kind of broken, hostile or unlucky input a node can present is
// logged (naming what was wrong and where), counted, and contained: the lines before
// and after it, and every other container's lines, still arrive exactly once and in
// order. Each test runs the real agent on real files in a temporary directory.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/testenv"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/config"
)

// logBuf collects the agent's log lines (and passes them on to t.Log) so that tests
// can assert that a problem was reported.
type logBuf struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (b *logBuf) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	b.mu.Lock()
	b.lines = append(b.lines, s)
	b.mu.Unlock()
	b.t.Log(s)
	return len(p), nil
}

// find returns the first line that contains every one of subs, or "".
func (b *logBuf) find(subs ...string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines {
		if containsAll(l, subs...) {
			return l
		}
	}
	return ""
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// waitLog waits for a log line containing every one of subs and returns it.
func waitLog(t *testing.T, logs *logBuf, subs ...string) string {
	t.Helper()
	var line string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if line = logs.find(subs...); line != "" {
			return line
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line contains all of %q; the log:\n%s", subs, logs)
	return ""
}

// runAgent starts an agent whose log is captured; stop cancels it and waits for Run.
func runAgent(t *testing.T, cfg *config.Config) (a *Agent, logs *logBuf, stop func()) {
	t.Helper()
	logs = &logBuf{t: t}
	a, stop = run(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(stop)
	return a, logs, stop
}

// cri renders one containerd CRI line; i makes the timestamp unique.
func cri(i int, msg string) string {
	return fmt.Sprintf("2026-11-22T10:%02d:%02d.%09dZ stdout F %s\n", i/60%60, i%60, i+1, msg)
}

// criSeq renders the lines prefix-from .. prefix-(to-1).
func criSeq(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(cri(i, fmt.Sprintf("%s-%04d", prefix, i)))
	}
	return b.String()
}

// dockerSeq renders docker json-file lines prefix-from .. prefix-(to-1).
func dockerSeq(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"log":"%s-%04d\n","stream":"stdout","time":"2026-11-22T10:%02d:%02d.%09dZ"}`+"\n",
			prefix, i, i/60%60, i%60, i+1)
	}
	return b.String()
}

// ofContainer returns the records of one container, in output order.
func ofContainer(rs []rec, name string) []rec {
	var out []rec
	for _, r := range rs {
		if r.Kubernetes.Container.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// ofPath returns the records read from files under dir, in output order.
func ofPath(rs []rec, dir string) []rec {
	var out []rec
	for _, r := range rs {
		if strings.HasPrefix(r.Log.File.Path, dir+string(filepath.Separator)) {
			out = append(out, r)
		}
	}
	return out
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// badLine is one bad physical line (without its '\n') and the malformed reason it is
// counted under; reason "" means the line is not malformed and yields a record whose
// message is msg.
type badLine struct {
	line   string
	reason string
	msg    string
}

// TestBadLinesAreCountedAndSkipped covers lines the CRI decoder must reject or repair.
// Each case's bad lines sit between good lines of one container, once in the file the
// agent finds at start and once appended while it runs; a second container is read
// alongside. Rejected lines are counted by reason and logged with the file's path and
// the line's offset; every good line arrives exactly once, in order.
func TestBadLinesAreCountedAndSkipped(t *testing.T) {
	cases := []struct {
		name string
		bad  []badLine
	}{
		{"garbage", []badLine{
			{line: "garbage", reason: "short_line"},
			{line: "", reason: "short_line"},
			{line: "\x00\x01\x02\xff\xfe", reason: "short_line"},
			{line: "2026-11-22T10:00:00Z stdout", reason: "short_line"},
			{line: `{"some":"json"} is not cri`, reason: "bad_timestamp"},
			{line: "2026-11-22T10:00:00Z stdout X no such tag", reason: "bad_tag"},
			{line: "\x1b[31mcolour codes and\ttabs\x1b[0m", reason: "bad_timestamp"},
		}},
		{"unknown_stream", []badLine{
			{line: "2026-11-22T10:00:00.5Z stdxx F msg", reason: "bad_stream"},
			{line: "2026-11-22T10:00:00.5Z STDOUT F msg", reason: "bad_stream"},
			{line: "2026-11-22T10:00:00.5Z stdin F msg", reason: "bad_stream"},
		}},
		{"impossible_timestamp", []badLine{
			{line: "2026-13-01T10:00:00Z stdout F month thirteen", reason: "bad_timestamp"},
			{line: "2026-02-30T10:00:00Z stdout F february thirtieth", reason: "bad_timestamp"},
			{line: "2025-02-29T10:00:00Z stdout F not a leap year", reason: "bad_timestamp"},
			{line: "2026-11-22T24:00:00Z stdout F hour twenty-four", reason: "bad_timestamp"},
		}},
		{"invalid_utf8", []badLine{
			{line: "2026-11-22T10:00:00.5Z stdout F caf\xe9 ok \xff\xfe end", msg: "caf\ufffd ok \ufffd\ufffd end"},
			{line: "2026-11-22T10:00:00.6Z stdout F cut rune x\xe6\x97", msg: "cut rune x\ufffd\ufffd"},
			{line: "2026-11-22T10:00:00.7Z stdout F \xc0\xafslash \"quoted\" \\ back", msg: "\ufffd\ufffdslash \"quoted\" \\ back"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			appDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "app")
			otherDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "other")
			mkdirs(t, appDir, otherDir)
			app, other := filepath.Join(appDir, "0.log"), filepath.Join(otherDir, "0.log")

			var bad strings.Builder
			var badMsgs []string
			wantMalformed := map[string]int64{}
			firstOffset := map[string]int{} // reason -> offset of its first line
			before := criSeq("a", 0, 10)
			for _, b := range tc.bad {
				if b.reason == "" {
					badMsgs = append(badMsgs, b.msg)
				} else {
					if _, ok := firstOffset[b.reason]; !ok {
						firstOffset[b.reason] = len(before) + bad.Len()
					}
					wantMalformed[b.reason] += 2 // in the file at start and appended later
				}
				bad.WriteString(b.line + "\n")
			}
			appendFile(t, app, before+bad.String()+criSeq("b", 10, 20))
			appendFile(t, other, criSeq("o", 0, 20))

			a, logs, stop := runAgent(t, testConfig(t, root))
			out := filepath.Join(root, "out.json")
			n := 20 + len(badMsgs) + 20
			waitFor(t, "the lines present at start", 10*time.Second, func() bool { return len(readRecords(t, out)) >= n })
			appendFile(t, app, bad.String()+criSeq("c", 20, 30))
			appendFile(t, other, criSeq("o", 20, 30))
			n += len(badMsgs) + 10 + 10
			waitFor(t, "the appended lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= n })
			// Every rejected line is logged with the file, the line's offset and the reason.
			for reason, off := range firstOffset {
				waitLog(t, logs, "malformed line skipped", "path="+app, "offset="+strconv.Itoa(off), reason,
					"line at offset "+strconv.Itoa(off)+": ")
			}
			stop()

			got := readRecords(t, out)
			want := slices.Concat(seq("a", 0, 10), badMsgs, seq("b", 10, 20), badMsgs, seq("c", 20, 30))
			checkExactly(t, ofContainer(got, "app"), want)
			checkExactly(t, ofContainer(got, "other"), seq("o", 0, 30))
			if len(got) != len(want)+30 {
				t.Fatalf("%d records, want %d", len(got), len(want)+30)
			}
			if m := a.Tails().Stats().Malformed(); !maps.Equal(m, wantMalformed) {
				t.Fatalf("malformed counts = %v, want %v", m, wantMalformed)
			}
			if len(badMsgs) > 0 {
				checkRawOutputValid(t, out, len(got))
				// Repaired lines are flagged, counted and logged with where they are.
				flagged := 0
				for _, r := range got {
					if slices.Contains(r.Log.Flags, "invalid_utf8") {
						flagged++
					}
				}
				if n := a.Tails().Stats().InvalidUTF8.Load(); flagged != 2*len(badMsgs) || n != int64(flagged) {
					t.Fatalf("%d records flagged invalid_utf8, %d counted; want %d", flagged, n, 2*len(badMsgs))
				}
				waitLog(t, logs, "invalid UTF-8", "path="+app)
			}
		})
	}
}

// checkRawOutputValid asserts that every output line is valid UTF-8 and valid JSON
// (readRecords alone would not notice invalid UTF-8: encoding/json repairs it).
func checkRawOutputValid(t *testing.T, path string, records int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != records {
		t.Fatalf("%d output lines, want %d", len(lines), records)
	}
	replaced := 0
	for i, l := range lines {
		if !utf8.Valid(l) || !json.Valid(l) {
			t.Fatalf("output line %d is not valid UTF-8 JSON: %q", i, l)
		}
		if bytes.Contains(l, []byte(`\ufffd`)) {
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatal("no output line carries an escaped U+FFFD")
	}
}

// TestHugeLineIsTruncatedWithBoundedMemory writes a 50 MiB line, without its newline,
// to a file being read, then (later) the newline and more lines. The agent must send
// one record with the line's first max_line_bytes flagged "truncated", skip the rest
// without holding it in memory, count what it dropped, and go on with the next lines.
func TestHugeLineIsTruncatedWithBoundedMemory(t *testing.T) {
	root := t.TempDir()
	appDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "app")
	otherDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "other")
	mkdirs(t, appDir, otherDir)
	app, other := filepath.Join(appDir, "0.log"), filepath.Join(otherDir, "0.log")
	appendFile(t, app, criSeq("a", 0, 10))
	appendFile(t, other, criSeq("o", 0, 10))

	const maxLine = 64 << 10
	cfg := testConfig(t, root)
	cfg.Sources.MaxLineBytes = maxLine
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, logs, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the first lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })

	// Heap in use is sampled while the line is written and read; the test itself
	// writes from one reused 1 MiB buffer.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var peak atomic.Uint64
	peak.Store(baseline)
	sampleDone, sampleStop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampleDone)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-sampleStop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	hugeAt, err := os.Stat(app)
	if err != nil {
		t.Fatal(err)
	}
	head := "2026-11-22T10:00:30.000000001Z stdout F "
	const body = 50 << 20
	f, err := os.OpenFile(app, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(head); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for written := 0; written < body; written += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	appendFile(t, other, criSeq("o", 10, 20)) // another container is read meanwhile
	// The truncated record leaves before the line ends, and the rest of the line is
	// skipped as it is read.
	waitFor(t, "the truncated record and the other container's lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 31 })
	waitFor(t, "the reader to skip to the end of the unfinished line", 10*time.Second, func() bool {
		for _, fs := range a.Tails().Files() {
			if fs.Path == app {
				return fs.Offset == fs.Size && fs.Size == hugeAt.Size()+int64(len(head)+body)
			}
		}
		return false
	})
	appendFile(t, app, "\n"+criSeq("b", 10, 20))
	appendFile(t, other, criSeq("o", 20, 30))
	waitFor(t, "the lines after the huge line", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 51 })
	close(sampleStop)
	<-sampleDone
	waitLog(t, logs, "max_line_bytes", "path="+app, "offset="+strconv.FormatInt(hugeAt.Size(), 10))
	stop()

	got := readRecords(t, out)
	truncated := strings.Repeat("x", maxLine-len(head))
	checkExactly(t, ofContainer(got, "app"), slices.Concat(seq("a", 0, 10), []string{truncated}, seq("b", 10, 20)))
	checkExactly(t, ofContainer(got, "other"), seq("o", 0, 30))
	tr := ofContainer(got, "app")[10]
	if !slices.Contains(tr.Log.Flags, "truncated") || tr.Log.Offset != hugeAt.Size() {
		t.Fatalf("huge line record: flags %v offset %d, want [truncated] at %d", tr.Log.Flags, tr.Log.Offset, hugeAt.Size())
	}
	for _, r := range got {
		if r.Message != truncated && len(r.Log.Flags) != 0 {
			t.Fatalf("record %q has flags %v", r.Message, r.Log.Flags)
		}
	}
	if d, want := a.Tails().Stats().DroppedBytes.Load(), int64(len(head)+body-maxLine); d != want {
		t.Fatalf("dropped bytes = %d, want %d", d, want)
	}
	growth := int64(peak.Load()) - int64(baseline)
	t.Logf("heap in use: baseline %d MiB, peak %d MiB", baseline>>20, peak.Load()>>20)
	if growth >= 30<<20 {
		t.Fatalf("heap in use grew by %d MiB while reading a 50 MiB line, want < 30 MiB", growth>>20)
	}
}

// TestLongLinesOfManyLengths reads lines around max_line_bytes and up to a few read
// buffers long, each between two good lines, from a file found at start and from
// appends: every line longer than max_line_bytes gives one record of its first
// max_line_bytes flagged "truncated" wherever it falls in the read buffers, shorter
// lines come whole, and no good line is lost or merged into a long one.
func TestLongLinesOfManyLengths(t *testing.T) {
	const maxLine = 64 << 10
	head := cri(0, "")
	head = head[:len(head)-1] // "<ts> stdout F "
	var lengths []int         // physical line lengths, without the newline
	for _, d := range []int{-1, 0, 1, 2, 100} {
		lengths = append(lengths, maxLine+d)
	}
	for l := maxLine + 7<<10; l < maxLine+600<<10; l += 23 << 10 {
		lengths = append(lengths, l)
	}
	render := func(from, to int) (content string, msgs []string, truncated int) {
		var b strings.Builder
		for j := from; j < to; j++ {
			good := fmt.Sprintf("g-%04d", j)
			b.WriteString(cri(j, good))
			msgs = append(msgs, good)
			l := lengths[j%len(lengths)]
			id := fmt.Sprintf("long-%04d:", j)
			line := head + id + strings.Repeat("x", l-len(head)-len(id))
			b.WriteString(line + "\n")
			if l > maxLine {
				line = line[:maxLine]
				truncated++
			}
			msgs = append(msgs, line[len(head):])
		}
		return b.String(), msgs, truncated
	}
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	first, want, nTrunc := render(0, len(lengths))
	appendFile(t, live, first)
	cfg := testConfig(t, root)
	cfg.Sources.MaxLineBytes = maxLine
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, logs, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the lines present at start", 10*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	more, wantMore, nMore := render(len(lengths), 2*len(lengths))
	for len(more) > 0 { // appended in uneven pieces, so lines end anywhere in a read
		n := min(len(more), 50<<10+len(more)%7919)
		appendFile(t, live, more[:n])
		more = more[n:]
	}
	want, nTrunc = append(want, wantMore...), nTrunc+nMore
	waitFor(t, "the appended lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= len(want) })
	waitLog(t, logs, "max_line_bytes", "path="+live)
	stop()
	got := readRecords(t, out)
	if g, w := shorten(messages(got)), shorten(want); !slices.Equal(g, w) {
		t.Fatalf("got %d records, want %d\n got: %v\nwant: %v", len(g), len(w), g, w)
	}
	flagged := 0
	for _, r := range got {
		if slices.Contains(r.Log.Flags, "truncated") {
			flagged++
			if len(r.Message) != maxLine-len(head) {
				t.Errorf("truncated record at offset %d has %d bytes, want %d", r.Log.Offset, len(r.Message), maxLine-len(head))
			}
		}
	}
	if flagged != nTrunc {
		t.Fatalf("%d records flagged truncated, want %d", flagged, nTrunc)
	}
	if a.Tails().Stats().DroppedBytes.Load() == 0 {
		t.Fatal("dropped bytes not counted")
	}
}

// TestTruncatedWhileSkippingHugeLine truncates a file (copytruncate) while the rest of
// an over-long line is being skipped: the truncation is noticed and the lines written
// after it are read from the file's new start.
func TestTruncatedWhileSkippingHugeLine(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criSeq("a", 0, 10))
	cfg := testConfig(t, root)
	cfg.Sources.MaxLineBytes = 64 << 10
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, logs, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the first lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 10 })
	appendFile(t, live, cri(10, strings.Repeat("x", 1<<20))[:1<<20]) // no newline
	size := fileSize(t, live)
	waitFor(t, "the rest of the line to be skipped", 10*time.Second, func() bool {
		fs := a.Tails().Files()
		return len(fs) == 1 && fs[0].Offset == size
	})
	if err := os.Truncate(live, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, criSeq("b", 0, 5))
	waitFor(t, "the lines after the truncation", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 16 })
	waitLog(t, logs, "file shrank below the read offset", "path="+live, "offset="+strconv.FormatInt(size, 10))
	stop()
	got := readRecords(t, out)
	if g, w := shorten(messages(got)), shorten(slices.Concat(seq("a", 0, 10), []string{strings.Repeat("x", 64<<10-(len(cri(10, ""))-1))}, seq("b", 0, 5))); !slices.Equal(g, w) {
		t.Fatalf("got %v\nwant %v", g, w)
	}
	if n := a.Tails().Stats().Truncations.Load(); n != 1 {
		t.Fatalf("truncations counted %d, want 1", n)
	}
}

// shorten abbreviates long messages to their start and length, for readable failures.
func shorten(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		if len(m) > 24 {
			m = fmt.Sprintf("%s...(%d bytes)", m[:16], len(m))
		}
		out[i] = m
	}
	return out
}

// TestPodsDirReplacedByFile replaces the pods root with a regular file while a docker
// root is collected too: the problem is logged and counted, docker lines keep arriving,
// and once the pods root is a directory again its new pod is read.
func TestPodsDirReplacedByFile(t *testing.T) {
	root := t.TempDir()
	pods := filepath.Join(root, "pods")
	oldDir := filepath.Join(pods, "ns_old_uid-1", "app")
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dockerDir := filepath.Join(root, "docker", id)
	mkdirs(t, oldDir, dockerDir)
	appendFile(t, filepath.Join(oldDir, "0.log"), criSeq("p", 0, 10))
	dlog := filepath.Join(dockerDir, id+"-json.log")
	appendFile(t, dlog, dockerSeq("d", 0, 10))

	cfg := testConfig(t, root)
	cfg.Sources.DockerDir = filepath.Join(root, "docker")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, logs, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the first lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })

	if err := os.RemoveAll(pods); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pods, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "discovery problem", "reason=root_not_dir", pods+" is not a directory")
	if a.DiscoveryErrors.Load() == 0 {
		t.Fatal("discovery problem not counted")
	}
	appendFile(t, dlog, dockerSeq("d", 10, 20))
	waitFor(t, "docker lines while the pods root is a file", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 30 })

	if err := os.Remove(pods); err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(pods, "ns_new_uid-2", "app")
	mkdirs(t, newDir)
	appendFile(t, filepath.Join(newDir, "0.log"), criSeq("n", 0, 10))
	appendFile(t, dlog, dockerSeq("d", 20, 30))
	waitFor(t, "the new pod's lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 50 })
	stop()

	got := readRecords(t, out)
	checkExactly(t, ofPath(got, dockerDir), seq("d", 0, 30))
	checkExactly(t, ofPath(got, oldDir), seq("p", 0, 10))
	checkExactly(t, ofPath(got, newDir), seq("n", 0, 10))
	if len(got) != 50 {
		t.Fatalf("%d records, want 50", len(got))
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary buildBinary may have built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// buildBinary builds cmd/logferry once per test process into a world-readable temp
// directory, so that an unprivileged user can run it.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "logferry-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		builtBin = filepath.Join(dir, "logferry")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/logferry/logferry/cmd/logferry")
		if outp, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, outp)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// worldTempDir returns a new directory under os.TempDir() that every user can write
// to, removed at the end of the test. (t.TempDir's parent is private to its owner.)
func worldTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "logferry-badinput-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// Every parent must be searchable by the unprivileged user.
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s (%v) is not searchable by other users; set TMPDIR to a directory that is", p, fi.Mode())
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return dir
}

// TestUnreadableFileIsReportedAndSkipped runs the real binary as an unprivileged user
// over a node where one container's log file has mode 0000: the agent warns naming the
// file, collects the other container in full, and exits 0 on SIGTERM.
func TestUnreadableFileIsReportedAndSkipped(t *testing.T) {
	var prefix []string
	if os.Geteuid() == 0 {
		sp := testenv.NeedTool(t, "setpriv", "running as root, the agent must run unprivileged to find a file unreadable: apt-get install util-linux")
		prefix = []string{sp, "--reuid=65534", "--regid=65534", "--clear-groups"}
	}
	bin := buildBinary(t)
	root := worldTempDir(t)
	lockedDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "locked")
	openDir := filepath.Join(root, "pods", "ns_web-0_uid-1", "open")
	mkdirs(t, lockedDir, openDir)
	locked, open := filepath.Join(lockedDir, "0.log"), filepath.Join(openDir, "0.log")
	appendFile(t, locked, criSeq("secret", 0, 10))
	appendFile(t, open, criSeq("o", 0, 10))
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	// Everything else is world-readable; the output and data dirs world-writable.
	for _, p := range []string{filepath.Join(root, "pods"), filepath.Dir(lockedDir), lockedDir, openDir} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(open, 0o644)
	outDir, dataDir := filepath.Join(root, "out"), filepath.Join(root, "data")
	for _, d := range []string{outDir, dataDir} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	cfgPath := filepath.Join(root, "agent.yaml")
	out := filepath.Join(outDir, "out.json")
	cfgText := "data_dir: " + dataDir + "\n" +
		"sources:\n  pods_dir: " + filepath.Join(root, "pods") + "\n  poll_interval: 20ms\n  rescan_interval: 200ms\n" +
		"checkpoint:\n  interval: 50ms\n" +
		"sinks:\n  - name: out\n    type: file\n    path: " + out + "\n" +
		"shutdown:\n  deadline: 5s\nlog:\n  level: info\n  format: json\n"
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}

	args := append(prefix, bin, "agent", "--config", cfgPath)
	cmd := exec.Command(args[0], args[1:]...)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			<-done
		}
	})
	waitFor(t, "the readable container's lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 10 })
	appendFile(t, open, criSeq("o", 10, 20))
	waitFor(t, "the appended lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })
	waitFor(t, "a warning naming the unreadable file", 10*time.Second, func() bool {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if containsAll(l, `"level":"WARN"`, "cannot open log file", `"path":"`+locked+`"`, "permission denied") {
				return true
			}
		}
		return false
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("agent exited with %v after SIGTERM, want 0\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not exit within 10s of SIGTERM\n%s", stderr.String())
	}
	got := readRecords(t, out)
	checkExactly(t, got, seq("o", 0, 20))
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkpointOffsets reads checkpoints.json in dataDir: offset by path.
func checkpointOffsets(t *testing.T, dataDir string) map[string]int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, checkpoint.FileName))
	if err != nil {
		return nil
	}
	var f struct {
		Files []checkpoint.Entry `json:"files"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("checkpoints.json is not valid JSON: %v\n%s", err, data)
	}
	out := map[string]int64{}
	for _, e := range f.Files {
		out[e.Path] = e.Offset
	}
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestCheckpointWriteFailureIsRetried blocks the checkpoint store's temp file (as a
// full disk would fail it) while the agent runs: records keep arriving, the failure is
// logged and counted, the old checkpoint file stays intact, and once the obstacle is
// gone the checkpoint catches up.
func TestCheckpointWriteFailureIsRetried(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criSeq("a", 0, 20))
	cfg := testConfig(t, root)
	a, logs, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the first lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })
	first := fileSize(t, live)
	waitFor(t, "the first checkpoint", 10*time.Second, func() bool { return checkpointOffsets(t, cfg.DataDir)[live] == first })

	// A non-empty directory where the temp file goes: the store cannot create it, nor
	// clear it away.
	tmp := filepath.Join(cfg.DataDir, checkpoint.FileName+".tmp")
	mkdirs(t, filepath.Join(tmp, "obstacle"))
	appendFile(t, live, criSeq("b", 20, 40))
	waitFor(t, "records while checkpoints fail", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 40 })
	waitFor(t, "the failure to be counted", 10*time.Second, func() bool { return a.CheckpointErrors.Load() > 0 })
	waitLog(t, logs, "checkpoint write failed", filepath.Join(cfg.DataDir, checkpoint.FileName))
	if off := checkpointOffsets(t, cfg.DataDir)[live]; off != first {
		t.Fatalf("checkpoint file changed to offset %d while writes fail; want the old %d", off, first)
	}

	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	second := fileSize(t, live)
	waitFor(t, "the checkpoint after recovery", 10*time.Second, func() bool { return checkpointOffsets(t, cfg.DataDir)[live] == second })
	stop()
	checkExactly(t, readRecords(t, out), slices.Concat(seq("a", 0, 20), seq("b", 20, 40)))
}

// TestCorruptCheckpointIsSetAside starts the agent on a corrupt checkpoint file: it
// starts anyway, logs and counts the corruption, sets the file aside, and reads every
// file again from its start (duplicates, nothing lost).
func TestCorruptCheckpointIsSetAside(t *testing.T) {
	root := t.TempDir()
	dir := containerDir(t, root)
	live := filepath.Join(dir, "0.log")
	appendFile(t, live, criSeq("a", 0, 20))
	cfg := testConfig(t, root)
	out := filepath.Join(root, "out.json")
	_, _, stop := runAgent(t, cfg)
	waitFor(t, "the first lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })
	stop()
	cp := filepath.Join(cfg.DataDir, checkpoint.FileName)
	if off := checkpointOffsets(t, cfg.DataDir)[live]; off != fileSize(t, live) {
		t.Fatalf("checkpoint after a clean stop = %d, want %d", off, fileSize(t, live))
	}
	if err := os.WriteFile(cp, []byte(`{"version":1,"files":[{"group":`), 0o640); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, criSeq("b", 20, 30))

	a, logs, stop := runAgent(t, cfg)
	if n := a.CorruptCheckpoints.Load(); n != 1 {
		t.Fatalf("corrupt checkpoints counted %d, want 1", n)
	}
	waitLog(t, logs, "checkpoint store was corrupt", cp)
	aside, _ := filepath.Glob(cp + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt file not set aside: %v", aside)
	}
	waitFor(t, "every line again", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 50 })
	end := fileSize(t, live)
	waitFor(t, "a valid checkpoint again", 10*time.Second, func() bool { return checkpointOffsets(t, cfg.DataDir)[live] == end })
	stop()
	checkExactly(t, readRecords(t, out), slices.Concat(seq("a", 0, 20), seq("a", 0, 20), seq("b", 20, 30)))
}

// TestSymlinkedLogFileIsNotRead puts symlinks named like log files (and a symlinked
// container directory) into the pods tree, pointing outside it: none is followed,
// while the regular files beside them are read.
func TestSymlinkedLogFileIsNotRead(t *testing.T) {
	root := t.TempDir()
	pod := filepath.Join(root, "pods", "ns_web-0_uid-1")
	outside := filepath.Join(root, "outside")
	mkdirs(t, filepath.Join(pod, "app"), filepath.Join(pod, "evil"), filepath.Join(pod, "zzz"), outside)
	secret := filepath.Join(outside, "secret.log")
	appendFile(t, secret, criSeq("secret", 0, 10))
	links := []string{
		filepath.Join(pod, "evil", "0.log"), // a container whose only log is a symlink
		filepath.Join(pod, "app", "1.log"),  // a "restart" beside a regular file
		filepath.Join(pod, "app", "0.log.20261122-100000"),
	}
	for _, l := range links {
		if err := os.Symlink(secret, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(pod, "linkdir")); err != nil { // a container dir
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(pod, "zzz", "2.log")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(pod, "app", "0.log"), criSeq("a", 0, 10))
	// zzz sorts after evil and app: a full scan that reached it has reconciled them.
	appendFile(t, filepath.Join(pod, "zzz", "0.log"), criSeq("z", 0, 10))

	cfg := testConfig(t, root)
	a, _, stop := runAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "the regular files' lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 20 })
	// Created while running: an event, then rescans, see it.
	late := filepath.Join(pod, "zzz", "3.log")
	if err := os.Symlink(secret, late); err != nil {
		t.Fatal(err)
	}
	appendFile(t, secret, criSeq("secret", 10, 20))
	appendFile(t, filepath.Join(pod, "app", "0.log"), criSeq("a", 10, 20))
	waitFor(t, "the appended lines", 10*time.Second, func() bool { return len(readRecords(t, out)) >= 30 })
	time.Sleep(3 * cfg.Sources.RescanInterval) // let full rescans see every symlink
	for _, fs := range a.Tails().Files() {
		if fi, err := os.Lstat(fs.Path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("symlink %s is open", fs.Path)
		}
	}
	stop()
	got := readRecords(t, out)
	checkExactly(t, ofContainer(got, "app"), seq("a", 0, 20))
	checkExactly(t, ofContainer(got, "zzz"), seq("z", 0, 10))
	if len(got) != 30 {
		t.Fatalf("%d records, want 30: %v", len(got), abbreviate(messages(got)))
	}
	for _, r := range got {
		if strings.HasPrefix(r.Message, "secret") || r.Kubernetes.Container.Name == "evil" || r.Kubernetes.Container.Name == "linkdir" {
			t.Fatalf("a record came through a symlink: %+v", r)
		}
	}
}
