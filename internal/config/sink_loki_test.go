package config

import (
	"maps"
	"strings"
	"testing"
)

// lokiSink is a valid loki sink; tests append keys to it.
const lokiSink = "sinks:\n  - name: lk\n    type: loki\n    loki:\n" +
	"      url: http://loki:3100\n" +
	"      dead_letter_path: /var/lib/logferry/loki-dead.jsonl\n"

func TestLokiValidation(t *testing.T) {
	for _, tc := range []parseCase{
		{"valid", lokiSink, ""},
		{"valid full", lokiSink + "      tenant: team-a\n      format: json\n      compression: none\n" +
			"      labels: {ns: kubernetes.namespace, app: 'kubernetes.labels.app|kubernetes.labels.app_kubernetes_io/name'}\n" +
			"      static_labels: {cluster: c1}\n      structured_metadata: {event_id: event.id}\n      line: record\n" +
			"      headers: {X-A: b}\n      username: u\n      password_file: /p\n      ca_file: /ca.pem\n" +
			"      cert_file: /c.pem\n      key_file: /k.pem\n      insecure_skip_verify: false\n      timeout: 10s\n" +
			"      max_request_bytes: 4MiB\n      dead_letter_max_size: 1MiB\n      dead_letter_max_files: 0\n", ""},
		{"empty labels", lokiSink + "      labels: {}\n      structured_metadata: {}\n", ""},
		{"nothing", "sinks:\n  - name: lk\n    type: loki\n",
			"t.yaml:2: sinks[0].loki.url: required for sink type loki (e.g. http://loki-gateway.logging/loki/api/v1/push)\n" +
				"t.yaml:2: sinks[0].loki.dead_letter_path: required for sink type loki: records Loki rejects for good are written there"},
		{"url scheme", strings.Replace(lokiSink, "http://loki:3100", "loki:3100", 1),
			`t.yaml:5: sinks[0].loki.url: want an http or https URL, got "loki:3100"`},
		{"url no host", strings.Replace(lokiSink, "http://loki:3100", "http:///x", 1),
			`t.yaml:5: sinks[0].loki.url: URL "http:///x" has no host`},
		{"routes", lokiSink + "      tenant: main\n      routes: {audit: security, Bad: x, ok: 'a b'}\n",
			"t.yaml:8: sinks[0].loki.routes.Bad: bad route name (want [a-z0-9][a-z0-9._-]{0,62}, as in logferry.io/route)\n" +
				"t.yaml:8: sinks[0].loki.routes.ok: bad tenant \"a b\" (want 1 to 150 letters, digits and !-_.*'())"},
		{"tenant", lokiSink + "      tenant: a/b\n",
			"t.yaml:7: sinks[0].loki.tenant: bad tenant \"a/b\" (want 1 to 150 letters, digits and !-_.*'())"},
		{"format", lokiSink + "      format: logfmt\n",
			`t.yaml:7: sinks[0].loki.format: want one of protobuf, json; got "logfmt"`},
		{"protobuf gzip", lokiSink + "      compression: gzip\n",
			`t.yaml:7: sinks[0].loki.compression: protobuf bodies are always snappy-compressed; got "gzip" (gzip and none are for format json)`},
		{"json snappy", lokiSink + "      format: json\n      compression: snappy\n",
			`t.yaml:8: sinks[0].loki.compression: want one of , gzip, none; got "snappy"`},
		{"line", lokiSink + "      line: msg\n",
			`t.yaml:7: sinks[0].loki.line: want one of message, record; got "msg"`},
		{"reserved label", lokiSink + "      labels: {__name__: a}\n",
			"t.yaml:7: sinks[0].loki.labels.__name__: names starting with __ are reserved by Loki"},
		{"label collision", lokiSink + "      labels: {app.name: a, app_name: b}\n",
			"t.yaml:7: sinks[0].loki.labels.app_name: same name as labels.app.name once sanitized (app_name)"},
		{"static shadows", lokiSink + "      static_labels: {namespace: x}\n",
			"t.yaml:7: sinks[0].loki.static_labels.namespace: same name as labels.namespace once sanitized (namespace)"},
		{"static empty", lokiSink + "      static_labels: {cluster: ''}\n",
			"t.yaml:7: sinks[0].loki.static_labels.cluster: empty value (Loki drops empty labels)"},
		{"bad path", lokiSink + "      labels: {app: 'kubernetes..x'}\n",
			`t.yaml:7: sinks[0].loki.labels.app: bad field path "kubernetes..x" in "kubernetes..x" (want e.g. kubernetes.namespace, alternatives separated by |)`},
		{"bad alternative", lokiSink + "      structured_metadata: {a: 'x.y|'}\n",
			`t.yaml:7: sinks[0].loki.structured_metadata.a: bad field path "" in "x.y|" (want e.g. kubernetes.namespace, alternatives separated by |)`},
		{"header", lokiSink + "      headers: {'a b': c}\n",
			`t.yaml:7: sinks[0].loki.headers: invalid header name "a b"`},
		{"max_request_bytes", lokiSink + "      max_request_bytes: 100MiB\n",
			"t.yaml:7: sinks[0].loki.max_request_bytes: must be between 1KiB and 64MiB, got 100MiB"},
		{"unknown key", lokiSink + "      urls: x\n",
			"t.yaml:7: sinks[0].loki.urls: unknown key (did you mean url?)"},
		{"not checked for other types", okSink + "    loki:\n      format: xml\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { checkParse(t, tc) })
	}
}

// TestLokiDefaults: unset keys keep DefaultLokiSink; a map that is set replaces its
// default as a whole; sinks do not share default maps.
func TestLokiDefaults(t *testing.T) {
	cfg, err := Parse([]byte(lokiSink+"      labels: {app: kubernetes.labels.app}\n"+
		"  - name: lk2\n    type: loki\n    loki:\n      url: https://loki\n      dead_letter_path: /d\n"), "t.yaml", lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Sinks[0].Loki, cfg.Sinks[1].Loki
	def := DefaultLokiSink()
	if !maps.Equal(a.Labels, map[string]string{"app": "kubernetes.labels.app"}) {
		t.Errorf("labels %v", a.Labels)
	}
	if !maps.Equal(b.Labels, def.Labels) || !maps.Equal(a.StructuredMetadata, def.StructuredMetadata) {
		t.Errorf("defaults lost: %v %v", b.Labels, a.StructuredMetadata)
	}
	if a.Format != "protobuf" || a.Line != "message" || a.MaxRequestBytes != MiB || a.Timeout.Seconds() != 30 {
		t.Errorf("defaults %+v", a)
	}
	b.Labels["x"] = "y"
	if _, ok := DefaultLokiSink().Labels["x"]; ok {
		t.Error("default maps are shared")
	}
}

func TestLokiLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"namespace":              "namespace",
		"app.kubernetes.io/name": "app_kubernetes_io_name",
		"9lives":                 "_9lives",
		"Ünï":                    "_n_",
		"a-b":                    "a_b",
	} {
		if got := LokiLabelName(in); got != want {
			t.Errorf("LokiLabelName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := LokiFieldPaths(" a.b | c "); len(got) != 2 || got[0] != "a.b" || got[1] != "c" {
		t.Errorf("LokiFieldPaths = %q", got)
	}
}
