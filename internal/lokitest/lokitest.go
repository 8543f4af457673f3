// Package lokitest runs a real Grafana Loki for tests: its push API
// (/loki/api/v1/push, protobuf with snappy or JSON) and its query API
// (/loki/api/v1/query_range).
//
// The binary is built once from the github.com/grafana/loki/v3 module (no release
// installs on these machines; see /work/shared/reference/test-infra.md section 2,
// "real Grafana Loki") and cached; Binary and the command tools/loki build it (about
// ten minutes, a 220 MB binary). Loki takes about ten seconds to become ready, and
// pushed lines are queryable a moment later: query with WaitFor.
package lokitest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"
)

// Version is the Loki module version that is built and run.
const Version = "v3.7.8"

const pkg = "github.com/grafana/loki/v3/cmd/loki"

// goModExtra are the replace and exclude lines of Loki's own go.mod, which a module
// that builds it must repeat (a dependency's replace lines do not apply), with its
// local pkg/push replaced by the published module.
const goModExtra = `
replace github.com/Azure/azure-sdk-for-go => github.com/Azure/azure-sdk-for-go v68.0.0+incompatible
replace github.com/Azure/azure-storage-blob-go => github.com/MasslessParticle/azure-storage-blob-go v0.14.1-0.20240322194317-344980fda573
replace github.com/gocql/gocql => github.com/grafana/gocql v0.0.0-20200605141915-ba5dc39ece85
exclude k8s.io/client-go v8.0.0+incompatible
replace github.com/hashicorp/memberlist => github.com/grafana/memberlist v0.3.1-0.20251126142931-6f9f62ab6f86
replace github.com/grafana/regexp => github.com/grafana/regexp v0.0.0-20240518133315-a468a5bfb3bc
replace github.com/grafana/loki/pkg/push => github.com/grafana/loki/pkg/push v0.0.0-20250630054201-94c0ba7b0952
replace github.com/influxdata/go-syslog/v3 => github.com/leodido/go-syslog/v4 v4.3.0
replace github.com/thanos-io/objstore => github.com/grafana/objstore v0.0.0-20250728171719-b5d3b766d1b0
`

// Built returns the binary's path when it is available without building:
// $LOGFERRY_LOKI, or the cached build.
func Built() (string, bool) {
	if p := os.Getenv("LOGFERRY_LOKI"); p != "" {
		return p, true
	}
	p := testenv.CachedBinary("loki", Version)
	_, err := os.Stat(p)
	return p, err == nil
}

// BinaryPath returns the binary (Built), building it first when it is missing.
// Progress goes to logf (may be nil).
func BinaryPath(logf func(format string, args ...any)) (string, error) {
	if p, ok := Built(); ok {
		return p, nil
	}
	p := testenv.CachedBinary("loki", Version)
	if logf != nil {
		logf("building Grafana Loki %s into %s (once; about ten minutes)", Version, p)
	}
	return p, testenv.BuildGoModule(p, pkg, Version, goModExtra)
}

// Binary returns the Loki binary when it is built, or skips t (fails it under
// CI=true, where .ci/run builds it first) with how to build it. Unlike VictoriaLogs
// it is not built on demand: ten minutes is more than a test's timeout allows.
func Binary(t testing.TB) string {
	t.Helper()
	p, ok := Built()
	if !ok {
		testenv.SkipOrFail(t, "Grafana Loki %s is not built (%s or $LOGFERRY_LOKI); build it (about ten minutes) with: go run ./tools/loki", Version, p)
	}
	return p
}

// config is a single-process Loki on 127.0.0.1 with filesystem storage under dir,
// without usage reporting.
func config(dir string, httpPort, grpcPort int) string {
	return fmt.Sprintf(`auth_enabled: false
server: {http_listen_address: 127.0.0.1, http_listen_port: %d, grpc_listen_address: 127.0.0.1, grpc_listen_port: %d, log_level: warn}
common:
  instance_addr: 127.0.0.1
  path_prefix: %[3]s
  storage: {filesystem: {chunks_directory: %[3]s/chunks, rules_directory: %[3]s/rules}}
  replication_factor: 1
  ring: {kvstore: {store: inmemory}}
schema_config:
  configs: [{from: 2020-10-24, store: tsdb, object_store: filesystem, schema: v13, index: {prefix: index_, period: 24h}}]
ingester: {lifecycler: {min_ready_duration: 0s, final_sleep: 0s}}
limits_config: {reject_old_samples: false, allow_structured_metadata: true}
analytics: {reporting_enabled: false}
`, httpPort, grpcPort, dir)
}

// Server is a running Loki.
type Server struct {
	URL string // http://127.0.0.1:<port>
}

// PushURL is the push endpoint.
func (s *Server) PushURL() string { return s.URL + "/loki/api/v1/push" }

// Start runs Loki with its data in a temporary directory and waits until it is
// ready (up to a minute); it is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	ports := make([]int, 2)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cfg := filepath.Join(dir, "loki.yaml")
	if err := os.WriteFile(cfg, []byte(config(filepath.Join(dir, "data"), ports[0], ports[1])), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config.file="+cfg)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	if !testenv.Poll(time.Minute, 200*time.Millisecond, s.ready) {
		t.Fatalf("Loki not ready within a minute:\n%s", logs.String())
	}
	return s
}

func (s *Server) ready() bool {
	resp, err := http.Get(s.URL + "/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Entry is one line a query returned, with its stream's labels (Loki puts
// structured metadata there too).
type Entry struct {
	Labels map[string]string
	Time   time.Time
	Line   string
}

// Query runs a LogQL range query over the last day (up to 5,000 lines, oldest first)
// with tenant org ("" for none).
func (s *Server) Query(org, q string) ([]Entry, error) {
	now := time.Now()
	v := url.Values{"query": {q}, "start": {strconv.FormatInt(now.Add(-24*time.Hour).UnixNano(), 10)},
		"end": {strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10)}, "limit": {"5000"}, "direction": {"forward"}}
	req, err := http.NewRequest(http.MethodGet, s.URL+"/loki/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if org != "" {
		req.Header.Set("X-Scope-OrgID", org)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %q: HTTP %d", q, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	var out []Entry
	for _, r := range body.Data.Result {
		for _, v := range r.Values {
			if len(v) < 2 {
				continue
			}
			ts, _ := v[0].(string)
			ns, _ := strconv.ParseInt(ts, 10, 64)
			line, _ := v[1].(string)
			labels := r.Stream
			if len(v) > 2 { // structured metadata, when the response carries it apart
				if m, ok := v[2].(map[string]any); ok {
					labels = mergeLabels(labels, m)
				}
			}
			out = append(out, Entry{Labels: labels, Time: time.Unix(0, ns), Line: line})
		}
	}
	return out, nil
}

func mergeLabels(a map[string]string, b map[string]any) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// WaitFor polls cond every 200ms until it is true, failing t after d.
func WaitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	if !testenv.Poll(d, 200*time.Millisecond, cond) {
		t.Fatalf("condition not met within %v", d)
	}
}
