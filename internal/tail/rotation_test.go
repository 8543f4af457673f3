package tail

import (
	"compress/gzip"
	"os"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/discover"
)

// gzipAway compresses src to dst and removes src, as docker's compress option does.
func gzipAway(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

// TestDockerRotatedAwayUnseen: the live file is rotated to .1, compressed to .1.gz
// and removed before the agent lists the directory again, and so is the next live
// file, whose copy then is .1.gz (the first one's moved to .2.gz). The agent still
// has the first file open with lines left to read; they come before the second file's.
func TestDockerRotatedAwayUnseen(t *testing.T) {
	w := newDockerWorld(t, "0c0c0c0c", func(w *dockerWorld) { w.lines(t, 0, 10) })
	waitRecords(t, w.c, 10)

	// Unseen by the agent: the first file gets its last lines, then two rotations.
	w.lines(t, 10, 12)
	w.rename(t, [2]string{"", ".1"})
	gzipAway(t, w.live+".1", w.live+".1.gz")
	w.lines(t, 12, 20) // the second file
	w.rename(t, [2]string{".1.gz", ".2.gz"}, [2]string{"", ".1"})
	gzipAway(t, w.live+".1", w.live+".1.gz")
	w.lines(t, 20, 25) // the live file
	w.want(t, 25)
}

// dockerWorld is one docker container directory followed by a manager that reads only
// when discovery says so (Changed): a test changes the directory unseen, then calls
// changed.
type dockerWorld struct {
	d    dockerInstance
	root string
	live string // the live file's path
	c    *collector
	m    *Manager
	dg   discover.Group
	stop func()
}

// newDockerWorld creates the directory and its config.v2.json, lets prepare write
// the first files, and starts the manager on them.
func newDockerWorld(t *testing.T, id string, prepare func(w *dockerWorld)) *dockerWorld {
	t.Helper()
	w := &dockerWorld{d: dockerInstance{id: id}, root: t.TempDir(), c: &collector{}}
	if err := os.MkdirAll(w.d.dir(w.root), 0o755); err != nil {
		t.Fatal(err)
	}
	w.d.writeConfig(t, w.root)
	w.live = w.d.log(w.root)
	prepare(w)
	w.m = newTestManager(t, 1, 64<<10, w.c.send)
	w.m.o.PollInterval = time.Hour
	w.dg = w.d.group(w.root, true)
	w.m.Changed(w.dg)
	w.m.Sync([]discover.Group{w.dg})
	w.stop = startManager(t, w.m)
	t.Cleanup(w.stop)
	return w
}

func (w *dockerWorld) lines(t *testing.T, from, to int) {
	t.Helper()
	w.d.writeLines(t, w.root, "old", from, to)
}

// rename renames the files named by the live file's suffixes, in order.
func (w *dockerWorld) rename(t *testing.T, pairs ...[2]string) {
	t.Helper()
	for _, p := range pairs {
		if err := os.Rename(w.live+p[0], w.live+p[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// want tells discovery, waits for n records, stops and checks that they are
// old-0000 .. old-(n-1) in order.
func (w *dockerWorld) want(t *testing.T, n int) {
	t.Helper()
	w.m.Changed(w.dg)
	waitRecords(t, w.c, n)
	time.Sleep(50 * time.Millisecond) // anything read twice shows too
	w.stop()
	got := w.c.records()
	for i, r := range got {
		if want := "old-" + pad4(i); i >= n || r.Message[:8] != want {
			t.Fatalf("record %d is %q, want %s (records: %v)", i, r.Message[:8], want, messagesOf(got))
		}
	}
}

func pad4(i int) string {
	return string([]byte{byte('0' + i/1000%10), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

func messagesOf(rs []sentRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message[:8]
	}
	return out
}

// TestPartialLinesCarriedAcrossTwoRotations: both streams are mid-line when a file
// ends, and the oldest pending fragment began in an earlier file (already carried
// once). Both partial lines must be carried into the next file again and completed
// there: none may be shipped early, flagged partial or out of order.
func TestPartialLinesCarriedAcrossTwoRotations(t *testing.T) {
	root := t.TempDir()
	d := dockerInstance{id: "0d0d0d0d", restart: 0}
	if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	d.writeConfig(t, root)
	live := d.log(root)
	entry := func(stream, log string) string {
		return `{"log":"` + log + `","stream":"` + stream + `","time":"2024-05-01T10:00:00Z"}` + "\n"
	}
	write := func(path string, entries ...string) {
		t.Helper()
		var s string
		for _, e := range entries {
			s += e
		}
		if err := os.WriteFile(path, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// Oldest file: stdout's long line begins.
	write(live+".2", entry("stdout", `first\n`), entry("stdout", "out-a "))
	// Middle file: stderr's line begins, stdout's continues; neither ends.
	write(live+".1", entry("stderr", "err-a "), entry("stdout", "out-b "))
	// Live file: both end.
	write(live, entry("stdout", `out-c\n`), entry("stderr", `err-b\n`), entry("stdout", `last\n`))

	c := &collector{}
	m := newTestManager(t, 1, 64<<10, c.send)
	dg := d.group(root, true)
	m.Changed(dg)
	m.Sync([]discover.Group{dg})
	got := runUntil(t, m, c, 4)
	want := []string{"first", "out-a out-b out-c", "err-a err-b", "last"}
	if len(got) != len(want) {
		t.Fatalf("got %d records %q, want %q", len(got), messagesAll(got), want)
	}
	for i, r := range got {
		if r.Message != want[i] || len(r.Log.Flags) != 0 {
			t.Fatalf("record %d = %q flags %v, want %q unflagged (all: %q)", i, r.Message, r.Log.Flags, want[i], messagesAll(got))
		}
	}
}

func messagesAll(rs []sentRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message
	}
	return out
}

// TestDeletedFileReadBeforeNewer: the agent falls behind a fast rotation. The file it
// has open is rotated twice and then deleted (max-file) before the next listing, with
// no copy left to say where it was, so it still has the name it had when last seen,
// the live file's. A file that left the directory is older than every file still in
// it: its remaining lines come first.
func TestDeletedFileReadBeforeNewer(t *testing.T) {
	w := newDockerWorld(t, "0e0e0e0e", func(w *dockerWorld) { w.lines(t, 0, 10) })
	waitRecords(t, w.c, 10)

	// Unseen by the agent: the open file gets more lines, is rotated to .1 then .2,
	// and is removed; the next file is at .1 and a third is live.
	w.lines(t, 10, 15)
	w.rename(t, [2]string{"", ".1"})
	w.lines(t, 15, 20)
	w.rename(t, [2]string{".1", ".2"}, [2]string{"", ".1"})
	if err := os.Remove(w.live + ".2"); err != nil {
		t.Fatal(err)
	}
	w.lines(t, 20, 25)
	w.want(t, 25)
}

// TestCopyOfFileOpenedEmpty: the live file is opened while still empty (no
// fingerprint yet); before the agent reads it again it is filled, rotated, compressed
// and its plain name removed. Its .gz copy is the same data: read once, in order.
func TestCopyOfFileOpenedEmpty(t *testing.T) {
	w := newDockerWorld(t, "0f0f0f0f", func(w *dockerWorld) {
		if err := os.WriteFile(w.live, nil, 0o640); err != nil {
			t.Fatal(err)
		}
	})
	time.Sleep(50 * time.Millisecond) // the empty file is open

	w.lines(t, 0, 10)
	w.rename(t, [2]string{"", ".1"})
	gzipAway(t, w.live+".1", w.live+".1.gz")
	w.lines(t, 10, 15)
	w.want(t, 15)
}
