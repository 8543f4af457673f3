package elastic

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/secret/secrettest"
)

// TestFromConfig builds the sink as the agent does: secrets from files, TLS with a CA
// file, and the dead-letter file.
func TestFromConfig(t *testing.T) {
	var auth []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"errors":false,"took":1,"items":[{"index":{"_index":"x","_id":"a","status":201}}]}`))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case logs a handshake error
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	write := secrettest.Files(t)
	ca := write("ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	t.Run("api key file and CA", func(t *testing.T) {
		s, err := FromConfig("es", config.ElasticsearchSink{
			URLs: []string{srv.URL}, Index: "logs", APIKeyFile: write("key", "id:secret\n"),
			HTTPClient: config.HTTPClient{CAFile: ca},
			DeadLetter: config.DeadLetter{DeadLetterPath: filepath.Join(dir, "dl", "dead.jsonl")},
		}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(t.Context())
		if err := s.Consume(t.Context(), batch([]string{"a"})); err != nil {
			t.Fatal(err)
		}
		if auth[len(auth)-1] != APIKeyAuth("id:secret") {
			t.Fatalf("auth %q", auth)
		}
		if _, err := os.Stat(filepath.Join(dir, "dl", "dead.jsonl")); err != nil {
			t.Fatalf("dead-letter file not created: %v", err)
		}
	})
	t.Run("password file, no CA", func(t *testing.T) {
		s, err := FromConfig("es", config.ElasticsearchSink{
			URLs: []string{srv.URL}, Index: "logs",
			HTTPClient: config.HTTPClient{Username: "u", PasswordFile: write("pw", "p\n")},
			DeadLetter: config.DeadLetter{DeadLetterPath: filepath.Join(dir, "dead2.jsonl")},
		}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(t.Context())
		// The test server's certificate is not trusted without ca_file.
		err = s.Consume(t.Context(), batch([]string{"a"}))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("insecure and bearer", func(t *testing.T) {
		yes := true
		s, err := FromConfig("es", config.ElasticsearchSink{
			URLs: []string{srv.URL}, Index: "logs",
			HTTPClient: config.HTTPClient{BearerToken: "tok", InsecureSkipVerify: &yes},
			DeadLetter: config.DeadLetter{DeadLetterPath: filepath.Join(dir, "dead3.jsonl")},
		}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(t.Context())
		if err := s.Consume(t.Context(), batch([]string{"a"})); err != nil {
			t.Fatal(err)
		}
		if auth[len(auth)-1] != "Bearer tok" {
			t.Fatalf("auth %q", auth)
		}
	})
	// The shared settings' failures are tested in package httpsink; these check
	// that FromConfig reports them.
	dl := config.DeadLetter{DeadLetterPath: filepath.Join(dir, "d")}
	for name, c := range map[string]config.ElasticsearchSink{
		"missing api key file": {URLs: []string{srv.URL}, Index: "logs", APIKeyFile: filepath.Join(dir, "nope"), DeadLetter: dl},
		"empty password file": {URLs: []string{srv.URL}, Index: "logs", DeadLetter: dl,
			HTTPClient: config.HTTPClient{Username: "u", PasswordFile: write("empty", "\n")}},
		"bad CA":         {URLs: []string{srv.URL}, Index: "logs", HTTPClient: config.HTTPClient{CAFile: write("bad.pem", "x")}, DeadLetter: dl},
		"no dead letter": {URLs: []string{srv.URL}, Index: "logs"},
		"bad index":      {URLs: []string{srv.URL}, Index: "logs-{x", DeadLetter: dl},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := FromConfig("es", c, slog.New(slog.DiscardHandler))
			if err == nil || s != nil {
				t.Fatalf("got %v, %v", s, err)
			}
		})
	}
}
