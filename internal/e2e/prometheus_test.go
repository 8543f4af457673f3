package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"

	"go.yaml.in/yaml/v3"

	"github.com/logferry/logferry/internal/gen"
)

// The tests here check deploy/monitoring (alert rules, their unit tests and the Grafana
// dashboard) with promtool, and scrape a live agent with Debian's Prometheus.

const promInstallHint = "install Prometheus and promtool with: apt-get update && apt-get install -y --no-install-recommends prometheus"

// contractMetrics is every metric of the agent's metrics contract (name: type), the names
// deploy/monitoring may use. Histograms may also be used with _bucket, _sum and _count.
var contractMetrics = map[string]string{
	// Per container (labels namespace, pod, container).
	"logferry_container_read_bytes_total":            "counter",
	"logferry_container_read_lines_total":            "counter",
	"logferry_container_lag_bytes":                   "gauge",
	"logferry_container_lag_seconds":                 "gauge",
	"logferry_container_lines_given_up_total":        "counter",
	"logferry_container_bytes_given_up_total":        "counter",
	"logferry_container_last_line_timestamp_seconds": "gauge",
	"logferry_container_files_open":                  "gauge",
	"logferry_container_deleted_files_held":          "gauge",
	"logferry_container_deleted_bytes_held":          "gauge",
	"logferry_container_rotations_total":             "counter",
	"logferry_container_truncations_total":           "counter",
	"logferry_container_silence_threshold_seconds":   "gauge",
	// Node totals.
	"logferry_read_bytes_total":       "counter",
	"logferry_read_lines_total":       "counter",
	"logferry_lines_given_up_total":   "counter",
	"logferry_bytes_given_up_total":   "counter",
	"logferry_malformed_lines_total":  "counter",
	"logferry_partial_flushes_total":  "counter",
	"logferry_open_errors_total":      "counter",
	"logferry_discovery_errors_total": "counter",
	"logferry_containers":             "gauge",
	"logferry_files_open":             "gauge",
	"logferry_buffer_bytes":           "gauge",
	"logferry_buffer_limit_bytes":     "gauge",
	// Sinks (labels sink, type).
	"logferry_sink_records_total":                  "counter",
	"logferry_sink_bytes_total":                    "counter",
	"logferry_sink_batches_total":                  "counter",
	"logferry_sink_retries_total":                  "counter",
	"logferry_sink_failures_total":                 "counter",
	"logferry_sink_in_flight_chunks":               "gauge",
	"logferry_sink_up":                             "gauge",
	"logferry_sink_batch_duration_seconds":         "histogram",
	"logferry_sink_last_success_timestamp_seconds": "gauge",
	// Checkpoint.
	"logferry_checkpoint_writes_total":           "counter",
	"logferry_checkpoint_write_duration_seconds": "histogram",
	"logferry_checkpoint_corrupt_total":          "counter",
	"logferry_checkpoint_entries":                "gauge",
	// Config and self.
	"logferry_config_reloads_total":                         "counter",
	"logferry_config_last_reload_success_timestamp_seconds": "gauge",
	"logferry_build_info":                                   "gauge",
	"logferry_log_messages_suppressed_total":                "counter",
}

// contractAbsent are contract metrics the agent does not export yet (the contract says so).
var contractAbsent = map[string]string{
	"logferry_container_silence_threshold_seconds": "needs the pod silence-threshold annotation (issue 4)",
}

// contractMetricName reports whether name is a contract metric, or a histogram's series.
func contractMetricName(name string) bool {
	if _, ok := contractMetrics[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && contractMetrics[base] == "histogram" {
			return true
		}
	}
	return false
}

var metricToken = regexp.MustCompile(`logferry_[a-z_]+`)

// unknownMetrics returns the logferry_ names used in s that the contract does not define.
func unknownMetrics(s string) []string {
	var bad []string
	for _, name := range metricToken.FindAllString(s, -1) {
		if !contractMetricName(name) && !slices.Contains(bad, name) {
			bad = append(bad, name)
		}
	}
	return bad
}

func monitoringDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "deploy", "monitoring"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// runPromtool runs promtool in dir with stdin and returns its combined output; it fails
// the test if promtool exits non-zero.
func runPromtool(t *testing.T, promtool, dir string, stdin io.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// promtoolExtraLines returns the non-empty lines of out that match none of allowed.
func promtoolExtraLines(out string, allowed ...*regexp.Regexp) []string {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !slices.ContainsFunc(allowed, func(re *regexp.Regexp) bool { return re.MatchString(line) }) {
			bad = append(bad, line)
		}
	}
	return bad
}

// promRuleFile is the part of a Prometheus rule file the tests read.
type promRuleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// grafanaDashboard is the part of a Grafana dashboard the tests read.
type grafanaDashboard struct {
	SchemaVersion int    `json:"schemaVersion"`
	UID           string `json:"uid"`
	Title         string `json:"title"`
	Templating    struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Query      json.RawMessage    `json:"query"`
			Definition string             `json:"definition"`
			Datasource *grafanaDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string             `json:"refId"`
		Expr       string             `json:"expr"`
		Datasource *grafanaDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's panels
}

func readDashboard(t *testing.T) *grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir(t), "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("dashboard.json: trailing data after the JSON object")
	}
	return &d
}

// panels returns every panel, rows' panels included.
func (d *grafanaDashboard) allPanels() []grafanaPanel {
	var all []grafanaPanel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	return all
}

// dashboardQuery is one PromQL expression of the dashboard.
type dashboardQuery struct {
	where string // panel title and refId
	expr  string // with Grafana's variables
}

func (d *grafanaDashboard) queries() []dashboardQuery {
	var qs []dashboardQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			qs = append(qs, dashboardQuery{where: fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), expr: tg.Expr})
		}
	}
	return qs
}

// grafanaVars are the dashboard's variables, replaced by values that make the
// expressions plain PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "1m",
	"$__range", "1h",
	"${namespace}", ".*",
	"$namespace", ".*",
	"${node}", ".*",
	"$node", ".*",
)

func TestAlertRules(t *testing.T) {
	promtool := testenv.NeedTool(t, "promtool", promInstallHint)
	dir := monitoringDir(t)
	checkOK := []*regexp.Regexp{regexp.MustCompile(`^Checking `), regexp.MustCompile(`^\s+SUCCESS: \d+ rules found$`)}

	t.Run("check rules", func(t *testing.T) {
		// --lint-fatal: duplicate rules fail too.
		out := runPromtool(t, promtool, dir, nil, "check", "rules", "--lint=all", "--lint-fatal", "alerts.yaml")
		t.Logf("promtool check rules:\n%s", out)
		if bad := promtoolExtraLines(out, checkOK...); len(bad) > 0 {
			t.Errorf("promtool check rules printed more than success:\n%s", strings.Join(bad, "\n"))
		}
	})

	t.Run("test rules", func(t *testing.T) {
		out := runPromtool(t, promtool, dir, nil, "test", "rules", "alerts_test.yaml")
		t.Logf("promtool test rules:\n%s", out)
		if bad := promtoolExtraLines(out, regexp.MustCompile(`^Unit Testing: `), regexp.MustCompile(`^\s+SUCCESS$`)); len(bad) > 0 {
			t.Errorf("promtool test rules printed more than success:\n%s", strings.Join(bad, "\n"))
		}
	})

	t.Run("alerts", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "alerts.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var rf promRuleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatal(err)
		}
		if len(rf.Groups) != 1 || rf.Groups[0].Name != "logferry" {
			t.Fatalf("want one rule group named logferry, got %d groups", len(rf.Groups))
		}
		want := []string{"LogferryLagGrowing", "LogferryLinesGivenUp", "LogferrySinkFailing", "LogferrySinkBacklog",
			"LogferryCheckpointWriteFailing", "LogferryContainerSilent", "LogferryAgentDown", "LogferryConfigReloadFailed"}
		var got []string
		for _, r := range rf.Groups[0].Rules {
			if r.Alert == "" {
				t.Errorf("rule %q is not an alert", r.Record)
				continue
			}
			got = append(got, r.Alert)
			if r.For == "" {
				t.Errorf("%s: no for:", r.Alert)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want summary and description annotations", r.Alert)
			}
			if bad := unknownMetrics(r.Expr); len(bad) > 0 {
				t.Errorf("%s uses metrics the contract does not define: %v", r.Alert, bad)
			}
		}
		for _, name := range want {
			if !slices.Contains(got, name) {
				t.Errorf("alert %s is missing", name)
			}
		}
		// The unit tests' input series must be contract metrics too, or they test nothing.
		tb, err := os.ReadFile(filepath.Join(dir, "alerts_test.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if bad := unknownMetrics(string(tb)); len(bad) > 0 {
			t.Errorf("alerts_test.yaml uses metrics the contract does not define: %v", bad)
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		d := readDashboard(t)
		if d.SchemaVersion != 39 {
			t.Errorf("schemaVersion %d, want 39", d.SchemaVersion)
		}
		vars := map[string]string{} // name -> type
		for _, v := range d.Templating.List {
			vars[v.Name] = v.Type
			var q struct {
				Query string `json:"query"`
			}
			query := v.Definition
			if json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
				query = q.Query
			}
			if bad := unknownMetrics(query); len(bad) > 0 {
				t.Errorf("variable %s uses metrics the contract does not define: %v", v.Name, bad)
			}
			if v.Name == "namespace" && !strings.Contains(query, "label_values(logferry_container_read_lines_total") {
				t.Errorf("variable namespace: query %q, want label_values(logferry_container_read_lines_total..., namespace)", query)
			}
		}
		if vars["datasource"] != "datasource" || vars["namespace"] != "query" || vars["node"] != "query" {
			t.Errorf("want variables datasource (datasource), namespace and node (query), got %v", vars)
		}
		ids := map[int]string{}
		for _, p := range d.allPanels() {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
				t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %s: empty expr", p.Title, tg.RefID)
				}
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q target %s: datasource %+v, want uid ${datasource}", p.Title, tg.RefID, tg.Datasource)
				}
			}
		}
		qs := d.queries()
		for _, q := range qs {
			if bad := unknownMetrics(q.expr); len(bad) > 0 {
				t.Errorf("%s uses metrics the contract does not define: %v", q.where, bad)
			}
		}
		// promtool has no command that parses a bare expression, so every query becomes a
		// recording rule of a throw-away rule file, which check rules parses.
		var rules strings.Builder
		rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
		for i, q := range qs {
			fmt.Fprintf(&rules, "      # %s\n      - record: dashboard_query_%d\n        expr: %s\n", q.where, i, strconv.Quote(grafanaVars.Replace(q.expr)))
		}
		tmp := t.TempDir()
		writeFile(t, filepath.Join(tmp, "dashboard_rules.yaml"), rules.String())
		cmd := exec.Command(promtool, "check", "rules", "--lint=none", "dashboard_rules.yaml")
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("a dashboard query is not valid PromQL: %v\n%s\n(rules: %s)", err, out, rules.String())
		}
		if bad := promtoolExtraLines(string(out), checkOK...); len(bad) > 0 {
			t.Errorf("promtool check rules on the dashboard's queries:\n%s", strings.Join(bad, "\n"))
		}
		t.Logf("%d dashboard queries parse: %s", len(qs), strings.TrimSpace(string(out)))
	})
}

// promClient queries Prometheus' HTTP API.
type promClient struct {
	base string // http://host:port
}

type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func (p *promClient) get(ctx context.Context, path string, params url.Values) (*promResponse, error) {
	u := p.base + path
	if params != nil {
		u += "?" + params.Encode()
	}
	code, body, err := httpGet(ctx, u)
	if err != nil {
		return nil, err
	}
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET %s: %d %q: %v", u, code, body, err)
	}
	if r.Status != "success" {
		return &r, fmt.Errorf("GET %s: %s: %s", u, r.ErrorType, r.Error)
	}
	return &r, nil
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

func (s promSample) value() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return -1
	}
	return v
}

// query evaluates expr now and returns the result (a vector, or a scalar as one promSample).
func (p *promClient) query(ctx context.Context, expr string) ([]promSample, *promResponse, error) {
	r, err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, r, err
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, r, err
	}
	switch data.ResultType {
	case "vector":
		var v []promSample
		err := json.Unmarshal(data.Result, &v)
		return v, r, err
	case "scalar":
		var s promSample
		err := json.Unmarshal(data.Result, &s.Value)
		return []promSample{s}, r, err
	}
	return nil, r, fmt.Errorf("query %q: result type %s", expr, data.ResultType)
}

// pageMetricTypes parses the # TYPE lines of a text exposition page.
func pageMetricTypes(page string) map[string]string {
	types := map[string]string{}
	for _, line := range strings.Split(page, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	return types
}

// The name --sink file:PATH gives the first sink (cmd/logferry: "<type>-<index>").
const scrapeSinkName = "file-0"

func TestPrometheusScrape(t *testing.T) {
	promtool := testenv.NeedTool(t, "promtool", promInstallHint)
	prometheus := testenv.NeedTool(t, "prometheus", promInstallHint)
	if help, _ := exec.Command(binary, "agent", "--help").CombinedOutput(); !strings.Contains(string(help), "--http-addr") {
		t.Fatalf("logferry agent has no --http-addr flag, so it serves no /metrics:\n%s", help)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root := t.TempDir()
	node := filepath.Join(root, "node")

	// A small node: 2 namespaces, 3 pods, 2 containers each; some long lines (the
	// runtime splits them, the agent joins them: read_lines counts logical lines), and
	// malformed lines (counted neither by gen nor in read_lines; the agent gives them up,
	// which LogferryLinesGivenUp must report).
	genOut, err := exec.Command(binary, "gen", "--out", node, "--format", "cri",
		"--namespaces", "2", "--pods", "3", "--containers", "2", "--lines", "300",
		"--line-size", "150", "--long-every", "60", "--long-size", "20000",
		"--malformed-every", "70", "--seed", "11").CombinedOutput()
	if err != nil {
		t.Fatalf("logferry gen: %v\n%s", err, genOut)
	}
	m, err := gen.ReadManifest(filepath.Join(node, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Containers) != 6 || m.Totals.LongLines == 0 || m.Totals.Malformed == 0 {
		t.Fatalf("gen wrote %d containers, %d long lines, %d malformed lines; want 6 containers and some of each",
			len(m.Containers), m.Totals.LongLines, m.Totals.Malformed)
	}

	agentAddr := freeAddr(t)
	agent := startDaemon(t, "agent", binary, "agent",
		"--pods-dir", filepath.Join(node, "pods"), "--data-dir", filepath.Join(root, "data"),
		"--sink", "file:"+filepath.Join(root, "out", "out.json"), "--http-addr", agentAddr)
	metricsURL := "http://" + agentAddr + "/metrics"
	for {
		code, _, err := httpGet(ctx, "http://"+agentAddr+"/healthz")
		if err == nil && code == http.StatusOK {
			break
		}
		if agent.exited() || ctx.Err() != nil {
			t.Fatalf("agent not healthy on %s (last: %d %v):\n%s", agentAddr, code, err, agent.log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	promAddr := freeAddr(t)
	rules := filepath.Join(monitoringDir(t), "alerts.yaml")
	promCfg := filepath.Join(root, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: logferry
    static_configs:
      - targets: [%q]
`, rules, agentAddr))
	prom := startDaemon(t, "prometheus", prometheus, "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(root, "prometheus-data"), "--web.listen-address="+promAddr)
	pc := &promClient{base: "http://" + promAddr}

	// Poll until Prometheus has scraped everything gen wrote (its first scrape comes about
	// 5s after it starts: target discovery is applied every 5s).
	deadline := time.Now().Add(60 * time.Second)
	var problems []string
	for {
		problems = scrapeProblems(ctx, pc, m)
		if len(problems) == 0 {
			break
		}
		if prom.exited() {
			t.Fatalf("prometheus exited:\n%s", prom.log)
		}
		if agent.exited() {
			t.Fatalf("agent exited:\n%s", agent.log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s Prometheus still does not see what the agent read:\n  %s\nagent log:\n%s\nprometheus log:\n%s",
				strings.Join(problems, "\n  "), tailString(agent.log.String(), 3000), tailString(prom.log.String(), 3000))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("Prometheus sees %d lines read and %d malformed lines given up in %d containers, sink %s up, build info, target up",
		m.Totals.Lines, m.Totals.Malformed, len(m.Containers), scrapeSinkName)

	// The live page lints clean.
	code, page, err := httpGet(ctx, metricsURL)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", metricsURL, code, err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.CombinedOutput()
	// No exceptions: any line promtool prints is a lint problem of the page.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics on the live /metrics page: %v\n%s", err, out)
	} else {
		t.Logf("promtool check metrics: exit 0, no output (%d bytes of metrics)", len(page))
	}

	// The page against the contract: types must match; metrics that are missing are
	// listed (a labelled metric appears only once it has a series, e.g. a give-up reason
	// that never happened), as are logferry_ metrics the contract lacks.
	types := pageMetricTypes(string(page))
	var missing, extra []string
	for name, want := range contractMetrics {
		got, ok := types[name]
		switch {
		case !ok:
			if why, absent := contractAbsent[name]; absent {
				t.Logf("absent as the contract says: %s (%s)", name, why)
			} else {
				missing = append(missing, name)
			}
		case got != want:
			t.Errorf("%s is a %s on /metrics; the contract says %s", name, got, want)
		}
	}
	for name := range types {
		if strings.HasPrefix(name, "logferry_") {
			if _, ok := contractMetrics[name]; !ok {
				extra = append(extra, name)
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Logf("contract metrics not on the live /metrics page (no series yet, or not exported): %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Logf("logferry_ metrics on /metrics that the contract does not list: %s", strings.Join(extra, ", "))
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_max_fds"} {
		if _, ok := types[name]; !ok {
			t.Errorf("%s is not on /metrics (the dashboard uses it; the contract promises the go_* and process_* collectors)", name)
		}
	}

	// Labels the contract promises: per-container series carry namespace, pod and
	// container; sink series carry sink and type.
	for _, q := range []string{
		`{__name__=~"logferry_container_.+", namespace=""} or {__name__=~"logferry_container_.+", pod=""} or {__name__=~"logferry_container_.+", container=""}`,
		`{__name__=~"logferry_sink_.+", sink=""} or {__name__=~"logferry_sink_.+", type=""}`,
	} {
		v, _, err := pc.query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range v {
			t.Errorf("series lacks a contract label: %v", s.Metric)
		}
	}

	// Every dashboard query runs on the live data without error. Rates need two samples
	// in their range: wait for a few scrapes first.
	for {
		v, _, err := pc.query(ctx, `count_over_time(up{job="logferry"}[1m])`)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) == 1 && v[0].value() >= 4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Prometheus did not scrape the agent 4 times: %v", v)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Every other query must show something on this node.
	mayBeEmpty := map[string]string{
		`"Most lagging containers" target A`:      "only containers with lag > 0; this node has caught up",
		`"Containers with losses" target B`:       "no bytes given up here",
		`"Over their silence threshold" target A`: "logferry_container_silence_threshold_seconds is not exported yet",
		`"Suppressed log messages / s" target A`:  "the agent suppressed no log message",
	}
	var empty []string
	qs := readDashboard(t).queries()
	for _, q := range qs {
		expr := grafanaVars.Replace(q.expr)
		v, r, err := pc.query(ctx, expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if len(r.Warnings) > 0 {
			t.Errorf("%s: warnings %v", q.where, r.Warnings)
		}
		if len(v) > 0 {
			continue
		}
		_, title, _ := strings.Cut(q.where, " ") // drop "panel"
		_, title, _ = strings.Cut(title, " ")    // drop the id
		if why, ok := mayBeEmpty[title]; ok {
			empty = append(empty, q.where+": "+why)
		} else {
			t.Errorf("%s returns nothing on a node that has read lines: %s", q.where, expr)
		}
	}
	t.Logf("%d of %d dashboard queries return data; empty as expected:\n  %s",
		len(qs)-len(empty), len(qs), strings.Join(empty, "\n  "))

	// Every alert rule evaluates on the live data without error, and the only active
	// alerts are LogferryLinesGivenUp for the malformed lines of each container that has
	// some (pending: for: clauses are minutes long).
	want := map[string]bool{}
	for _, c := range m.Containers {
		if c.Malformed > 0 {
			want[fmt.Sprintf("LogferryLinesGivenUp{namespace=%s, pod=%s, container=%s, reason=malformed}", c.Namespace, c.Pod, c.Container)] = true
		}
	}
	checkLiveAlerts(ctx, t, pc, want)
}

// scrapeProblems returns what Prometheus does not (yet) show as expected.
func scrapeProblems(ctx context.Context, pc *promClient, m *gen.Manifest) []string {
	var problems []string
	r, err := pc.get(ctx, "/api/v1/targets", nil)
	if err != nil {
		return []string{"targets: " + err.Error()}
	}
	var targets struct {
		ActiveTargets []struct {
			Labels    map[string]string `json:"labels"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := json.Unmarshal(r.Data, &targets); err != nil {
		return []string{"targets: " + err.Error()}
	}
	if len(targets.ActiveTargets) != 1 {
		problems = append(problems, fmt.Sprintf("%d active targets, want 1", len(targets.ActiveTargets)))
	}
	for _, tg := range targets.ActiveTargets {
		if tg.Health != "up" {
			problems = append(problems, fmt.Sprintf("target %v health %q %s", tg.Labels, tg.Health, tg.LastError))
		}
	}

	v, _, err := pc.query(ctx, "logferry_container_read_lines_total")
	if err != nil {
		return append(problems, err.Error())
	}
	seen := map[string]bool{}
	for _, s := range v {
		l := s.Metric
		key := l["namespace"] + "/" + l["pod"] + "/" + l["container"]
		c := m.Container(l["namespace"], l["pod"], l["container"])
		switch {
		case c == nil:
			problems = append(problems, fmt.Sprintf("logferry_container_read_lines_total%v: no such container in gen's manifest", l))
		case seen[key]:
			problems = append(problems, fmt.Sprintf("logferry_container_read_lines_total: two series for %s", key))
		case s.value() != float64(c.Lines):
			problems = append(problems, fmt.Sprintf("logferry_container_read_lines_total{%s} = %v, gen wrote %d lines", key, s.value(), c.Lines))
		}
		seen[key] = true
	}
	for _, c := range m.Containers {
		if key := c.Namespace + "/" + c.Pod + "/" + c.Container; !seen[key] {
			problems = append(problems, fmt.Sprintf("no logferry_container_read_lines_total series for %s", key))
		}
	}

	v, _, err = pc.query(ctx, `logferry_container_lines_given_up_total{reason="malformed"}`)
	if err != nil {
		return append(problems, err.Error())
	}
	malformed := map[string]float64{}
	for _, s := range v {
		malformed[s.Metric["namespace"]+"/"+s.Metric["pod"]+"/"+s.Metric["container"]] = s.value()
	}
	for _, c := range m.Containers {
		key := c.Namespace + "/" + c.Pod + "/" + c.Container
		if got := malformed[key]; got != float64(c.Malformed) {
			problems = append(problems, fmt.Sprintf("logferry_container_lines_given_up_total{%s, reason=malformed} = %v, gen wrote %d malformed lines", key, got, c.Malformed))
		}
	}

	v, _, err = pc.query(ctx, "logferry_sink_up")
	if err != nil {
		return append(problems, err.Error())
	}
	if len(v) != 1 || v[0].Metric["sink"] != scrapeSinkName || v[0].Metric["type"] != "file" || v[0].value() != 1 {
		problems = append(problems, fmt.Sprintf("logferry_sink_up: %v, want one series {sink=%q, type=\"file\"} = 1", v, scrapeSinkName))
	}

	v, _, err = pc.query(ctx, "logferry_build_info")
	if err != nil {
		return append(problems, err.Error())
	}
	if len(v) != 1 || v[0].value() != 1 || v[0].Metric["version"] == "" || v[0].Metric["go_version"] == "" {
		problems = append(problems, fmt.Sprintf("logferry_build_info: %v, want one series = 1 with version and go_version", v))
	}
	return problems
}

// checkLiveAlerts waits (at most 20s) until Prometheus has evaluated every rule of
// alerts.yaml and the active alerts are those of want (keys as alertKey makes them), then
// fails on any rule with an evaluation error and on any alert missing or unexpected.
func checkLiveAlerts(ctx context.Context, t *testing.T, pc *promClient, want map[string]bool) {
	t.Helper()
	type rule struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
		Alerts    []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := pc.get(ctx, "/api/v1/rules", nil)
		if err != nil {
			t.Fatal(err)
		}
		var data struct {
			Groups []struct {
				Rules []rule `json:"rules"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			t.Fatal(err)
		}
		var rules []rule
		for _, g := range data.Groups {
			rules = append(rules, g.Rules...)
		}
		var problems []string
		active := map[string]string{}
		for _, ru := range rules {
			if ru.Health != "ok" {
				problems = append(problems, fmt.Sprintf("alert %s: health %q %s", ru.Name, ru.Health, ru.LastError))
			}
			for _, a := range ru.Alerts {
				active[alertKey(ru.Name, a.Labels)] = a.State
			}
		}
		if len(rules) == 0 {
			problems = append(problems, "Prometheus loaded no rules from alerts.yaml")
		}
		for k := range want {
			if _, ok := active[k]; !ok {
				problems = append(problems, "not active: "+k)
			}
		}
		for k, state := range active {
			if !want[k] {
				problems = append(problems, fmt.Sprintf("unexpectedly %s: %s", state, k))
			}
		}
		if len(problems) == 0 {
			keys := slices.Sorted(maps.Keys(active))
			t.Logf("%d alert rules evaluated on live data without error; active as expected:\n  %s", len(rules), strings.Join(keys, "\n  "))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			sort.Strings(problems)
			t.Fatalf("alert rules on live data:\n  %s", strings.Join(problems, "\n  "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// alertKey names an active alert by its name and the labels that say what it is about.
func alertKey(name string, l map[string]string) string {
	var parts []string
	for _, k := range []string{"namespace", "pod", "container", "reason", "sink"} {
		if v, ok := l[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}
