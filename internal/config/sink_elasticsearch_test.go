package config

import (
	"strings"
	"testing"
)

// esSink is a valid elasticsearch sink; tests append keys to it.
const esSink = "sinks:\n  - name: es\n    type: elasticsearch\n    elasticsearch:\n" +
	"      urls: [https://es-1:9200, http://es-2:9200/prefix]\n" +
	"      index: logs-{kubernetes.namespace}-%Y.%m.%d\n" +
	"      dead_letter_path: /var/lib/logferry/es-dead.jsonl\n"

func TestElasticsearchValidation(t *testing.T) {
	for _, tc := range []parseCase{
		{"valid", esSink, ""},
		{"valid full", esSink + "      data_stream: true\n      compression: none\n      parameters: {pipeline: logs}\n" +
			"      api_key_file: /k\n      ca_file: /ca.pem\n      cert_file: /c.pem\n      key_file: /k.pem\n" +
			"      timeout: 10s\n      max_request_bytes: 1MiB\n      dead_letter_max_size: 10MiB\n      dead_letter_max_files: 0\n", ""},
		{"nothing", "sinks:\n  - name: es\n    type: elasticsearch\n",
			"t.yaml:2: sinks[0].elasticsearch.urls: at least one URL is required for sink type elasticsearch\n" +
				"t.yaml:2: sinks[0].elasticsearch.index: required for sink type elasticsearch (e.g. logs-{kubernetes.namespace}-%Y.%m.%d)\n" +
				"t.yaml:2: sinks[0].elasticsearch.dead_letter_path: required for sink type elasticsearch: records the cluster rejects for good are written there"},
		{"url scheme", strings.Replace(esSink, "http://es-2:9200/prefix", "es-2:9200", 1),
			`t.yaml:5: sinks[0].elasticsearch.urls[1]: want an http or https URL, got "es-2:9200"`},
		{"url query", strings.Replace(esSink, "http://es-2:9200/prefix", `"http://es-2:9200/?pipeline=x"`, 1),
			`t.yaml:5: sinks[0].elasticsearch.urls[1]: URL "http://es-2:9200/?pipeline=x" must not have a query or fragment (use parameters)`},
		{"url no host", strings.Replace(esSink, "http://es-2:9200/prefix", "http:///x", 1),
			`t.yaml:5: sinks[0].elasticsearch.urls[1]: URL "http:///x" has no host`},
		{"index unclosed", strings.Replace(esSink, "-%Y.%m.%d", "-{a.b", 1),
			`t.yaml:6: sinks[0].elasticsearch.index: unclosed { in "logs-{kubernetes.namespace}-{a.b"`},
		{"index directive", strings.Replace(esSink, "%Y", "%y", 1),
			`t.yaml:6: sinks[0].elasticsearch.index: unknown date directive (want %Y %m %d %H %G %V or %%) in "logs-{kubernetes.namespace}-%y.%m.%d"`},
		{"index field", strings.Replace(esSink, "{kubernetes.namespace}", "{kubernetes..namespace}", 1),
			`t.yaml:6: sinks[0].elasticsearch.index: bad field {kubernetes..namespace} in "logs-{kubernetes..namespace}-%Y.%m.%d"`},
		{"routes", esSink + "      routes: {audit: audit-%Y.%m}\n", ""},
		{"route name", esSink + "      routes: {_x: audit}\n", "t.yaml:8: sinks[0].elasticsearch.routes._x: bad route name (want [a-z0-9][a-z0-9._-]{0,62}, as in logferry.io/route)"},
		{"route index", esSink + "      routes: {audit: \"a-{x\"}\n", `t.yaml:8: sinks[0].elasticsearch.routes.audit: bad index template "a-{x": unclosed {`},
		{"compression", esSink + "      compression: zstd\n",
			`t.yaml:8: sinks[0].elasticsearch.compression: want one of , gzip, none; got "zstd"`},
		{"api key and bearer", esSink + "      api_key: k\n      bearer_token: t\n",
			"t.yaml:4: sinks[0].elasticsearch.username: choose one authentication: username/password, api_key or bearer_token"},
		{"api key twice", esSink + "      api_key: a\n      api_key_file: /a\n",
			"t.yaml:9: sinks[0].elasticsearch.api_key_file: set api_key or api_key_file, not both"},
		{"max_request_bytes", esSink + "      max_request_bytes: 100\n",
			"t.yaml:8: sinks[0].elasticsearch.max_request_bytes: must be between 1KiB and 1GiB, got 100"},
		{"unknown key", esSink + "      url: x\n",
			"t.yaml:8: sinks[0].elasticsearch.url: unknown key (did you mean urls?)"},
		{"not checked for other types", okSink + "    elasticsearch:\n      compression: zstd\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { checkParse(t, tc) })
	}
}
