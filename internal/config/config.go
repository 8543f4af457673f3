// Package config loads and validates the logferry agent's configuration.
//
// The configuration is one YAML file. Every key is optional except sinks;
// a missing key keeps its default (see Default), and so does a key whose
// value is null (write "" for an empty string). Unknown keys, duplicate keys
// and values of the wrong kind are errors. Scalar values may refer to
// environment variables (see Options.Parse).
//
// Every problem is reported, not only the first, one per line, as
//
//	<file>:<line>: <key.path>: <what is wrong>
//
// To add a key: add the field to its struct, one line to that struct's
// fields method below it, its default to Default (or defaultSink) and its
// rules to validate.go.
package config

import (
	"os"
	"time"
)

// Config is the whole agent configuration.
type Config struct {
	// NodeName (node_name) is the name of the node the agent runs on.
	// Default: $NODE_NAME, else the hostname.
	NodeName string
	// DataDir (data_dir) is where the agent keeps its checkpoints.
	// Default: /var/lib/logferry.
	DataDir string
	// Sources (sources) says which log files are read and how.
	Sources Sources
	// Pipeline (pipeline) bounds the work in flight between sources and sinks.
	Pipeline Pipeline
	// Checkpoint (checkpoint) controls how read positions are saved.
	Checkpoint Checkpoint
	// Sinks (sinks) are where log records are sent: a list of at least one
	// sink, with unique names.
	Sinks []Sink
	// Shutdown (shutdown) controls stopping.
	Shutdown Shutdown
	// Log (log) configures the agent's own log.
	Log Log
	// HTTP (http) configures the agent's HTTP endpoints.
	HTTP HTTP
	// Kubernetes (kubernetes) configures pod metadata from the API server.
	Kubernetes Kubernetes
	// PodRules (pod_rules) give pods settings by namespace and label selector,
	// with the keys and values of the logferry.io/ annotations (docs/kubernetes.md);
	// a pod's own annotations win over rules, and later rules over earlier ones.
	PodRules []PodRule
	// Processors (processors) sets the defaults of the per-pod processors.
	Processors Processors

	// sinkTypes are the sink types Validate accepts; nil means
	// DefaultSinkTypes.
	sinkTypes map[string]bool
}

func (c *Config) fields() []field {
	return []field{
		{"node_name", str(&c.NodeName)},
		{"data_dir", str(&c.DataDir)},
		{"sources", object(c.Sources.fields())},
		{"pipeline", object(c.Pipeline.fields())},
		{"checkpoint", object(c.Checkpoint.fields())},
		{"sinks", sinkList(&c.Sinks)},
		{"shutdown", object(c.Shutdown.fields())},
		{"log", object(c.Log.fields())},
		{"http", object(c.HTTP.fields())},
		{"kubernetes", object(c.Kubernetes.fields())},
		{"pod_rules", podRuleList(&c.PodRules)},
		{"processors", object(c.Processors.fields())},
	}
}

// PodRule is one entry of pod_rules.
type PodRule struct {
	// Namespaces (namespaces) the rule applies to; empty: every namespace.
	Namespaces []string
	// Selector (selector) is a label selector, "app=web,tier in (a,b)"; empty:
	// every pod.
	Selector string
	// Settings (settings) are annotation keys without the logferry.io/ prefix
	// ("multiline", "parse.app") and their values.
	Settings map[string]string
	// Line is not a key: where the rule starts, for error messages.
	Line int
}

func (r *PodRule) fields() []field {
	return []field{
		{"namespaces", strList(&r.Namespaces)},
		{"selector", str(&r.Selector)},
		{"settings", stringMap(&r.Settings)},
	}
}

// Processors are the defaults of the per-pod processors.
type Processors struct {
	// ParseKey (parse_key) is the field parsed bodies go under. Default "fields".
	ParseKey string
	// MultilineMaxLines (multiline_max_lines), MultilineMaxBytes
	// (multiline_max_bytes) and MultilineTimeout (multiline_timeout) apply where a
	// multiline setting does not give its own. Defaults 500, 256KiB, 2s.
	MultilineMaxLines int
	MultilineMaxBytes Size
	MultilineTimeout  time.Duration
}

func (p *Processors) fields() []field {
	return []field{
		{"parse_key", str(&p.ParseKey)},
		{"multiline_max_lines", integer(&p.MultilineMaxLines)},
		{"multiline_max_bytes", size(&p.MultilineMaxBytes)},
		{"multiline_timeout", duration(&p.MultilineTimeout)},
	}
}

// Sources configures discovery and reading of container log files.
type Sources struct {
	// PodsDir (pods_dir) is the kubelet's pod log directory, read in CRI
	// format. "" disables it. Default: /var/log/pods.
	PodsDir string
	// DockerDir (docker_dir) is Docker's container directory, read in
	// json-file format, e.g. /var/lib/docker/containers. "" (the default)
	// disables it.
	DockerDir string
	// RescanInterval (rescan_interval) is how often the directories are
	// listed for new files. Default 10s; at least 100ms.
	RescanInterval time.Duration
	// PollInterval (poll_interval) is how often idle files are checked for
	// new data. Default 250ms; at least 10ms.
	PollInterval time.Duration
	// ReadFrom (read_from) is where a file without a checkpoint starts on the
	// agent's very first start: "beginning" (the default) or "end". Files
	// found later are always read from the beginning.
	ReadFrom string
	// MaxLineBytes (max_line_bytes) caps one physical line; longer lines are
	// split. Default 1MiB; 1KiB to 64MiB.
	MaxLineBytes Size
	// MaxMergedBytes (max_merged_bytes) caps a line merged from partial
	// lines. Default 1MiB; 1KiB to 64MiB.
	MaxMergedBytes Size
	// PartialFlushTimeout (partial_flush_timeout) is how long an unfinished
	// partial line waits for its rest before it is sent as it is.
	// Default 5s.
	PartialFlushTimeout time.Duration
	// DeletedBudget (deleted_budget) is the total size of deleted but not
	// yet fully read files the agent may keep open. Default 1GiB; at least 0.
	DeletedBudget Size
	// Exclude (exclude) lists glob patterns (filepath.Match syntax) of paths
	// that are never read.
	Exclude []string
}

func (s *Sources) fields() []field {
	return []field{
		{"pods_dir", str(&s.PodsDir)},
		{"docker_dir", str(&s.DockerDir)},
		{"rescan_interval", duration(&s.RescanInterval)},
		{"poll_interval", duration(&s.PollInterval)},
		{"read_from", str(&s.ReadFrom)},
		{"max_line_bytes", size(&s.MaxLineBytes)},
		{"max_merged_bytes", size(&s.MaxMergedBytes)},
		{"partial_flush_timeout", duration(&s.PartialFlushTimeout)},
		{"deleted_budget", size(&s.DeletedBudget)},
		{"exclude", strList(&s.Exclude)},
	}
}

// Pipeline bounds the data between reading and sending.
type Pipeline struct {
	// MaxBufferBytes (max_buffer_bytes) is how many bytes may be read but
	// not yet acknowledged by every sink before reading pauses.
	// Default 8MiB; at least 1MiB, and at least max_line_bytes and
	// max_merged_bytes.
	MaxBufferBytes Size
	// ReadQuantum (read_quantum) is how many bytes one file may read per
	// turn, so that a busy file cannot starve the others.
	// Default 256KiB; 4KiB to 16MiB.
	ReadQuantum Size
	// Workers (workers) is the number of pipeline workers; 0 (the default)
	// means GOMAXPROCS. 0 to 256.
	Workers int
	// MemoryLimit (memory_limit) is the Go runtime's soft memory limit for the
	// agent process (what GOMEMLIMIT sets; the environment variable wins when
	// set): the garbage collector works harder as the heap nears it, instead of
	// letting it double. 0 disables it. Default 40MiB; at least
	// max_buffer_bytes when set.
	MemoryLimit Size
}

func (p *Pipeline) fields() []field {
	return []field{
		{"max_buffer_bytes", size(&p.MaxBufferBytes)},
		{"read_quantum", size(&p.ReadQuantum)},
		{"workers", integer(&p.Workers)},
		{"memory_limit", size(&p.MemoryLimit)},
	}
}

// Checkpoint controls the saving of read positions under DataDir.
type Checkpoint struct {
	// Interval (interval) is how often acknowledged positions are saved.
	// Default 1s; at least 10ms.
	Interval time.Duration
}

func (c *Checkpoint) fields() []field {
	return []field{
		{"interval", duration(&c.Interval)},
	}
}

// Sink is one destination of log records.
type Sink struct {
	// Name (name) identifies the sink in logs, metrics and checkpoints.
	// Required; unique; lowercase letters, digits, '_' and '-'.
	Name string
	// Type (type) is the kind of sink: stdout, file or discard (see
	// DefaultSinkTypes; Options.SinkTypes may allow more). Required.
	Type string
	// Path (path) is the file written by a file sink. Required for file.
	Path string
	// MaxSize (max_size) is the size at which a file sink rotates its file.
	// Default 100MiB; 0 never rotates.
	MaxSize Size
	// MaxFiles (max_files) is how many rotated files a file sink keeps.
	// Default 5; at least 1.
	MaxFiles int
	// Fsync (fsync) makes a file sink sync its file to disk. Default true
	// for file sinks; nil (unset) for other types.
	Fsync *bool
	// Batch (batch) controls how records are grouped before sending.
	Batch Batch
	// Retry (retry) controls how failed batches are retried.
	Retry Retry
	// Kafka (kafka) configures a sink of type kafka.
	Kafka KafkaSink
	// Elasticsearch (elasticsearch) configures a sink of type elasticsearch.
	Elasticsearch ElasticsearchSink
	// Loki (loki) configures a sink of type loki.
	Loki LokiSink
	// Line is not a key: it is the line of the file on which the sink
	// starts, 0 when unknown, for later error messages.
	Line int
}

func (s *Sink) fields() []field {
	return []field{
		{"name", str(&s.Name)},
		{"type", str(&s.Type)},
		{"path", str(&s.Path)},
		{"max_size", size(&s.MaxSize)},
		{"max_files", integer(&s.MaxFiles)},
		{"fsync", boolean(&s.Fsync)},
		{"batch", object(s.Batch.fields())},
		{"retry", object(s.Retry.fields())},
		{"kafka", object(s.Kafka.fields())},
		{"elasticsearch", object(s.Elasticsearch.fields())},
		{"loki", object(s.Loki.fields())},
	}
}

// Batch controls the grouping of records sent to a sink.
type Batch struct {
	// MaxBytes (max_bytes) is the size at which a batch is sent.
	// Default 4MiB; more than 0.
	MaxBytes Size
	// MaxWait (max_wait) is the longest a record waits in an unfilled batch.
	// Default 200ms; more than 0.
	MaxWait time.Duration
}

func (b *Batch) fields() []field {
	return []field{
		{"max_bytes", size(&b.MaxBytes)},
		{"max_wait", duration(&b.MaxWait)},
	}
}

// Retry controls the retries of a batch the sink failed to accept: exponential
// backoff with full jitter, from InitialBackoff doubling up to MaxBackoff.
type Retry struct {
	// InitialBackoff (initial_backoff) is the longest wait before the first
	// retry. Default 100ms; more than 0.
	InitialBackoff time.Duration
	// MaxBackoff (max_backoff) caps the wait between retries. Default 30s; at
	// least initial_backoff.
	MaxBackoff time.Duration
	// MaxDuration (max_duration) gives a batch up once it has kept failing this
	// long: its records are dropped and counted (logferry_sink_dropped_records_total).
	// Default 0: never give up (the log files are the buffer). At least 0.
	MaxDuration time.Duration
	// ProbeInterval (probe_interval): while a batch waits to be retried after the
	// destination could not be connected to at all, a bare TCP connection to it is
	// tried this often, and the batch is retried as soon as one succeeds (see
	// sink.RunnerOptions.ProbeInterval). Default 1s; 0 disables it; at least 0.
	ProbeInterval time.Duration
}

func (r *Retry) fields() []field {
	return []field{
		{"initial_backoff", duration(&r.InitialBackoff)},
		{"max_backoff", duration(&r.MaxBackoff)},
		{"max_duration", duration(&r.MaxDuration)},
		{"probe_interval", duration(&r.ProbeInterval)},
	}
}

// Shutdown controls how the agent stops.
type Shutdown struct {
	// Deadline (deadline) is how long the agent may spend flushing sinks and
	// saving checkpoints after SIGTERM. Default 25s; more than 0. Keep it
	// below the pod's terminationGracePeriodSeconds.
	Deadline time.Duration
}

func (s *Shutdown) fields() []field {
	return []field{
		{"deadline", duration(&s.Deadline)},
	}
}

// Kubernetes configures pod metadata from the API server (docs/kubernetes.md).
// Changing it takes a restart.
type Kubernetes struct {
	// Enabled (enabled) is "auto" (the default: on when running in a cluster,
	// that is when KUBERNETES_SERVICE_HOST is set, or when kubeconfig is given),
	// "true" or "false".
	Enabled string
	// Kubeconfig (kubeconfig) is a kubeconfig file; "" uses the in-cluster
	// service account.
	Kubeconfig string
	// Annotations (annotations) are the pod annotations rendered into records,
	// as glob patterns over the keys (e.g. "app.kubernetes.io/*"). Default none.
	Annotations []string
	// NamespaceLabels (namespace_labels) adds the namespace's labels to records
	// (one more watch; RBAC needs namespaces get/list/watch). Default false.
	NamespaceLabels *bool
	// SyncTimeout (sync_timeout) is how long reading waits at start for the first
	// list of pods, so the first lines carry metadata; after it, reading starts
	// anyway and metadata is filled in when it arrives. Default 10s.
	SyncTimeout time.Duration
	// RetainDeleted (retain_deleted) is how long a deleted pod's metadata is kept
	// after its files were last read. Default 10m.
	RetainDeleted time.Duration
	// KubeletPodsDir (kubelet_pods_dir) is the kubelet's pod directory as the agent
	// sees it, where emptyDir volumes live: log files inside pods
	// (logferry.io/files) are read from there. Default /var/lib/kubelet/pods.
	KubeletPodsDir string
	// PodFilesInterval (pod_files_interval) is how often the files named by
	// logferry.io/files are looked for again (new files, rotations). Default 1s.
	PodFilesInterval time.Duration
}

func (k *Kubernetes) fields() []field {
	return []field{
		{"enabled", str(&k.Enabled)},
		{"kubeconfig", str(&k.Kubeconfig)},
		{"annotations", strList(&k.Annotations)},
		{"namespace_labels", boolean(&k.NamespaceLabels)},
		{"sync_timeout", duration(&k.SyncTimeout)},
		{"retain_deleted", duration(&k.RetainDeleted)},
		{"kubelet_pods_dir", str(&k.KubeletPodsDir)},
		{"pod_files_interval", duration(&k.PodFilesInterval)},
	}
}

// HTTP configures the agent's HTTP endpoints. Changing it takes a restart.
type HTTP struct {
	// Addr (addr) is where /metrics, /healthz, /readyz and /api/v1/status are
	// served, host:port. "" disables the server. Default 127.0.0.1:9733; a
	// DaemonSet that Prometheus scrapes sets ":9733" (the --http-addr flag
	// overrides it).
	Addr string
	// PprofAddr (pprof_addr) serves Go's /debug/pprof/ on a separate listener,
	// host:port. "" (the default) disables it; keep it on localhost.
	PprofAddr string
}

func (h *HTTP) fields() []field {
	return []field{
		{"addr", str(&h.Addr)},
		{"pprof_addr", str(&h.PprofAddr)},
	}
}

// Log configures the agent's own log, written to stderr.
type Log struct {
	// Level (level) is the lowest level logged: debug, info (the default),
	// warn or error.
	Level string
	// Format (format) is json (the default) or text.
	Format string
}

func (l *Log) fields() []field {
	return []field{
		{"level", str(&l.Level)},
		{"format", str(&l.Format)},
	}
}

// DefaultSinkTypes returns a new set of the built-in sink types: stdout, file
// and discard. Add to it to allow more types in Options.SinkTypes.
func DefaultSinkTypes() map[string]bool {
	return map[string]bool{"stdout": true, "file": true, "discard": true, "elasticsearch": true, "kafka": true, "loki": true}
}

// Default returns the default configuration, with no sinks, the node name
// taken from $NODE_NAME or else the hostname. It does not pass Validate until
// a sink is added.
func Default() *Config {
	return defaults(os.LookupEnv)
}

// defaults returns the default configuration, looking up NODE_NAME with
// lookupEnv.
func defaults(lookupEnv func(string) (string, bool)) *Config {
	node, ok := lookupEnv("NODE_NAME")
	if !ok || node == "" {
		node, _ = os.Hostname()
	}
	return &Config{
		NodeName: node,
		DataDir:  "/var/lib/logferry",
		Sources: Sources{
			PodsDir:             "/var/log/pods",
			RescanInterval:      10 * time.Second,
			PollInterval:        250 * time.Millisecond,
			ReadFrom:            "beginning",
			MaxLineBytes:        1 * MiB,
			MaxMergedBytes:      1 * MiB,
			PartialFlushTimeout: 5 * time.Second,
			DeletedBudget:       1 * GiB,
		},
		Pipeline: Pipeline{
			MaxBufferBytes: 8 * MiB,
			ReadQuantum:    256 * KiB,
			MemoryLimit:    40 * MiB,
		},
		Checkpoint: Checkpoint{Interval: time.Second},
		Shutdown:   Shutdown{Deadline: 25 * time.Second},
		Log:        Log{Level: "info", Format: "json"},
		HTTP:       HTTP{Addr: "127.0.0.1:9733"},
		Kubernetes: Kubernetes{Enabled: "auto", SyncTimeout: 10 * time.Second, RetainDeleted: 10 * time.Minute,
			KubeletPodsDir: "/var/lib/kubelet/pods", PodFilesInterval: time.Second},
		Processors: Processors{ParseKey: "fields", MultilineMaxLines: 500, MultilineMaxBytes: 256 * KiB, MultilineTimeout: 2 * time.Second},
		sinkTypes:  DefaultSinkTypes(),
	}
}

// defaultSink returns a sink with every default that does not depend on its
// type; finishSink applies the rest once the type is known.
func defaultSink() Sink {
	return Sink{
		MaxSize:  100 * MiB,
		MaxFiles: 5,
		Batch:    Batch{MaxBytes: 4 * MiB, MaxWait: 200 * time.Millisecond},
		Retry:    Retry{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, ProbeInterval: time.Second},
		Kafka:    DefaultKafkaSink(),
		Loki:     DefaultLokiSink(),
	}
}

// finishSink applies the defaults that depend on the sink's type.
func finishSink(s *Sink) {
	if s.Type == "file" && s.Fsync == nil {
		t := true
		s.Fsync = &t
	}
}
