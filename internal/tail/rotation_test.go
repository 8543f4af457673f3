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
	root := t.TempDir()
	d := dockerInstance{id: "0c0c0c0c", restart: 0}
	if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	d.writeConfig(t, root)
	live := d.log(root)
	d.writeLines(t, root, "old", 0, 10)

	c := &collector{}
	m := newTestManager(t, 1, 64<<10, c.send)
	m.o.PollInterval = time.Hour // read only when discovery says so
	dg := d.group(root, true)
	m.Changed(dg)
	m.Sync([]discover.Group{dg})

	stop := startManager(t, m)
	defer stop()
	waitRecords(t, c, 10)

	// Unseen by the agent: the first file gets its last lines, then two rotations.
	d.writeLines(t, root, "old", 10, 12)
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	gzipAway(t, live+".1", live+".1.gz")
	d.writeLines(t, root, "old", 12, 20) // the second file
	if err := os.Rename(live+".1.gz", live+".2.gz"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	gzipAway(t, live+".1", live+".1.gz")
	d.writeLines(t, root, "old", 20, 25) // the live file

	m.Changed(dg)
	waitRecords(t, c, 25)
	stop()
	got := c.records()
	for i, r := range got {
		want := "old-" + pad4(i)
		if i >= 25 || r.Message[:8] != want {
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
	root := t.TempDir()
	d := dockerInstance{id: "0e0e0e0e", restart: 0}
	if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	d.writeConfig(t, root)
	live := d.log(root)
	d.writeLines(t, root, "old", 0, 10)

	c := &collector{}
	m := newTestManager(t, 1, 64<<10, c.send)
	m.o.PollInterval = time.Hour // read only when discovery says so
	dg := d.group(root, true)
	m.Changed(dg)
	m.Sync([]discover.Group{dg})
	stop := startManager(t, m)
	defer stop()
	waitRecords(t, c, 10)

	// Unseen by the agent: the open file gets more lines, is rotated to .1 then .2,
	// and is removed; the next file is at .1 and a third is live.
	d.writeLines(t, root, "old", 10, 15)
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	d.writeLines(t, root, "old", 15, 20)
	if err := os.Rename(live+".1", live+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(live + ".2"); err != nil {
		t.Fatal(err)
	}
	d.writeLines(t, root, "old", 20, 25)

	m.Changed(dg)
	waitRecords(t, c, 25)
	stop()
	got := c.records()
	for i, r := range got {
		if want := "old-" + pad4(i); i >= 25 || r.Message[:8] != want {
			t.Fatalf("record %d is %q, want %s (records: %v)", i, r.Message[:8], want, messagesOf(got))
		}
	}
}

// TestCopyOfFileOpenedEmpty: the live file is opened while still empty (no
// fingerprint yet); before the agent reads it again it is filled, rotated, compressed
// and its plain name removed. Its .gz copy is the same data: read once, in order.
func TestCopyOfFileOpenedEmpty(t *testing.T) {
	root := t.TempDir()
	d := dockerInstance{id: "0f0f0f0f", restart: 0}
	if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	d.writeConfig(t, root)
	live := d.log(root)
	if err := os.WriteFile(live, nil, 0o640); err != nil {
		t.Fatal(err)
	}

	c := &collector{}
	m := newTestManager(t, 1, 64<<10, c.send)
	m.o.PollInterval = time.Hour // read only when discovery says so
	dg := d.group(root, true)
	m.Changed(dg)
	m.Sync([]discover.Group{dg})
	stop := startManager(t, m)
	defer stop()
	time.Sleep(50 * time.Millisecond) // the empty file is open

	d.writeLines(t, root, "old", 0, 10)
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	gzipAway(t, live+".1", live+".1.gz")
	d.writeLines(t, root, "old", 10, 15)

	m.Changed(dg)
	got := runUntil(t, m, c, 15)
	for i, r := range got {
		if want := "old-" + pad4(i); i >= 15 || r.Message[:8] != want {
			t.Fatalf("record %d is %q, want %s (records: %v)", i, r.Message[:8], want, messagesOf(got))
		}
	}
	if len(got) != 15 {
		t.Fatalf("%d records, want 15: %v", len(got), messagesOf(got))
	}
}
