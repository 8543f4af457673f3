// Package metrics exports the agent's state as Prometheus metrics, under the prefix
// logferry_. docs/operations.md lists every metric; keep the two in step.
//
// Two kinds of metric live here. Event metrics (histograms of sink batch and checkpoint
// write latency, checkpoint writes, reloads, suppressed log lines) are updated where the
// event happens, through the methods of Metrics. State metrics (everything per
// container, per sink and node-wide counts) are read at scrape time from a Snapshot the
// agent provides, so the hot path only bumps atomic counters it keeps anyway, and a
// container's series disappear as soon as the agent forgets the container (its files
// drained): nothing stale is left behind and cardinality follows the live containers.
//
// Nothing is global: everything is registered on the registry passed to New.
package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/logferry/logferry/internal/kube"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/tail"
)

const ns = "logferry"

// Snapshot is the agent state the collector reads at scrape time.
type Snapshot struct {
	Containers              []tail.ContainerSnapshot
	Tail                    *tail.Stats
	Sinks                   []Sink
	BufferUsed, BufferLimit int64
	CheckpointEntries       int
	CorruptCheckpoints      int64
	DiscoveryErrors         int64
	// Kube is the pod metadata cache's counters; nil when metadata is off (the
	// logferry_kubernetes_ series are then absent).
	Kube *kube.Stats
	// Process is the per-pod processors' counters; PodProblems counts bad pod
	// settings reported; Silences are the containers with a silence-after setting.
	// All absent when metadata is off.
	Process     *process.Stats
	PodProblems int64
	Silences    []Silence
}

// Silence is one container's logferry.io/silence-after.
type Silence struct {
	Namespace, Pod, Container string
	After                     time.Duration
}

// Sink is one sink's identity and counters.
type Sink struct {
	Name, Type string
	Stats      sink.Stats
}

// Metrics holds the event metrics and registers the state collector.
type Metrics struct {
	sinkLatency      *prometheus.HistogramVec
	checkpointWrites *prometheus.CounterVec
	checkpointTime   prometheus.Histogram
	reloads          *prometheus.CounterVec
	reloadOK         prometheus.Gauge
	reloadFailed     prometheus.Gauge
	reloadFailedSet  bool
	suppressed       *prometheus.CounterVec
	reg              prometheus.Registerer
}

// New registers the agent's metrics, the Go runtime and process collectors, and a
// collector that calls snap at every scrape. snap must be safe to call concurrently
// with the agent's work and should not block for long.
func New(reg prometheus.Registerer, version string, snap func() Snapshot) *Metrics {
	m := &Metrics{
		sinkLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "sink_batch_duration_seconds",
			Help:    "Duration of one delivery attempt of a batch to a sink (one Consume call), by result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5ms .. ~131s
		}, []string{"sink", "type", "result"}),
		checkpointWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "checkpoint_writes_total",
			Help: "Checkpoint store writes (temp file, fsync, rename), by result.",
		}, []string{"result"}),
		checkpointTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "checkpoint_write_duration_seconds",
			Help:    "Duration of one checkpoint store write, including fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 0.1ms .. ~6.5s
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "config_reloads_total",
			Help: "Configuration reloads (SIGHUP or file change), by result; a rejected reload keeps the running configuration.",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the running configuration was loaded (start or last successful reload), unix seconds.",
		}),
		reloadFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "config_last_reload_failure_timestamp_seconds",
			Help: "When a configuration reload was last rejected, unix seconds (absent before the first).",
		}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "log_messages_suppressed_total",
			Help: "Lines of the agent's own log suppressed as rapid repeats, by level.",
		}, []string{"level"}),
	}
	m.reg = reg
	for _, r := range []string{"ok", "error"} {
		m.checkpointWrites.WithLabelValues(r)
		m.reloads.WithLabelValues(r)
	}
	for _, l := range []string{"debug", "info", "warn", "error"} {
		m.suppressed.WithLabelValues(l)
	}
	m.reg = reg
	m.reloadOK.SetToCurrentTime()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.sinkLatency, m.checkpointWrites, m.checkpointTime, m.reloads, m.reloadOK,
		m.suppressed, build, &collector{snap: snap},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SinkObserver returns the function a sink runner calls after every delivery attempt.
func (m *Metrics) SinkObserver(name, typ string) func(time.Duration, error) {
	ok := m.sinkLatency.WithLabelValues(name, typ, "ok")
	bad := m.sinkLatency.WithLabelValues(name, typ, "error")
	return func(d time.Duration, err error) {
		if err != nil {
			bad.Observe(d.Seconds())
			return
		}
		ok.Observe(d.Seconds())
	}
}

// ForgetSink removes a sink's latency series (the sink was removed by a reload).
func (m *Metrics) ForgetSink(name, typ string) {
	m.sinkLatency.DeleteLabelValues(name, typ, "ok")
	m.sinkLatency.DeleteLabelValues(name, typ, "error")
}

// CheckpointWrite records one checkpoint store write.
func (m *Metrics) CheckpointWrite(d time.Duration, err error) {
	m.checkpointTime.Observe(d.Seconds())
	if err != nil {
		m.checkpointWrites.WithLabelValues("error").Inc()
		return
	}
	m.checkpointWrites.WithLabelValues("ok").Inc()
}

// Reload records a configuration reload. Calls are serialized by the caller.
func (m *Metrics) Reload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		m.reloadFailed.SetToCurrentTime()
		if !m.reloadFailedSet {
			m.reloadFailedSet = true
			m.reg.MustRegister(m.reloadFailed)
		}
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadOK.SetToCurrentTime()
}

// Suppressed counts one suppressed line of the agent's own log.
func (m *Metrics) Suppressed(level string) { m.suppressed.WithLabelValues(level).Inc() }
