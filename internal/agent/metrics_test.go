package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// series gathers reg and returns every sample as "name{l=v,...}" -> value.
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var l []string
			for _, p := range m.GetLabel() {
				l = append(l, p.GetName()+"="+p.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(l, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				out[key] = 0
			}
		}
	}
	return out
}

func countPrefix(s map[string]float64, prefix string) int {
	n := 0
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// TestMetricsPerContainer runs 1,000 pods: every container gets the same fixed set of
// series with the right values, nothing else grows with the number of pods, and a
// container's series disappear once its files are gone and drained.
func TestMetricsPerContainer(t *testing.T) {
	pods := 1000
	if v := os.Getenv("T_PODS"); v != "" {
		pods, _ = strconv.Atoi(v)
	}
	root := t.TempDir()
	lines := 0
	for i := range pods {
		dir := filepath.Join(root, "pods", fmt.Sprintf("ns%d_pod-%d_uid-%d", i%10, i, i), "app")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		content := fmt.Sprintf("2026-11-22T10:00:00.%03dZ stdout F line one of %d\n2026-11-22T10:00:01Z stdout F line two\n", i%1000, i)
		if i == 7 {
			content += "not a CRI line at all\n" // malformed, counted for this container only
		}
		lines += 2
		if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, root)
	cfg.Sinks = []config.Sink{config.NewSink("null", "discard", "")}
	reg := prometheus.NewRegistry()
	a, stop := run(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), Registry: reg, Version: "test"})
	defer stop()
	waitFor(t, "every line acknowledged", 20*time.Second, func() bool {
		s := series(t, reg)
		return s["logferry_sink_records_total{sink=null,type=discard}"] == float64(lines)
	})
	s := series(t, reg)

	perContainer := map[string]int{}
	for k := range s {
		if strings.Contains(k, "pod=pod-") {
			perContainer[k[:strings.Index(k, "{")]]++
		}
	}
	// 12 families, one series each per container, except bytes given up (two reasons).
	want := map[string]int{
		"logferry_container_read_bytes_total": pods, "logferry_container_read_lines_total": pods,
		"logferry_container_lag_bytes": pods, "logferry_container_lag_seconds": pods,
		"logferry_container_lines_given_up_total": pods, "logferry_container_bytes_given_up_total": 2 * pods,
		"logferry_container_last_line_timestamp_seconds": pods, "logferry_container_files_open": pods,
		"logferry_container_deleted_files_held": pods, "logferry_container_deleted_bytes_held": pods,
		"logferry_container_rotations_total": pods, "logferry_container_truncations_total": pods,
	}
	for name, n := range want {
		if perContainer[name] != n {
			t.Errorf("%s: %d series, want %d", name, perContainer[name], n)
		}
	}
	total := len(s)
	containerSeries := 0
	for _, n := range perContainer {
		containerSeries += n
	}
	if other := total - containerSeries; other > 200 {
		t.Errorf("%d series do not belong to a container; the node-wide set should be small and fixed", other)
	}
	t.Logf("1,000 pods: %d series in all, %d per container, %d node-wide", total, containerSeries/pods, total-containerSeries)

	c7 := "container=app,namespace=ns7,pod=pod-7" // labels sort by name
	for key, v := range map[string]float64{
		"logferry_container_read_lines_total{" + c7 + "}":                                                 2,
		"logferry_container_lines_given_up_total{" + c7 + ",reason=malformed}":                            1,
		"logferry_container_lag_bytes{" + c7 + "}":                                                        0,
		"logferry_container_files_open{" + c7 + "}":                                                       1,
		"logferry_container_last_line_timestamp_seconds{" + c7 + "}":                                      float64(time.Date(2026, 11, 22, 10, 0, 1, 0, time.UTC).Unix()),
		"logferry_lines_given_up_total{reason=malformed}":                                                 1,
		"logferry_read_lines_total{}":                                                                     float64(lines),
		"logferry_containers{}":                                                                           float64(pods),
		"logferry_sink_up{sink=null,type=discard}":                                                        1,
		"logferry_build_info{go_version=" + runtime.Version() + ",version=test}":                          1,
		"logferry_container_lines_given_up_total{container=app,namespace=ns8,pod=pod-8,reason=malformed}": 0,
	} {
		if got, ok := s[key]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, v)
		}
	}
	waitFor(t, "checkpoint writes to be counted", 5*time.Second, func() bool {
		s := series(t, reg)
		return s["logferry_checkpoint_writes_total{result=ok}"] > 0 && s["logferry_checkpoint_write_duration_seconds{}"] > 0
	})

	// Pod 7 goes away: its series go once the agent forgot it.
	if err := os.RemoveAll(filepath.Join(root, "pods", "ns7_pod-7_uid-7")); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for countPrefix(series(t, reg), "logferry_container_read_lines_total{"+c7+"}") != 0 {
		if time.Now().After(deadline) {
			for _, c := range a.Tails().Snapshot() {
				if c.Source.Pod == "pod-7" {
					t.Logf("still known: %+v", c)
				}
			}
			t.Fatal("pod-7's series did not disappear within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("pod-7's series went %v after its directory", time.Since(t0).Round(time.Millisecond))
	s = series(t, reg)
	if n := perContainerCount(s, "logferry_container_read_lines_total"); n != pods-1 {
		t.Errorf("after one pod went: %d containers have series, want %d", n, pods-1)
	}
	if s["logferry_lines_given_up_total{reason=malformed}"] != 1 {
		t.Errorf("the node-wide given-up count must survive the container: %v", s["logferry_lines_given_up_total{reason=malformed}"])
	}
}

func perContainerCount(s map[string]float64, name string) int {
	return countPrefix(s, name+"{")
}

// failingSink fails while down is set.
type failingSink struct {
	down atomic.Bool
	n    atomic.Int64
}

func (f *failingSink) Name() string { return "flaky" }
func (f *failingSink) Consume(_ context.Context, b *pipeline.Batch) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	f.n.Add(int64(b.Records))
	return nil
}
func (f *failingSink) Close(context.Context) error { return nil }

// TestHealthWhileSinkDown: liveness stays up while a sink fails; readiness and the sink
// metrics say what is wrong, and recover with the sink.
func TestHealthWhileSinkDown(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte("2026-11-22T10:00:00Z stdout F one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := &failingSink{}
	fs.down.Store(true)
	cfg := testConfig(t, root)
	reg := prometheus.NewRegistry()
	a, stop := run(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), Registry: reg,
		NewSink: func(config.Sink, *slog.Logger) (sink.Sink, error) { return fs, nil }})
	defer stop()
	waitFor(t, "the sink to be reported failing", 10*time.Second, func() bool {
		ok, _ := a.Ready()
		return !ok && series(t, reg)["logferry_sink_up{sink=out,type=file}"] == 0
	})
	if ok, why := a.Alive(); !ok {
		t.Fatalf("liveness failed because a sink is down: %s", why)
	}
	_, reasons := a.Ready()
	if len(reasons) != 1 || !strings.Contains(reasons[0], "sink out failing: connection refused") {
		t.Fatalf("readiness reasons = %q", reasons)
	}
	s := series(t, reg)
	if s["logferry_sink_failures_total{reason=transient,sink=out,type=file}"] == 0 || s["logferry_container_lag_bytes{container=app,namespace=prod,pod=web-0}"] == 0 {
		t.Fatalf("failures or lag not shown while the sink is down: %v", s)
	}
	st := a.Status("test")
	if len(st.Containers) != 1 || st.Containers[0].LagBytes == 0 || st.Containers[0].Files[0].State != "waiting" {
		t.Fatalf("status while the sink is down: %+v", st.Containers)
	}
	fs.down.Store(false)
	waitFor(t, "recovery", 10*time.Second, func() bool {
		ok, _ := a.Ready()
		return ok && fs.n.Load() == 1
	})
	waitFor(t, "lag back to 0", 5*time.Second, func() bool {
		return series(t, reg)["logferry_container_lag_bytes{container=app,namespace=prod,pod=web-0}"] == 0
	})
}
