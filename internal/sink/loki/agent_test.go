package loki_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
