package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/status"
	"github.com/logferry/logferry/internal/testenv"
)

// testStatus is a hand-made document: one sink, two files of one container.
func testStatus() *status.Status {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return &status.Status{
		Node: "node-t", Version: "test", StartedAt: now.Add(-time.Minute), Now: now, Ready: true,
		Buffer:     status.Buffer{UsedBytes: 1 << 10, LimitBytes: 1 << 20},
		Checkpoint: status.Checkpoint{Entries: 2},
		Sinks:      []status.Sink{{Name: "file-0", Type: "file", Healthy: true, Records: 10}},
		Containers: []status.Container{{
			Namespace: "prod", Pod: "api-abc", Container: "app", LagBytes: 300, LagSeconds: 2,
			Files: []status.File{
				{Path: "/var/log/pods/prod_api-abc_1/app/0.log", Size: 100, ReadOffset: 100, AckedOffset: 100, State: "idle"},
				{Path: "/var/log/pods/prod_api-abc_1/app/1.log", Size: 2000, ReadOffset: 2000, AckedOffset: 1700, LagBytes: 300, State: "waiting"},
			},
		}},
	}
}

// statusServer serves testStatus at status.Path; the first failures requests answer 500.
func statusServer(t *testing.T, failures int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	doc, err := json.Marshal(testStatus())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != status.Path {
			http.NotFound(w, r)
			return
		}
		if n.Add(1) <= failures {
			http.Error(w, "warming up", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// runStatusCmd runs `logferry status args...` until it returns or ctx ends.
func runStatusCmd(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := newStatusCmd()
	cmd.SetArgs(args)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestStatusOnce(t *testing.T) {
	srv, _ := statusServer(t, 0)
	host := strings.TrimPrefix(srv.URL, "http://")
	bad := testenv.ClosedAddr(t)
	notAgent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>hello</html>"))
	}))
	defer notAgent.Close()
	tests := []struct {
		name     string
		args     []string
		code     int // exit code; 0 = success
		contains []string
		lacks    []string
	}{
		{"host:port", []string{"--addr", host}, 0,
			[]string{"node node-t", "ready:      yes", "file-0", "NAMESPACE", "prod       api-abc  app        /var/log/pods/prod_api-abc_1/app/1.log  waiting"},
			[]string{"\x1b"}},
		{"url", []string{"--addr", srv.URL}, 0, []string{"node node-t"}, nil},
		{"url with the path", []string{"--addr", srv.URL + status.Path}, 0, []string{"node node-t"}, nil},
		{"json", []string{"--addr", host, "--json"}, 0, []string{`"node":"node-t"`}, []string{"NAMESPACE"}},
		{"nothing listening", []string{"--addr", bad, "--timeout", "2s"}, 1,
			[]string{"cannot reach the agent at " + bad, "connection refused", "--addr HOST:PORT"}, nil},
		{"wrong path", []string{"--addr", srv.URL + "/prefix"}, 1,
			[]string{"the agent at " + srv.URL + "/prefix answered GET " + srv.URL + "/prefix" + status.Path + " with 404 Not Found", "--http-addr"}, nil},
		{"not a status document", []string{"--addr", notAgent.URL}, 1,
			[]string{"the status from the agent at " + notAgent.URL, "is not a status document"}, nil},
		{"bad addr", []string{"--addr", "localhost"}, 2, []string{`--addr "localhost": want HOST:PORT`}, nil},
		{"bad interval", []string{"--addr", host, "--interval", "0s"}, 2, []string{"--interval 0s: must be positive"}, nil},
		{"bad timeout", []string{"--addr", host, "--timeout", "-1s"}, 2, []string{"--timeout -1s: must be positive"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runStatusCmd(context.Background(), tt.args...)
			code := 0
			if err != nil {
				code = exitCode(err)
				out += err.Error()
			}
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, bad := range tt.lacks {
				if strings.Contains(out, bad) {
					t.Errorf("output has %q:\n%s", bad, out)
				}
			}
		})
	}
}

func TestStatusURL(t *testing.T) {
	tests := []struct {
		addr, want, err string
	}{
		{addr: "127.0.0.1:9733", want: "http://127.0.0.1:9733/api/v1/status"},
		{addr: ":9733", want: "http://127.0.0.1:9733/api/v1/status"},
		{addr: "[::1]:9733", want: "http://[::1]:9733/api/v1/status"},
		{addr: "node-1.example:80", want: "http://node-1.example:80/api/v1/status"},
		{addr: "http://10.0.0.1:9733", want: "http://10.0.0.1:9733/api/v1/status"},
		{addr: "http://10.0.0.1:9733/", want: "http://10.0.0.1:9733/api/v1/status"},
		{addr: "https://proxy.example/agents/n1/", want: "https://proxy.example/agents/n1/api/v1/status"},
		{addr: "http://10.0.0.1:9733/api/v1/status?x=1", want: "http://10.0.0.1:9733/api/v1/status"},
		{addr: "localhost", err: `--addr "localhost": want HOST:PORT or an http:// URL`},
		{addr: "localhost:", err: `--addr "localhost:": no port`},
		{addr: "ftp://x:1", err: `scheme "ftp"`},
		{addr: "http://", err: "no host"},
	}
	for _, tt := range tests {
		got, err := statusURL(tt.addr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("statusURL(%q) = %q, %v; want an error containing %q", tt.addr, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("statusURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

// TestStatusWatch runs --watch without a terminal: frames separated by a blank line, no
// escape codes, fetch errors shown and retried, exit 0 when the context ends.
func TestStatusWatch(t *testing.T) {
	tests := []struct {
		name      string
		failures  int64 // first requests answered 500
		json      bool
		minFrames int
		contains  []string
		stderr    []string
	}{
		{name: "table", minFrames: 3, contains: []string{"logferry status http://", "every 50ms", "\n\nlogferry status", "node node-t"}},
		{name: "errors then recovery", failures: 2, minFrames: 3,
			contains: []string{"ERROR: the agent at ", "500 Internal Server Error", "retrying every 50ms", "node node-t"}},
		{name: "json", failures: 1, json: true, minFrames: 2, contains: []string{"}\n\n{"}, stderr: []string{"500 Internal Server Error", "retrying every 50ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := statusServer(t, tt.failures)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			args := []string{"--addr", srv.URL, "--watch", "--interval", "50ms"}
			if tt.json {
				args = append(args, "--json")
			}
			start := time.Now()
			out, errOut, err := runStatusCmd(ctx, args...)
			if err != nil {
				t.Fatalf("watch returned %v, want nil", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("watch took %v to stop after its context ended", el)
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("output to a non-terminal has escape codes:\n%q", out)
			}
			if got := n.Load(); got < int64(tt.minFrames) {
				t.Errorf("%d fetches, want at least %d", got, tt.minFrames)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if tt.json {
				for i, doc := range strings.Split(strings.TrimSpace(out), "\n\n") {
					var s status.Status
					if err := json.Unmarshal([]byte(doc), &s); err != nil {
						t.Errorf("frame %d is not a status document: %v\n%s", i, err, doc)
					}
				}
			}
		})
	}
}

// TestStatusWatchTerminal drives the terminal path with a fake window: every frame
// starts by clearing the screen and fits the window.
func TestStatusWatchTerminal(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		failures      int64
		contains      []string
	}{
		{name: "roomy", width: 160, height: 40, contains: []string{"(Ctrl-C to quit)", "node node-t", "prod       api-abc"}},
		{name: "small", width: 50, height: 14, contains: []string{"… 2 more files"}},
		{name: "just enough", width: 80, height: 16, contains: []string{"1.log", "0.log"}},
		{name: "fetch error", width: 100, height: 30, failures: 1000, contains: []string{"ERROR: the agent at", "retrying every"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := statusServer(t, tt.failures)
			u, err := statusURL(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			w := &frameWriter{}
			v := &statusView{
				addr: srv.URL, url: u, client: srv.Client(), timeout: time.Second, interval: 30 * time.Millisecond,
				out: w, errOut: io.Discard,
				size: func() (int, int, error) { return tt.width, tt.height, nil },
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if err := v.watch(ctx); err != nil {
				t.Fatal(err)
			}
			frames := w.frames()
			if len(frames) < 2 {
				t.Fatalf("%d frames, want at least 2", len(frames))
			}
			for i, f := range frames {
				if !strings.HasPrefix(f, clearScreen) {
					t.Fatalf("frame %d does not start by clearing the screen: %q", i, f)
				}
				body := strings.TrimPrefix(f, clearScreen)
				if strings.Contains(body, "\x1b") {
					t.Errorf("frame %d has more escape codes: %q", i, body)
				}
				lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
				if len(lines) >= tt.height {
					t.Errorf("frame %d has %d lines; the window has %d:\n%s", i, len(lines), tt.height, body)
				}
				for _, l := range lines {
					if utf8.RuneCountInString(l) > tt.width {
						t.Errorf("frame %d: line wider than %d: %q", i, tt.width, l)
					}
				}
				for _, want := range tt.contains {
					if !strings.Contains(body, want) {
						t.Errorf("frame %d lacks %q:\n%s", i, want, body)
					}
				}
			}
		})
	}
}

// frameWriter records each Write as one frame.
type frameWriter struct {
	mu sync.Mutex
	w  []string
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.w = append(f.w, string(p))
	return len(p), nil
}

func (f *frameWriter) frames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.w...)
}
