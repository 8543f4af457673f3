package elastic

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink/httpsink"
	"github.com/logferry/logferry/internal/vltest"
)

// TestVictoriaLogs sends through VictoriaLogs' Elasticsearch bulk endpoint (gzip)
// and reads the records back with LogsQL.
func TestVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	vl := vltest.Start(t)

	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	dl, err := httpsink.NewDeadLetter("vl", config.DeadLetter{DeadLetterPath: dead}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("vl", Options{
		URLs:  []string{vl.ElasticsearchURL()},
		Index: "logs-{kubernetes.namespace}-%Y.%m.%d",
		Parameters: map[string]string{"_msg_field": "message", "_time_field": "@timestamp",
			"_stream_fields": "kubernetes.namespace,kubernetes.pod.name"},
		Options: httpsink.Options{
			MaxRequestBytes: 4096, // several requests
			DeadLetter:      dl,
			Logger:          slog.New(slog.DiscardHandler),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	const n = 200
	ts := time.Now().UTC()
	b := &pipeline.Batch{}
	for c := 0; c < 4; c++ {
		var sb strings.Builder
		for i := c * n / 4; i < (c+1)*n/4; i++ {
			sb.WriteString(line(fmt.Sprintf("vl-%03d", i), []string{"default", "kube-system"}[i%2], ts.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano)))
		}
		b.Add(&pipeline.Chunk{Data: []byte(sb.String()), Records: n / 4})
	}
	if err := s.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Accepted != n || st.Requests < 2 || st.DeadLettered != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Rows are visible after a second or two.
	var got map[string]string
	var rows []map[string]string
	waitFor(t, 15*time.Second, func() bool {
		got = query(t, vl, `* | stats by (kubernetes.namespace) count() as n`)
		rows = vl.Query(t, `"hello from vl-007"`)
		return got["default"] == fmt.Sprint(n/2) && got["kube-system"] == fmt.Sprint(n/2) && len(rows) == 1
	})
	if rows[0]["event.id"] != "vl-007" || rows[0]["kubernetes.pod.name"] != "web-1" || rows[0]["_msg"] != "hello from vl-007" {
		t.Fatalf("rows %v", rows)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) { t.Helper(); vltest.WaitFor(t, d, cond) }

// query returns count rows as namespace → n.
func query(t *testing.T, vl *vltest.Server, q string) map[string]string {
	out := map[string]string{}
	for _, r := range vl.Query(t, q) {
		out[r["kubernetes.namespace"]] = r["n"]
	}
	return out
}
