package metrics

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logferry/logferry/internal/kube"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/tail"
)

func snapshot() Snapshot {
	st := &tail.Stats{}
	st.LinesRead.Store(7)
	return Snapshot{
		Containers: []tail.ContainerSnapshot{
			{Source: record.Source{Namespace: "prod", Pod: "web-0", Container: "app"}, Key: "a", ReadLines: 3, LagBytes: 10, Lag: 2 * time.Second, LastLine: time.Unix(100, 0), Open: 1},
			// A second group with the same labels (docker restart directories): summed.
			{Source: record.Source{Namespace: "prod", Pod: "web-0", Container: "app"}, Key: "b", ReadLines: 4, LagBytes: 5, Lag: 5 * time.Second, LastLine: time.Unix(90, 0), Open: 2},
			{Source: record.Source{Namespace: "dev", Pod: "db-0", Container: "db"}, Key: "c", MalformedLines: 2},
		},
		Tail:     st,
		Kube:     &kube.Stats{Pods: 3, Synced: true, Lists: 1, Watches: 2, LastEvent: time.Unix(300, 0)},
		Process:  &process.Stats{},
		Silences: []Silence{{Namespace: "prod", Pod: "web-0", Container: "app", After: time.Minute}},
		Sinks: []Sink{{Name: "out", Type: "file", Stats: sink.Stats{Records: 7, Failures: 3, PermanentFailures: 1, Healthy: true, LastSuccessAt: time.Unix(200, 0),
			Dropped: 4, Counts: sink.Counts{DeadLettered: 2, Truncated: 1}}}},
	}
}

func TestCollectorValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "v1", snapshot)
	for _, c := range []struct {
		name, want string
	}{
		{"logferry_container_read_lines_total", `
# HELP logferry_container_read_lines_total Logical log lines read from the container's log files (after partial-line merging).
# TYPE logferry_container_read_lines_total counter
logferry_container_read_lines_total{container="app",namespace="prod",pod="web-0"} 7
logferry_container_read_lines_total{container="db",namespace="dev",pod="db-0"} 0
`},
		{"logferry_container_lag_seconds", `
# HELP logferry_container_lag_seconds Age of the container's oldest line not yet acknowledged by every sink; 0 when caught up.
# TYPE logferry_container_lag_seconds gauge
logferry_container_lag_seconds{container="app",namespace="prod",pod="web-0"} 5
logferry_container_lag_seconds{container="db",namespace="dev",pod="db-0"} 0
`},
		{"logferry_container_last_line_timestamp_seconds", `
# HELP logferry_container_last_line_timestamp_seconds Log timestamp of the newest line read from the container, unix seconds.
# TYPE logferry_container_last_line_timestamp_seconds gauge
logferry_container_last_line_timestamp_seconds{container="app",namespace="prod",pod="web-0"} 100
`},
		{"logferry_sink_failures_total", `
# HELP logferry_sink_failures_total Failed delivery attempts, by reason (transient: retried; permanent: the sink says retrying cannot help).
# TYPE logferry_sink_failures_total counter
logferry_sink_failures_total{reason="permanent",sink="out",type="file"} 1
logferry_sink_failures_total{reason="transient",sink="out",type="file"} 2
`},
		{"logferry_lines_given_up_total", `
# HELP logferry_lines_given_up_total Lines that will never be delivered, by reason, over all containers including forgotten ones.
# TYPE logferry_lines_given_up_total counter
logferry_lines_given_up_total{reason="malformed"} 0
logferry_lines_given_up_total{reason="retry_expired"} 4
`},
		{"logferry_sink_dead_lettered_records_total", `
# HELP logferry_sink_dead_lettered_records_total Records the destination refused for good, written to the sink's dead-letter file.
# TYPE logferry_sink_dead_lettered_records_total counter
logferry_sink_dead_lettered_records_total{sink="out",type="file"} 2
`},
		{"logferry_sink_dropped_records_total", `
# HELP logferry_sink_dropped_records_total Records the sink gave up after retry.max_duration (never delivered).
# TYPE logferry_sink_dropped_records_total counter
logferry_sink_dropped_records_total{sink="out",type="file"} 4
`},
	} {
		if err := testutil.GatherAndCompare(reg, strings.NewReader(c.want), c.name); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestOperationsDocListsEveryMetric keeps docs/operations.md and the exported metrics
// in step: every family the agent can export is documented, and every documented
// logferry_ name exists (except the ones the doc says come with a later feature).
func TestOperationsDocListsEveryMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "v1", snapshot)
	m.Reload(errors.New("bad")) // the failure timestamp exists only after a failure
	m.CheckpointWrite(time.Millisecond, nil)
	m.SinkObserver("out", "file")(time.Millisecond, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "logferry_") {
			exported = append(exported, mf.GetName())
		}
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, n := range regexp.MustCompile(`logferry_[a-z0-9_]+[a-z0-9]`).FindAllString(string(doc), -1) {
		documented[n] = true
	}
	for _, n := range exported {
		if !documented[n] {
			t.Errorf("%s is exported but not in docs/operations.md", n)
		}
	}
	// Not exported here: malformed lines by reason has a series per reason seen, and
	// this snapshot has none.
	later := []string{"logferry_malformed_lines_total"}
	for n := range documented {
		if !slices.Contains(exported, n) && !slices.Contains(later, n) {
			t.Errorf("docs/operations.md lists %s, which is not exported", n)
		}
	}
	if len(exported) < 40 {
		t.Errorf("only %d logferry_ families exported: %v", len(exported), exported)
	}
}
