package elastic

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/testenv"
)

// victoriaLogsVersion is the VictoriaMetrics module version whose app/victoria-logs
// the test runs (newer ones moved the code away or do not build with Go 1.26; see
// /work/shared/reference/test-infra.md section 2).
const victoriaLogsVersion = "v1.110.0"

// victoriaLogsBinary finds VictoriaLogs: $LOGFERRY_VICTORIALOGS, else the test cache
// ($LOGFERRY_TEST_CACHE, default ~/.cache/logferry-test), where it is built once
// (about a minute) when missing.
func victoriaLogsBinary(t *testing.T) string {
	if p := os.Getenv("LOGFERRY_VICTORIALOGS"); p != "" {
		return p
	}
	cache := os.Getenv("LOGFERRY_TEST_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "logferry-test")
	}
	p := filepath.Join(cache, "victoria-logs-"+victoriaLogsVersion, "victoria-logs")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := buildVictoriaLogs(t, p); err != nil {
		testenv.SkipOrFail(t, "VictoriaLogs is not built at %s (or $LOGFERRY_VICTORIALOGS) and building it failed: %v\n"+
			"by hand, in an empty directory: go mod init local/vl && go get github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs@%s && "+
			"CGO_ENABLED=0 go build -o %s github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs", p, err, victoriaLogsVersion, p)
	}
	return p
}

// buildVictoriaLogs builds it in a throwaway module (go install does not work: the
// module proxy refuses the module's version list) and moves it to out.
func buildVictoriaLogs(t *testing.T, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	dir := t.TempDir()
	t.Logf("building VictoriaLogs %s into %s (once; about a minute)", victoriaLogsVersion, out)
	const pkg = "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs"
	for _, args := range [][]string{
		{"mod", "init", "local/vl"},
		{"get", pkg + "@" + victoriaLogsVersion},
		{"build", "-o", filepath.Join(dir, "victoria-logs"), pkg},
	} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
		if outp, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, outp)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp" + fmt.Sprint(os.Getpid())
	data, err := os.ReadFile(filepath.Join(dir, "victoria-logs"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, out) // atomic: a concurrent test sees all of it or nothing
}

// TestVictoriaLogs sends through VictoriaLogs' Elasticsearch bulk endpoint (gzip)
// and reads the records back with LogsQL.
func TestVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := victoriaLogsBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=100y", "-loggerLevel=WARN")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	waitFor(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	dl, err := NewDeadLetter("vl", dead, 0, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("vl", Options{
		URLs:  []string{base + "/insert/elasticsearch"},
		Index: "logs-{kubernetes.namespace}-%Y.%m.%d",
		Parameters: map[string]string{"_msg_field": "message", "_time_field": "@timestamp",
			"_stream_fields": "kubernetes.namespace,kubernetes.pod.name"},
		MaxRequestBytes: 4096, // several requests
		DeadLetter:      dl,
		Logger:          slog.New(slog.DiscardHandler),
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
		got = query(t, base, `* | stats by (kubernetes.namespace) count() as n`)
		rows = queryRows(t, base, `"hello from vl-007"`)
		return got["default"] == fmt.Sprint(n/2) && got["kube-system"] == fmt.Sprint(n/2) && len(rows) == 1
	})
	if rows[0]["event.id"] != "vl-007" || rows[0]["kubernetes.pod.name"] != "web-1" || rows[0]["_msg"] != "hello from vl-007" {
		t.Fatalf("rows %v", rows)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func queryRows(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("query %q: %v: %s", q, err, sc.Text())
		}
		rows = append(rows, m)
	}
	return rows
}

// query returns count rows as namespace → n.
func query(t *testing.T, base, q string) map[string]string {
	out := map[string]string{}
	for _, r := range queryRows(t, base, q) {
		out[r["kubernetes.namespace"]] = r["n"]
	}
	return out
}
