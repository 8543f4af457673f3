package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/podconfig"
	"github.com/logferry/logferry/internal/record"
)

// Validate checks every rule and reports every broken one, as the
// errors.Join of one *Error per problem naming the key path (Parse adds the
// file and line; after flag overrides there are none). Sink types are checked
// against the Options.SinkTypes c was parsed with, or DefaultSinkTypes.
func (c *Config) Validate() error {
	errs := c.validate()
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// rules collects the problems found by validate.
type rules []*Error

func (r *rules) add(key, format string, args ...any) {
	*r = append(*r, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (r *rules) durationAtLeast(key string, v, lo time.Duration) {
	if v < lo {
		r.add(key, "must be at least %v, got %v", lo, v)
	}
}

func (r *rules) positive(key string, v time.Duration) {
	if v <= 0 {
		r.add(key, "must be more than 0, got %v", v)
	}
}

func (r *rules) sizeAtLeast(key string, v, lo Size) {
	if v < lo {
		r.add(key, "must be at least %v, got %v", lo, v)
	}
}

func (r *rules) sizeBetween(key string, v, lo, hi Size) {
	if v < lo || v > hi {
		r.add(key, "must be between %v and %v, got %v", lo, hi, v)
	}
}

func (r *rules) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		r.add(key, "want one of %s; got %q", strings.Join(allowed, ", "), v)
	}
}

var sinkName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (c *Config) validate() []*Error {
	var r rules
	if c.NodeName == "" {
		r.add("node_name", "must not be empty (the default is $NODE_NAME, else the hostname)")
	}
	if c.DataDir == "" {
		r.add("data_dir", "must not be empty")
	}

	s := &c.Sources
	if s.PodsDir == "" && s.DockerDir == "" {
		r.add("sources", "no source enabled: set pods_dir or docker_dir")
	}
	r.durationAtLeast("sources.rescan_interval", s.RescanInterval, 100*time.Millisecond)
	r.durationAtLeast("sources.poll_interval", s.PollInterval, 10*time.Millisecond)
	r.oneOf("sources.read_from", s.ReadFrom, "beginning", "end")
	r.sizeBetween("sources.max_line_bytes", s.MaxLineBytes, KiB, 64*MiB)
	r.sizeBetween("sources.max_merged_bytes", s.MaxMergedBytes, KiB, 64*MiB)
	r.positive("sources.partial_flush_timeout", s.PartialFlushTimeout)
	r.sizeAtLeast("sources.deleted_budget", s.DeletedBudget, 0)
	for i, p := range s.Exclude {
		key := "sources.exclude[" + strconv.Itoa(i) + "]"
		if p == "" {
			r.add(key, "empty pattern")
		} else if _, err := filepath.Match(p, ""); err != nil {
			r.add(key, "invalid glob pattern %q: %v", p, err)
		}
	}

	p := &c.Pipeline
	r.sizeAtLeast("pipeline.max_buffer_bytes", p.MaxBufferBytes, MiB)
	if p.MaxBufferBytes >= MiB && p.MaxBufferBytes < max(s.MaxLineBytes, s.MaxMergedBytes) {
		r.add("pipeline.max_buffer_bytes", "must be at least sources.max_line_bytes and sources.max_merged_bytes (%v), got %v",
			max(s.MaxLineBytes, s.MaxMergedBytes), p.MaxBufferBytes)
	}
	r.sizeBetween("pipeline.read_quantum", p.ReadQuantum, 4*KiB, 16*MiB)
	if p.MemoryLimit != 0 && p.MemoryLimit < p.MaxBufferBytes {
		r.add("pipeline.memory_limit", "must be 0 or at least pipeline.max_buffer_bytes (%v), got %v", p.MaxBufferBytes, p.MemoryLimit)
	}
	if p.Workers < 0 || p.Workers > 256 {
		r.add("pipeline.workers", "must be between 0 and 256, got %d", p.Workers)
	}

	r.durationAtLeast("checkpoint.interval", c.Checkpoint.Interval, 10*time.Millisecond)

	c.validateSinks(&r)

	r.positive("shutdown.deadline", c.Shutdown.Deadline)
	r.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	r.oneOf("log.format", c.Log.Format, "json", "text")
	r.oneOf("kubernetes.enabled", c.Kubernetes.Enabled, "auto", "true", "false")
	r.durationAtLeast("kubernetes.sync_timeout", c.Kubernetes.SyncTimeout, 0)
	r.durationAtLeast("kubernetes.retain_deleted", c.Kubernetes.RetainDeleted, time.Second)
	r.durationAtLeast("kubernetes.pod_files_interval", c.Kubernetes.PodFilesInterval, 50*time.Millisecond)
	if !filepath.IsAbs(c.Kubernetes.KubeletPodsDir) {
		r.add("kubernetes.kubelet_pods_dir", "must be an absolute path, got %q", c.Kubernetes.KubeletPodsDir)
	}
	for i, a := range c.Kubernetes.Annotations {
		if _, err := filepath.Match(a, ""); err != nil {
			r.add(fmt.Sprintf("kubernetes.annotations[%d]", i), "bad pattern %q: %v", a, err)
		}
	}
	c.validatePodRules(&r)
	if c.Processors.ParseKey == "" {
		r.add("processors.parse_key", "must not be empty")
	} else if slices.Contains(record.TopLevelFields, c.Processors.ParseKey) {
		r.add("processors.parse_key", "%q is a field of the record itself (%s): choose another name", c.Processors.ParseKey, strings.Join(record.TopLevelFields, ", "))
	}
	if c.Processors.MultilineMaxLines < 1 {
		r.add("processors.multiline_max_lines", "must be at least 1, got %d", c.Processors.MultilineMaxLines)
	}
	r.sizeAtLeast("processors.multiline_max_bytes", c.Processors.MultilineMaxBytes, 1)
	r.durationAtLeast("processors.multiline_timeout", c.Processors.MultilineTimeout, 10*time.Millisecond)
	r.hostPort("http.addr", c.HTTP.Addr)
	r.hostPort("http.pprof_addr", c.HTTP.PprofAddr)
	if c.HTTP.Addr != "" && c.HTTP.Addr == c.HTTP.PprofAddr {
		r.add("http.pprof_addr", "must differ from http.addr (pprof gets its own listener), both are %q", c.HTTP.Addr)
	}
	return r
}

func (c *Config) validateSinks(r *rules) {
	if len(c.Sinks) == 0 {
		r.add("sinks", "at least one sink is required")
	}
	types := c.sinkTypes
	if types == nil {
		types = DefaultSinkTypes()
	}
	var typeNames []string
	for t := range types {
		if types[t] {
			typeNames = append(typeNames, t)
		}
	}
	slices.Sort(typeNames)
	firstUse := map[string]int{}
	for i, s := range c.Sinks {
		key := "sinks[" + strconv.Itoa(i) + "]."
		switch first, dup := firstUse[s.Name]; {
		case s.Name == "":
			r.add(key+"name", "required")
		case !sinkName.MatchString(s.Name):
			r.add(key+"name", "invalid sink name %q (use lowercase letters, digits, _ and -)", s.Name)
		case dup:
			r.add(key+"name", "duplicate sink name %q (also sinks[%d])", s.Name, first)
		default:
			firstUse[s.Name] = i
		}
		switch {
		case s.Type == "":
			r.add(key+"type", "required (one of: %s)", strings.Join(typeNames, ", "))
		case !types[s.Type]:
			r.add(key+"type", "unknown sink type %q (one of: %s)", s.Type, strings.Join(typeNames, ", "))
		}
		if s.Type == "file" && s.Path == "" {
			r.add(key+"path", "required for sink type file")
		}
		switch s.Type {
		case "kafka":
			s.Kafka.validate(key+"kafka.", r)
		case "elasticsearch":
			s.Elasticsearch.validate(key+"elasticsearch.", r)
		case "loki":
			s.Loki.validate(key+"loki.", r)
		}
		r.sizeAtLeast(key+"max_size", s.MaxSize, 0)
		if s.MaxFiles < 1 {
			r.add(key+"max_files", "must be at least 1, got %d", s.MaxFiles)
		}
		r.sizeAtLeast(key+"batch.max_bytes", s.Batch.MaxBytes, 1)
		r.positive(key+"batch.max_wait", s.Batch.MaxWait)
		r.positive(key+"retry.initial_backoff", s.Retry.InitialBackoff)
		r.durationAtLeast(key+"retry.max_backoff", s.Retry.MaxBackoff, s.Retry.InitialBackoff)
		r.durationAtLeast(key+"retry.max_duration", s.Retry.MaxDuration, 0)
		r.durationAtLeast(key+"retry.probe_interval", s.Retry.ProbeInterval, 0)
	}
}

// sortedKeys returns m's keys in order (errors in a stable order).
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// hostPort checks an optional host:port listen address.
func (r *rules) hostPort(key, v string) {
	if v == "" {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		r.add(key, "must be host:port (e.g. 127.0.0.1:9733 or :9733), got %q", v)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		r.add(key, "port must be a number from 0 to 65535, got %q", port)
	}
}

// validatePodRules checks every rule as the agent will use it: a bad selector,
// namespace, key or value is a configuration error here (a pod annotation with the
// same mistake is only reported on the pod).
func (c *Config) validatePodRules(r *rules) {
	_, probs := podconfig.ParseRules(c.RawPodRules())
	for _, p := range probs {
		r.add(p.Key, "%s (value %q)", p.Reason, p.Value)
	}
}

// RawPodRules returns pod_rules in the form podconfig.ParseRules takes.
func (c *Config) RawPodRules() []podconfig.RawRule {
	out := make([]podconfig.RawRule, len(c.PodRules))
	for i, pr := range c.PodRules {
		out[i] = podconfig.RawRule{Namespaces: pr.Namespaces, Selector: pr.Selector, Values: pr.Settings,
			Where: fmt.Sprintf("pod_rules[%d]", i)}
	}
	return out
}
