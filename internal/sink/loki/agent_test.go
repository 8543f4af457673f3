package loki_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/agent"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink/loki"
)

// TestBuildSink: a configuration with a loki sink builds this sink through the
// agent's BuildSink, with its options (tenant, token file, format, labels), and it
// delivers.
func TestBuildSink(t *testing.T) {
	var hdr http.Header
	var body, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hdr, body, path = r.Header, string(b), r.URL.Path
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "sinks:\n  - name: lk\n    type: loki\n    loki:\n" +
		"      url: " + srv.URL + "\n" +
		"      tenant: team-a\n" +
		"      format: json\n" +
		"      compression: none\n" +
		"      labels: {ns: kubernetes.namespace}\n" +
		"      static_labels: {cluster: c1}\n" +
		"      structured_metadata: {event.id: event.id}\n" +
		"      bearer_token_file: " + tok + "\n" +
		"      dead_letter_path: " + filepath.Join(dir, "dead.jsonl") + "\n"
	cfg, err := config.Parse([]byte(yaml), "t.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := agent.BuildSink(cfg.Sinks[0], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if _, ok := s.(*loki.Sink); !ok || s.Name() != "lk" {
		t.Fatalf("built %T %s", s, s.Name())
	}
	b := &pipeline.Batch{}
	b.Add(&pipeline.Chunk{Data: []byte(`{"@timestamp":"2026-11-21T09:00:00Z","message":"hi","kubernetes":{"namespace":"prod"},"event":{"id":"id-1"}}` + "\n"), Records: 1})
	if err := s.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	want := `{"streams":[{"stream":{"cluster":"c1","ns":"prod"},"values":[["1795251600000000000","hi",{"event_id":"id-1"}]]}]}`
	if body != want || path != loki.DefaultPath || hdr.Get("X-Scope-OrgID") != "team-a" ||
		hdr.Get("Authorization") != "Bearer s3cret" || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %v\n%s", path, hdr, body)
	}

	// A missing secret file fails at build time, naming the file.
	cfg.Sinks[0].Loki.BearerTokenFile = filepath.Join(dir, "nope")
	if _, err := agent.BuildSink(cfg.Sinks[0], slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err %v", err)
	}
}

// TestAgentEndToEnd runs the agent with a loki sink in its default configuration
// (protobuf, default labels and structured metadata, line: message) on a pod log
// file: the lines reach the push endpoint with their stream and metadata, a line
// Loki refuses (400) is dead-lettered and acknowledged like the others, and after a
// restart only the lines appended since are sent (the checkpoints moved past
// everything Loki took or the dead-letter file kept).
func TestAgentEndToEnd(t *testing.T) {
	type entry struct {
		stream string
		e      struct {
			TS   time.Time
			Line string
			Meta map[string]string
		}
	}
	var mu sync.Mutex
	var got []entry
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := loki.DecodePush(r, body)
		if err != nil || r.URL.Path != loki.DefaultPath {
			t.Errorf("push to %s: %v", r.URL.Path, err)
			http.Error(w, "bad push", http.StatusBadRequest)
			return
		}
		var took []entry
		for _, st := range p.Streams {
			for _, e := range st.Entries {
				if e.Line == "poison" {
					http.Error(w, fmt.Sprintf("Max entry size '4' bytes exceeded for stream '%s' while adding an entry with length '6' bytes", st.Labels), http.StatusBadRequest)
					return
				}
				var x entry
				x.stream, x.e.TS, x.e.Line, x.e.Meta = st.Labels, e.TS, e.Line, e.Meta
				took = append(took, x)
			}
		}
		mu.Lock()
		got = append(got, took...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	entries := func() []entry {
		mu.Lock()
		defer mu.Unlock()
		return append([]entry(nil), got...)
	}

	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "0.log")
	appendLog := func(s string) {
		t.Helper()
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	dead := filepath.Join(root, "dead.jsonl")
	yaml := "data_dir: " + filepath.Join(root, "data") + "\n" +
		"sources:\n  pods_dir: " + filepath.Join(root, "pods") + "\n  poll_interval: 20ms\n  rescan_interval: 100ms\n" +
		"checkpoint:\n  interval: 50ms\n" +
		"kubernetes:\n  enabled: \"false\"\n" +
		"sinks:\n  - name: lk\n    type: loki\n" +
		"    batch: {max_wait: 20ms}\n" +
		"    retry: {initial_backoff: 10ms, max_backoff: 200ms}\n" +
		"    loki:\n      url: " + srv.URL + "\n      dead_letter_path: " + dead + "\n"
	cfg, err := config.Parse([]byte(yaml), "t.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		t.Helper()
		a, err := agent.New(cfg, agent.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent.Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the agent did not stop within 30s")
			}
		}
	}
	deadLines := func() []string {
		data, err := os.ReadFile(dead)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(data) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	// waitFor waits until n entries are held and the dead-letter file has one line
	// (generous: the machine may be loaded).
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(entries()) < n || len(deadLines()) < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("after 30s: %d entries of %d, dead letters %q", len(entries()), n, deadLines())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	appendLog("2026-11-22T10:00:00.100000001Z stdout F hello\n" +
		"2026-11-22T10:00:00.2Z stderr F poison\n" +
		"2026-11-22T10:00:00.3Z stdout P part \n" +
		"2026-11-22T10:00:00.4Z stdout F two\n" +
		"2026-11-22T10:00:00.5Z stderr F world\n")
	stop := run()
	waitFor(3)
	stop()
	// Restarted: only the new lines are sent.
	appendLog("2026-11-22T10:00:01Z stdout F after restart\n")
	stop = run()
	waitFor(4)
	time.Sleep(300 * time.Millisecond) // anything sent again would show up by now
	stop()

	want := []struct{ ts, line, stream string }{
		{"2026-11-22T10:00:00.100000001Z", "hello", "stdout"},
		{"2026-11-22T10:00:00.3Z", "part two", "stdout"},
		{"2026-11-22T10:00:00.5Z", "world", "stderr"},
		{"2026-11-22T10:00:01Z", "after restart", "stdout"},
	}
	es := entries()
	if len(es) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(es), len(want), es)
	}
	ids := map[string]bool{}
	for i, w := range want {
		e := es[i]
		ts, _ := time.Parse(time.RFC3339Nano, w.ts)
		id := e.e.Meta["event_id"]
		if e.stream != `{container="app", namespace="prod"}` || e.e.Line != w.line || !e.e.TS.Equal(ts) ||
			e.e.Meta["pod"] != "web-0" || e.e.Meta["pod_uid"] != "uid-1" || e.e.Meta["stream"] != w.stream || id == "" || ids[id] {
			t.Errorf("entry %d: %+v, want %+v", i, e, w)
		}
		ids[id] = true
	}
	dl := deadLines()
	if len(dl) != 1 {
		t.Fatalf("dead letters %q", dl)
	}
	var d struct {
		Status int
		Error  string
		Record struct{ Message string }
	}
	if err := json.Unmarshal([]byte(dl[0]), &d); err != nil || d.Status != http.StatusBadRequest ||
		d.Record.Message != "poison" || !strings.Contains(d.Error, "Max entry size") {
		t.Errorf("dead letter %s: %v", dl[0], err)
	}
}
