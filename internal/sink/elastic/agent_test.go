package elastic_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/agent"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink/elastic"
)

// TestBuildSink: a configuration with an elasticsearch sink builds this sink through
// the agent's BuildSink, and it delivers.
func TestBuildSink(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Write([]byte(`{"errors":false,"took":1,"items":[{"create":{"_index":"x","_id":"id-1","status":201}}]}`))
	}))
	defer srv.Close()
	yaml := "sinks:\n  - name: es\n    type: elasticsearch\n    elasticsearch:\n" +
		"      urls: [" + srv.URL + "]\n" +
		"      index: logs-{kubernetes.namespace}\n" +
		"      data_stream: true\n" +
		"      compression: none\n" +
		"      dead_letter_path: " + filepath.Join(t.TempDir(), "dead.jsonl") + "\n"
	cfg, err := config.Parse([]byte(yaml), "t.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := agent.BuildSink(cfg.Sinks[0], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if _, ok := s.(*elastic.Sink); !ok || s.Name() != "es" {
		t.Fatalf("built %T %s", s, s.Name())
	}
	b := &pipeline.Batch{}
	b.Add(&pipeline.Chunk{Data: []byte(`{"kubernetes":{"namespace":"prod"},"event":{"id":"id-1"}}` + "\n"), Records: 1})
	if err := s.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if want := `{"create":{"_index":"logs-prod","_id":"id-1"}}`; !strings.HasPrefix(body, want+"\n") {
		t.Fatalf("body %q", body)
	}
}
