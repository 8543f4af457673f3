package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/vltest"
)

// TestSinkOutage: the Elasticsearch sink (VictoriaLogs behind a proxy that answers 503)
// is down for longer than the kubelet takes to rotate the busy containers' files away
// and delete them. Within sources.deleted_budget the agent holds the deleted files
// open, reading pauses while the sink is down (backpressure), and once the sink
// returns every line arrives: nothing lost, and the per-container loss counter stays
// 0. With a budget smaller than one file, the deleted files are given up and the
// loss is counted for each container that lost lines.
func TestSinkOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end outage: skipped with -short")
	}
	for _, tc := range []struct {
		name     string
		budget   string
		wantLoss bool
	}{
		{name: "within_budget", budget: "1GiB"},
		{name: "past_budget", budget: "16KiB", wantLoss: true},
	} {
		t.Run(tc.name, func(t *testing.T) { runOutage(t, tc.budget, tc.wantLoss) })
	}
}

func runOutage(t *testing.T, budget string, wantLoss bool) {
	root := t.TempDir()
	node := filepath.Join(root, "node")
	vl := vltest.Start(t)
	px := newBulkProxy(t, vl.URL)
	px.down.Store(true) // down from the start
	// The kubelet's pods directory exists before the agent starts, as on a node:
	// the agent watches it from the first moment.
	if err := os.MkdirAll(filepath.Join(node, "pods"), 0o755); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	cfg := filepath.Join(root, "agent.yaml")
	writeFile(t, cfg, "data_dir: "+filepath.Join(root, "data")+"\n"+
		"sources:\n  pods_dir: "+filepath.Join(node, "pods")+"\n  poll_interval: 50ms\n  rescan_interval: 1s\n  deleted_budget: "+budget+"\n"+
		"checkpoint:\n  interval: 100ms\n"+
		"sinks:\n  - name: es\n    type: elasticsearch\n    retry:\n      max_backoff: 300ms\n    elasticsearch:\n"+
		"      urls: ["+px.url+"/insert/elasticsearch]\n"+
		"      index: logs-{kubernetes.namespace}\n"+
		"      parameters: {_msg_field: message, _time_field: \"@timestamp\", _stream_fields: \"kubernetes.pod.name\"}\n"+
		"      dead_letter_path: "+filepath.Join(root, "dead.jsonl")+"\n"+
		"http:\n  addr: "+addr+"\nlog:\n  level: warn\n")
	agent := startDaemon(t, "agent", binary, "agent", "--config", cfg)
	vltest.WaitFor(t, 15*time.Second, func() bool {
		code, _, err := httpGet(context.Background(), "http://"+addr+"/healthz")
		return err == nil && code == 200
	})

	// 3 containers at ~40 KB/s each for 2 s, rotated at 16 KiB, the kubelet keeping the
	// live file and one rotated file: each file is deleted well within the outage.
	g := startDaemon(t, "gen", binary, "gen", "--out", node, "--format", "cri",
		"--namespaces", "1", "--pods", "3", "--containers", "1",
		"--lines", "1200", "--rate", "600", "--line-size", "200",
		"--rotate-size", "16KiB", "--max-files", "2", "--rotate-interval", "20ms", "--seed", "7")
	heldMax := 0.0
	outageEnd := time.Now().Add(8 * time.Second) // gen's 2 s and 6 s more
	for time.Now().Before(outageEnd) {
		heldMax = max(heldMax, metrics(t, addr).sum("logferry_container_deleted_files_held", ""))
		time.Sleep(200 * time.Millisecond)
	}
	if code := g.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("gen exited %d:\n%s", code, g.log)
	}
	if st := px.stats(); st.items != 0 {
		t.Fatalf("%d items reached the store during the outage", st.items)
	}
	m, err := gen.ReadManifest(filepath.Join(node, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	px.down.Store(false)

	// Caught up: no container has bytes left to deliver (delivered or given up).
	var mt metricSet
	vltest.WaitFor(t, 60*time.Second, func() bool {
		mt = metrics(t, addr)
		return px.stats().items > 0 && mt.sum("logferry_container_lag_bytes", "") == 0
	})
	agent.stop(t, syscall.SIGTERM)
	lost := mt.sum("logferry_container_bytes_given_up_total", `reason="budget"`)
	rep := checkRecords(t, m, px.stats().upserted())
	t.Logf("deleted_budget %s: %d rotations; up to %.0f deleted files held during the outage; %d of %d lines delivered, %d missing; %.0f bytes counted given up",
		budget, m.Totals.Rotations, heldMax, rep.Received, rep.Expected, rep.Missing, lost)
	if m.Totals.Rotations < 6 {
		t.Fatalf("only %d rotations: the outage did not outlast the rotation", m.Totals.Rotations)
	}
	if rep.Corrupt != 0 || rep.Duplicates != 0 || rep.Expected == 0 {
		t.Errorf("corrupt or duplicated lines:\n%s", rep)
	}
	if !wantLoss {
		if heldMax == 0 {
			t.Error("no deleted file was ever held open: the outage did not outlast the rotation")
		}
		if rep.Missing != 0 || lost != 0 {
			t.Errorf("lines lost within the budget (counter: %.0f bytes):\n%s", lost, rep)
		}
		return
	}
	if rep.Missing == 0 {
		t.Fatalf("a budget smaller than one file lost nothing (counter: %.0f bytes)", lost)
	}
	for _, c := range rep.Containers {
		sel := fmt.Sprintf(`container=%q,namespace=%q,pod=%q,reason="budget"`, c.Container, c.Namespace, c.Pod)
		if n := mt.sum("logferry_container_bytes_given_up_total", sel); c.Missing > 0 && n == 0 {
			t.Errorf("%s/%s/%s lost %d lines but its loss counter is 0", c.Namespace, c.Pod, c.Container, c.Missing)
		}
	}
}

// metricSet is a Prometheus text page: one sample a line.
type metricSet []string

// metrics scrapes the agent's /metrics.
func metrics(t *testing.T, addr string) metricSet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := httpGet(ctx, "http://"+addr+"/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	var out metricSet
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if l := sc.Text(); l != "" && l[0] != '#' {
			out = append(out, l)
		}
	}
	return out
}

// sum adds the samples of name whose labels contain labels (in the page's order:
// alphabetical), "" for all.
func (m metricSet) sum(name, labels string) float64 {
	total := 0.0
	for _, l := range m {
		sp := strings.LastIndexByte(l, ' ')
		series := l[:sp]
		if series != name && !strings.HasPrefix(series, name+"{") || !strings.Contains(series, labels) {
			continue
		}
		v, err := strconv.ParseFloat(l[sp+1:], 64)
		if err == nil {
			total += v
		}
	}
	return total
}
