package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/record"
)

// TestOlderInstanceLiveFileNotReopened: the previous container instance's live file
// (0.log) was read to its end and closed; every later listing still shows it. It can
// grow no more once the newer instance (1.log) has written, so it must not be opened
// again: it would become the group's head, and binding it flushed the newer
// instance's pending partial line (shipped flagged partial, its rest as a line of its
// own).
func TestOlderInstanceLiveFileNotReopened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cri := func(tag, msg string) string { return "2024-05-01T10:00:00.000000001Z stdout " + tag + " " + msg + "\n" }
	appendTo := func(name string, lines ...string) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("0.log", cri("F", "old-0"), cri("F", "old-1"))
	appendTo("1.log", cri("F", "new-0"), cri("P", "part-a "), cri("P", "part-b "))

	c := &collector{}
	m := newTestManager(t, 1, 64<<10, c.send)
	g := discover.Group{Key: dir, Dir: dir, Layout: discover.Kubelet,
		Source: record.Source{Namespace: "prod", Pod: "web-0", PodUID: "uid-1", Container: "app", RestartCount: -1}}
	m.Changed(g)
	m.Sync([]discover.Group{g})
	stop := startManager(t, m)
	defer stop()
	waitRecords(t, c, 3)
	// Listings while 1.log's line is pending: 0.log is still there.
	for range 5 {
		time.Sleep(30 * time.Millisecond)
		m.Changed(g)
	}
	time.Sleep(100 * time.Millisecond)
	appendTo("1.log", cri("F", "part-c"), cri("F", "new-1"))
	waitRecords(t, c, 5)
	time.Sleep(100 * time.Millisecond)
	stop()
	got := c.records()
	want := []string{"old-0", "old-1", "new-0", "part-a part-b part-c", "new-1"}
	if len(got) != len(want) {
		t.Fatalf("got %d records %q, want %q", len(got), messagesAll(got), want)
	}
	for i, r := range got {
		if r.Message != want[i] || len(r.Log.Flags) != 0 {
			t.Fatalf("record %d = %q flags %v, want %q unflagged (all: %q)", i, r.Message, r.Log.Flags, want[i], messagesAll(got))
		}
	}
}
