package loki

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/lokitest"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// TestRealLoki pushes the agent's records to a real Grafana Loki, as protobuf and as
// JSON, and reads them back with LogQL: every line arrives once in the stream of its
// labels (namespace, workload, container) with its structured metadata, and a line
// Loki refuses (over its 256 KB max_line_size) goes to the dead-letter file alone
// while the rest of its push is delivered.
func TestRealLoki(t *testing.T) {
	if testing.Short() {
		t.Skip("real Grafana Loki: skipped with -short")
	}
	srv := lokitest.Start(t)
	for i, useJSON := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", useJSON), func(t *testing.T) {
			deadPath := filepath.Join(t.TempDir(), "dead.jsonl")
			dl, err := sink.NewFile("dl", sink.FileOptions{Path: deadPath, Fsync: true, MaxFiles: 1, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			s := newSink(t, srv.PushURL(), Options{JSON: useJSON, Options: httpsink.Options{DeadLetter: dl}, StaticLabels: []Label{{Name: "run", Value: fmt.Sprint("r", i)}}})
			batch := encodedBatchAt(true, time.Now().Add(-time.Minute))
			// One record Loki refuses, in the first chunk.
			huge := batch.Chunks[0]
			line := strings.Replace(strings.SplitAfter(string(huge.Data), "\n")[0], "GET /api", strings.Repeat("x", 300<<10)+" GET /api", 1)
			huge.Data = append([]byte(line), huge.Data...)
			huge.Records++
			batch = rebatch(batch)
			if err := s.Consume(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			var got []lokitest.Entry
			lokitest.WaitFor(t, 30*time.Second, func() bool {
				got, err = srv.Query("", fmt.Sprintf(`{run="r%d"}`, i))
				return err == nil && len(got) >= 1000
			})
			seen := map[string]int{}
			for _, e := range got {
				seen[e.Line]++
				l := e.Labels
				var pod int
				fmt.Sscanf(l["pod"], "web-%d", &pod)
				wantWorkload := "web" // pods with a Deployment (even ones), none for the others
				if pod%2 == 1 {
					wantWorkload = ""
				}
				if l["namespace"] == "" || l["workload"] != wantWorkload || l["container"] != "app" || l["pod"] == "" ||
					l["pod_uid"] == "" || l["node"] != "node-1" || l["event_id"] == "" || (l["stream"] != "stdout" && l["stream"] != "stderr") {
					t.Fatalf("entry %q labels %v", e.Line, l)
				}
			}
			if len(seen) != 1000 {
				t.Fatalf("Loki has %d distinct lines, want 1000", len(seen))
			}
			for l, n := range seen {
				if n != 1 || strings.HasPrefix(l, "xxx") {
					t.Fatalf("line %.60q seen %d times", l, n)
				}
			}
			data, err := os.ReadFile(deadPath)
			if err != nil {
				t.Fatal(err)
			}
			dead := strings.Split(strings.TrimSpace(string(data)), "\n")
			var d struct {
				Status int
				Error  string
				Record struct{ Message string }
			}
			if len(dead) != 1 || json.Unmarshal([]byte(dead[0]), &d) != nil || d.Status != 400 || !strings.HasPrefix(d.Record.Message, "xxx") {
				t.Fatalf("dead letters (%d): %.300s", len(dead), data)
			}
			t.Logf("Loki's answer to the refused line: %.200s", d.Error)
		})
	}
}

// rebatch rebuilds b so that its counts match its chunks after they were edited.
func rebatch(b *pipeline.Batch) *pipeline.Batch {
	out := &pipeline.Batch{}
	for _, c := range b.Chunks {
		out.Add(c)
	}
	return out
}
