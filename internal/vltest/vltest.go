// Package vltest runs a real VictoriaLogs server for tests: it accepts the
// Elasticsearch bulk API (/insert/elasticsearch/_bulk) and the Loki push API
// (/insert/loki/api/v1/push), and answers LogsQL queries (/select/logsql/query).
//
// The binary is built once from the VictoriaMetrics module (VictoriaLogs has no
// installable release for these machines; see /work/shared/reference/test-infra.md
// section 2) and cached; Binary and the command tools/victorialogs build it. Rows
// become visible one to two seconds after ingest: query with WaitFor.
package vltest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"
)

// Version is the VictoriaMetrics module version whose app/victoria-logs is run
// (newer ones moved the code away or do not build with Go 1.26).
const Version = "v1.110.0"

const pkg = "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs"

// BinaryPath returns $LOGFERRY_VICTORIALOGS if set, else the cached binary, building
// it first (about a minute) when it is missing. Progress goes to logf (may be nil).
func BinaryPath(logf func(format string, args ...any)) (string, error) {
	if p := os.Getenv("LOGFERRY_VICTORIALOGS"); p != "" {
		return p, nil
	}
	p := testenv.CachedBinary("victoria-logs", Version)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if logf != nil {
		logf("building VictoriaLogs %s into %s (once; about a minute)", Version, p)
	}
	return p, testenv.BuildGoModule(p, pkg, Version, "")
}

// Binary returns the VictoriaLogs binary, or skips t (fails it under CI=true) with
// how to build it by hand.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := BinaryPath(t.Logf)
	if err != nil {
		testenv.SkipOrFail(t, "VictoriaLogs is not built at %s (or $LOGFERRY_VICTORIALOGS) and building it failed: %v\n"+
			"build it with: go run ./tools/victorialogs", p, err)
	}
	return p
}

// Server is a running VictoriaLogs.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>. The Elasticsearch API is at
	// URL+"/insert/elasticsearch", Loki push at URL+"/insert/loki/api/v1/push".
	URL string
}

// Start runs VictoriaLogs on a free port with its data in a temporary directory and
// waits until it is healthy; it is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	p, err := Run(Binary(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &p.Server
}

// Process is a VictoriaLogs started by Run, for callers outside tests (tools/bench).
type Process struct {
	Server
	cmd *exec.Cmd
}

// Run starts the VictoriaLogs binary bin on a free port of 127.0.0.1 with its data
// under dataDir, and waits up to 10s until it answers /health. Stop ends it.
func Run(bin, dataDir string) (*Process, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+dataDir,
		"-retentionPeriod=100y", "-loggerLevel=WARN")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Server: Server{URL: "http://" + addr}, cmd: cmd}
	if !testenv.Poll(10*time.Second, 100*time.Millisecond, p.healthy) {
		p.Stop()
		return nil, fmt.Errorf("VictoriaLogs at %s not healthy within 10s", addr)
	}
	return p, nil
}

// Stop kills the server and waits for it to exit.
func (p *Process) Stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (s *Server) healthy() bool {
	resp, err := http.Get(s.URL + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ElasticsearchURL is the base URL to give an Elasticsearch client.
func (s *Server) ElasticsearchURL() string { return s.URL + "/insert/elasticsearch" }

// LokiPushURL is the Loki push endpoint.
func (s *Server) LokiPushURL() string { return s.URL + "/insert/loki/api/v1/push" }

// Query runs a LogsQL query and returns its rows (field → value).
func (s *Server) Query(t testing.TB, q string) []map[string]string {
	t.Helper()
	rows, err := s.QueryErr(q)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// QueryErr is Query returning its error (for use outside the test goroutine).
func (s *Server) QueryErr(q string) ([]map[string]string, error) {
	resp, err := http.PostForm(s.URL+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %q: HTTP %d", q, resp.StatusCode)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("query %q: %v: %.200s", q, err, sc.Text())
		}
		rows = append(rows, m)
	}
	return rows, sc.Err()
}

// WaitFor polls cond every 100ms until it is true, failing t after d.
func WaitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	if !testenv.Poll(d, 100*time.Millisecond, cond) {
		t.Fatalf("condition not met within %v", d)
	}
}
