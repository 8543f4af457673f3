package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logferry/logferry/internal/status"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "logferry_test_total", Help: "A test counter."})
	c.Add(3)
	reg.MustRegister(c)
	alive, ready := true, true
	h := Handler(reg, Probes{
		Alive: func() (bool, string) {
			if alive {
				return true, ""
			}
			return false, "checkpoint loop silent for 1m0s"
		},
		Ready: func() (bool, []string) {
			if ready {
				return true, nil
			}
			return false, []string{"sink out failing: connection refused", "first scan not finished"}
		},
		Status: func() *status.Status {
			return &status.Status{Node: "n1", Ready: ready, Sinks: []status.Sink{{Name: "out"}}}
		},
	}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, tc := range []struct {
		name, method, path string
		alive, ready       bool
		code               int
		body               []string
	}{
		{"metrics", "GET", "/metrics", true, true, 200, []string{"logferry_test_total 3", "# TYPE logferry_test_total counter"}},
		{"healthz ok", "GET", "/healthz", true, true, 200, []string{"ok"}},
		{"healthz while not ready", "GET", "/healthz", true, false, 200, []string{"ok"}},
		{"healthz stuck", "GET", "/healthz", false, true, 503, []string{"not alive: checkpoint loop silent for 1m0s"}},
		{"readyz ok", "GET", "/readyz", true, true, 200, []string{"ok"}},
		{"readyz not ready", "GET", "/readyz", true, false, 503, []string{"not ready:", "- sink out failing: connection refused", "- first scan not finished"}},
		{"status", "GET", status.Path, true, true, 200, []string{`"node": "n1"`, `"ready": true`}},
		{"index", "GET", "/", true, true, 200, []string{"/metrics", "/healthz", "/readyz", status.Path}},
		{"unknown path", "GET", "/nope", true, true, 404, nil},
		{"post", "POST", "/healthz", true, true, 405, nil},
		{"no pprof here", "GET", "/debug/pprof/", true, true, 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alive, ready = tc.alive, tc.ready
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.code, b)
			}
			for _, want := range tc.body {
				if !strings.Contains(string(b), want) {
					t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, want, b)
				}
			}
		})
	}
	// The status document decodes into its own type.
	resp, err := http.Get(srv.URL + status.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Node != "n1" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status: %v %+v %q", err, st, resp.Header.Get("Content-Type"))
	}
}

func TestListenServeShutdown(t *testing.T) {
	s, err := Listen("127.0.0.1:0", PprofHandler())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	resp, err := http.Get("http://" + s.Addr() + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pprof: %d", resp.StatusCode)
	}
	if _, err := Listen(s.Addr(), PprofHandler()); err == nil || !strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("listening on a taken address: %v, want an error naming it", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
