package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/status"
)

// TestShutdownWithStuckSink drives shutdown against a sink that hangs in a write: the
// file sink writes into a FIFO nobody reads, so once the pipe's 64 KiB are full every
// write blocks in the kernel. Both ways out must exit 0 promptly - the shutdown
// deadline, and a second signal during the drain - and in both the checkpoints may
// only cover lines that really reached the sink (are in the pipe).
func TestShutdownWithStuckSink(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end shutdown: skipped with -short")
	}
	for _, tc := range []struct {
		name     string
		deadline string
		second   bool // send SIGINT during the drain
		within   time.Duration
	}{
		{name: "deadline", deadline: "1s", within: 6 * time.Second},
		{name: "second-signal", deadline: "60s", second: true, within: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			pods := filepath.Join(root, "pods")
			var files []string
			for p := range 2 {
				dir := filepath.Join(pods, fmt.Sprintf("prod_web-%d_uid-%d", p, p), "app")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for i := range 4000 {
					fmt.Fprintf(&b, "2026-11-22T10:00:00.%06dZ stdout F pod %d line %d %s\n", i, p, i, strings.Repeat("x", 100))
				}
				f := filepath.Join(dir, "0.log")
				writeFile(t, f, b.String())
				files = append(files, f)
			}
			fifo := filepath.Join(root, "out.json")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			// Hold a read end (never read until the agent is gone) so the pipe keeps what
			// was written: that is what the sink accepted.
			reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			addr := freeAddr(t)
			data := filepath.Join(root, "data")
			cfg := filepath.Join(root, "agent.yaml")
			writeFile(t, cfg, "data_dir: "+data+"\nsources:\n  pods_dir: "+pods+"\n  poll_interval: 50ms\n"+
				"pipeline:\n  read_quantum: 4KiB\ncheckpoint:\n  interval: 50ms\n"+
				"sinks:\n  - name: pipe\n    type: file\n    path: "+fifo+"\n    fsync: false\n    max_size: 1GiB\n"+
				"    batch:\n      max_bytes: 8KiB\n"+
				"shutdown:\n  deadline: "+tc.deadline+"\nhttp:\n  addr: "+addr+"\n")
			agent := startDaemon(t, "agent", binary, "agent", "--config", cfg)
			// Stuck: some batches went into the pipe, the next write blocks.
			waitStatus(t, addr, 10*time.Second, func(s *status.Status) bool {
				return len(s.Sinks) == 1 && s.Sinks[0].Records > 0 && s.Sinks[0].InFlight > 0 && s.Checkpoint.Entries > 0
			})
			time.Sleep(300 * time.Millisecond) // the checkpoint loop writes what was acknowledged
			start := time.Now()
			agent.signal(t, syscall.SIGTERM)
			if tc.second {
				time.Sleep(500 * time.Millisecond)
				if agent.exited() {
					t.Fatalf("agent exited before the second signal although its sink is stuck and the deadline is %s\n%s", tc.deadline, agent.log)
				}
				agent.signal(t, syscall.SIGINT)
			}
			if code := agent.wait(t, tc.within); code != 0 {
				t.Fatalf("exit code %d, want 0\n%s", code, agent.log)
			}
			t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

			// What reached the sink: the records in the pipe (the last one may be torn).
			var buf bytes.Buffer
			chunk := make([]byte, 64<<10)
			for {
				n, err := reader.Read(chunk)
				buf.Write(chunk[:n])
				if err != nil || n == 0 {
					break
				}
			}
			delivered := map[string]map[int64]bool{}
			sc := bufio.NewScanner(&buf)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			records := 0
			for sc.Scan() {
				var r struct {
					Log struct {
						File   struct{ Path string } `json:"file"`
						Offset int64                 `json:"offset"`
					} `json:"log"`
				}
				if json.Unmarshal(sc.Bytes(), &r) != nil {
					continue // a write torn by the blocked pipe
				}
				if delivered[r.Log.File.Path] == nil {
					delivered[r.Log.File.Path] = map[int64]bool{}
				}
				delivered[r.Log.File.Path][r.Log.Offset] = true
				records++
			}
			store, err := checkpoint.Open(data)
			if err != nil {
				t.Fatal(err)
			}
			var covered int64
			for _, e := range store.Entries() {
				content, err := os.ReadFile(e.Path)
				if err != nil {
					t.Fatal(err)
				}
				for off := int64(0); off < e.Offset; {
					if !delivered[e.Path][off] {
						t.Fatalf("checkpoint of %s is at %d, but the line at %d never reached the sink", e.Path, e.Offset, off)
					}
					off += int64(bytes.IndexByte(content[off:], '\n')) + 1
					covered++
				}
			}
			if covered == 0 {
				t.Fatalf("no checkpoint advanced: the test proves nothing (records in the pipe: %d)", records)
			}
			t.Logf("%d records reached the pipe; checkpoints cover %d lines, all of them delivered; %d files", records, covered, len(files))
		})
	}
}
