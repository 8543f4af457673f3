package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/podconfig"
)

// LokiSink configures a sink of type loki (key loki of the sink; docs/sinks.md): the
// push API of Grafana Loki and compatible servers (VictoriaLogs'
// /insert/loki/api/v1/push). Zero values take the defaults of DefaultLokiSink.
type LokiSink struct {
	// URL (url) is the push endpoint; a URL without a path (or "/") gets
	// /loki/api/v1/push. Required; http or https.
	URL string
	// Tenant (tenant) is sent as X-Scope-OrgID (multi-tenant Loki). Default none.
	Tenant string
	// Routes (routes) maps a route name (a pod's logferry.io/route) to the tenant
	// of its records; records of other routes use tenant.
	Routes map[string]string
	// Format (format) of request bodies: protobuf (the default: snappy-compressed
	// logproto.PushRequest, what Promtail and Alloy send) or json.
	Format string
	// Compression (compression): protobuf bodies are always snappy ("" or
	// snappy); json bodies are gzip (the default) or none.
	Compression string
	// Labels (labels) are the stream labels taken from each record: label name
	// to record field path; alternatives separated by | are tried in order and
	// the first present one is used. A record without any of a label's fields
	// does not get that label. Setting labels replaces the default, which is
	// namespace, workload (the pod's outermost owner) and container.
	Labels map[string]string
	// StaticLabels (static_labels) are labels added to every stream. Default none.
	StaticLabels map[string]string
	// StructuredMetadata (structured_metadata) are per-entry metadata taken
	// from each record (Loki 3 structured metadata): name to field path(s), as
	// labels. Setting it replaces the default, which is pod, pod_uid, node,
	// stream and event_id.
	StructuredMetadata map[string]string
	// Line (line) is what each entry's line is: message (the default: the
	// record's message; a record without a string message sends the whole
	// record) or record (the record's JSON).
	Line string
	// Headers (headers) are HTTP headers added to every push. Default none.
	Headers map[string]string
	// HTTPClient are the authentication (username, password, password_file,
	// bearer_token, bearer_token_file), TLS (ca_file, cert_file, key_file,
	// insecure_skip_verify) and timeout: one push request.
	HTTPClient
	// MaxRequestBytes (max_request_bytes) caps the uncompressed body of one
	// push; larger batches are split. Default 1MiB; 1KiB to 64MiB.
	MaxRequestBytes Size
	// DeadLetter (dead_letter_path, dead_letter_max_size,
	// dead_letter_max_files): records Loki rejects for good (HTTP 400: too old,
	// too far behind, line too long...) are written there with Loki's answer.
	// Required.
	DeadLetter
}

// LokiWorkloadFields are the record fields of the default workload label: the
// pod's outermost owner.
const LokiWorkloadFields = "kubernetes.deployment.name|kubernetes.statefulset.name|kubernetes.daemonset.name|" +
	"kubernetes.cronjob.name|kubernetes.job.name|kubernetes.replicaset.name"

// DefaultLokiSink returns the defaults of a loki sink.
func DefaultLokiSink() LokiSink {
	return LokiSink{
		Format: "protobuf",
		Labels: map[string]string{
			"namespace": "kubernetes.namespace",
			"workload":  LokiWorkloadFields,
			"container": "kubernetes.container.name",
		},
		StructuredMetadata: map[string]string{
			"pod":      "kubernetes.pod.name",
			"pod_uid":  "kubernetes.pod.uid",
			"node":     "kubernetes.node.name",
			"stream":   "stream",
			"event_id": "event.id",
		},
		Line:            "message",
		HTTPClient:      HTTPClient{Timeout: 30 * time.Second},
		MaxRequestBytes: 1 * MiB,
		DeadLetter:      DeadLetter{DeadLetterMaxSize: 100 * MiB, DeadLetterMaxFiles: 5},
	}
}

func (l *LokiSink) fields() []field {
	return append([]field{
		{"url", str(&l.URL)},
		{"tenant", str(&l.Tenant)},
		{"routes", stringMap(&l.Routes)},
		{"format", str(&l.Format)},
		{"compression", str(&l.Compression)},
		{"labels", stringMap(&l.Labels)},
		{"static_labels", stringMap(&l.StaticLabels)},
		{"structured_metadata", stringMap(&l.StructuredMetadata)},
		{"line", str(&l.Line)},
		{"headers", stringMap(&l.Headers)},
		{"max_request_bytes", size(&l.MaxRequestBytes)},
	}, append(l.HTTPClient.fields(), l.DeadLetter.fields()...)...)
}

// LokiLabelName turns a configured label or structured metadata name into a valid
// Prometheus label name: each character other than an ASCII letter, digit or '_'
// becomes '_', and a name starting with a digit gets a leading '_'.
func LokiLabelName(name string) string {
	var b strings.Builder
	for i, c := range name {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
		default:
			c = '_'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// validTenant reports whether t is a valid Loki tenant ID: up to 150 of the
// characters Loki allows (letters, digits and !-_.*'()), not "." or "..".
func validTenant(t string) bool {
	if t == "" || len(t) > 150 || t == "." || t == ".." {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!-_.*'()", c)) {
			return false
		}
	}
	return true
}

// LokiFieldPaths splits a label's field paths (alternatives separated by |).
func LokiFieldPaths(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, "|") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// validate checks a loki sink's settings; key is the prefix of their keys
// ("sinks[2].loki.").
func (l *LokiSink) validate(key string, r *rules) {
	if l.URL == "" {
		r.add(key+"url", "required for sink type loki (e.g. http://loki-gateway.logging/loki/api/v1/push)")
	} else if p, err := url.Parse(l.URL); err != nil {
		r.add(key+"url", "invalid URL %q: %v", l.URL, err)
	} else if p.Scheme != "http" && p.Scheme != "https" {
		r.add(key+"url", "want an http or https URL, got %q", l.URL)
	} else if p.Host == "" {
		r.add(key+"url", "URL %q has no host", l.URL)
	} else if p.Fragment != "" {
		r.add(key+"url", "URL %q must not have a fragment", l.URL)
	}
	for _, name := range sortedKeys(l.Routes) {
		rk, t := key+"routes."+name, l.Routes[name]
		switch {
		case !podconfig.ValidRoute(name):
			r.add(rk, "bad route name (want [a-z0-9][a-z0-9._-]{0,62}, as in logferry.io/route)")
		case !validTenant(t):
			r.add(rk, "bad tenant %q (want 1 to 150 letters, digits and !-_.*'())", t)
		}
	}
	if l.Tenant != "" && !validTenant(l.Tenant) {
		r.add(key+"tenant", "bad tenant %q (want 1 to 150 letters, digits and !-_.*'())", l.Tenant)
	}
	r.oneOf(key+"format", l.Format, "protobuf", "json")
	switch l.Format {
	case "json":
		r.oneOf(key+"compression", l.Compression, "", "gzip", "none")
	case "protobuf":
		if l.Compression != "" && l.Compression != "snappy" {
			r.add(key+"compression", "protobuf bodies are always snappy-compressed; got %q (gzip and none are for format json)", l.Compression)
		}
	}
	r.oneOf(key+"line", l.Line, "message", "record")

	// Label names must stay distinct once sanitized, and the static ones must
	// not shadow the record's.
	seen := map[string]string{}
	check := func(sub string, m map[string]string, paths bool, names map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := m[k]
			kk := key + sub + "." + k
			n := LokiLabelName(k)
			switch {
			case k == "":
				r.add(key+sub, "empty name")
				continue
			case strings.HasPrefix(n, "__"):
				r.add(kk, "names starting with __ are reserved by Loki")
			case names[n] != "":
				r.add(kk, "same name as %s once sanitized (%s)", names[n], n)
			}
			names[n] = sub + "." + k
			if !paths {
				if v == "" {
					r.add(kk, "empty value (Loki drops empty labels)")
				}
				continue
			}
			for _, p := range LokiFieldPaths(v) {
				if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
					r.add(kk, "bad field path %q in %q (want e.g. kubernetes.namespace, alternatives separated by |)", p, v)
					break
				}
			}
		}
	}
	check("labels", l.Labels, true, seen)
	check("static_labels", l.StaticLabels, false, seen)
	check("structured_metadata", l.StructuredMetadata, true, map[string]string{})
	for k := range l.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			r.add(key+"headers", "invalid header name %q", k)
		}
	}

	l.HTTPClient.validate(key, r, 0, "username/password or bearer_token")
	if l.MaxRequestBytes != 0 {
		r.sizeBetween(key+"max_request_bytes", l.MaxRequestBytes, KiB, 64*MiB)
	}
	l.DeadLetter.validate(key, r, "sink type loki: records Loki rejects for good are written there")
}
