package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kafkaSink is a valid kafka sink; tests append keys under kafka: at 6 spaces.
const kafkaSink = "sinks:\n  - name: k\n    type: kafka\n    kafka:\n      brokers: [\"b1:9092\", \"b2:9093\"]\n      topic: logs\n"

func TestKafkaDefaults(t *testing.T) {
	cfg := mustParse(t, kafkaSink)
	k := cfg.Sinks[0].Kafka
	if k.KeyField != "kubernetes.pod.uid" || k.Compression != "zstd" || k.Linger != 5*time.Millisecond ||
		k.MaxMessageBytes != MiB || k.DeliveryTimeout != 30*time.Second || k.ClientID != "logferry" ||
		len(k.Brokers) != 2 || k.Topic != "logs" || k.TLS.Enabled != nil || k.SASL.Mechanism != "" {
		t.Fatalf("defaults: %+v", k)
	}
	// key_field: "" means no key, not the default.
	if k := mustParse(t, kafkaSink+"      key_field: \"\"\n").Sinks[0].Kafka; k.KeyField != "" {
		t.Fatalf("key_field %q", k.KeyField)
	}
}

func TestKafkaValidation(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ok", kafkaSink, ""},
		{"ok template", kafkaSink + "      topic: logs.{kubernetes.namespace}\n      topic_fallback: logs.other\n", ""},
		{"ok sasl env", kafkaSink + "      sasl:\n        mechanism: SCRAM-SHA-256\n        username: u\n        password: ${KAFKA_PW:-x}\n", ""},
		{"ok tls", kafkaSink + "      tls:\n        enabled: true\n        ca_file: /ca\n        cert_file: /c\n        key_file: /k\n", ""},
		{"no brokers", "sinks:\n  - name: k\n    type: kafka\n    kafka:\n      topic: logs\n",
			"t.yaml:4: sinks[0].kafka.brokers: at least one broker is required for sink type kafka"},
		{"no kafka at all", "sinks:\n  - name: k\n    type: kafka\n",
			"t.yaml:2: sinks[0].kafka.brokers: at least one broker is required for sink type kafka\n" +
				"t.yaml:2: sinks[0].kafka.topic: required for sink type kafka"},
		{"bad broker", kafkaSink + "      brokers: [\"b1\"]\n", `sinks[0].kafka.brokers[0]: must be host:port, got "b1"`},
		{"bad template", kafkaSink + "      topic: logs.{kubernetes.namespace\n", `sinks[0].kafka.topic: bad template`},
		{"empty field", kafkaSink + "      topic: logs.{}\n", `sinks[0].kafka.topic: bad template`},
		{"stray brace", kafkaSink + "      topic: logs}\n", `sinks[0].kafka.topic: bad template`},
		{"bad topic", kafkaSink + "      topic: logs/x\n", `sinks[0].kafka.topic: invalid topic name "logs/x"`},
		{"no fallback", kafkaSink + "      topic: logs.{kubernetes.namespace}\n", "sinks[0].kafka.topic_fallback: required when topic refers to fields"},
		{"bad fallback", kafkaSink + "      topic_fallback: a b\n", `sinks[0].kafka.topic_fallback: invalid topic name "a b"`},
		{"bad key field", kafkaSink + "      key_field: a..b\n", `sinks[0].kafka.key_field: bad field path "a..b"`},
		{"compression", kafkaSink + "      compression: brotli\n", `sinks[0].kafka.compression: want one of zstd, lz4, snappy, gzip, none; got "brotli"`},
		{"linger", kafkaSink + "      linger: 2m\n", "sinks[0].kafka.linger: must be between 0s and 1m, got 2m0s"},
		{"max_message_bytes", kafkaSink + "      max_message_bytes: 1KiB\n", "sinks[0].kafka.max_message_bytes: must be between 4KiB and 64MiB, got 1KiB"},
		{"delivery_timeout", kafkaSink + "      delivery_timeout: 10ms\n", "sinks[0].kafka.delivery_timeout: must be at least 1s, got 10ms"},
		{"client_id", kafkaSink + "      client_id: \"\"\n", "sinks[0].kafka.client_id: must not be empty"},
		{"tls off", kafkaSink + "      tls:\n        ca_file: /ca\n", "sinks[0].kafka.tls.enabled: tls settings are given but tls is not enabled"},
		{"insecure without tls", kafkaSink + "      tls:\n        insecure_skip_verify: true\n", "sinks[0].kafka.tls.enabled: tls settings are given but tls is not enabled"},
		{"cert without key", kafkaSink + "      tls:\n        enabled: true\n        cert_file: /c\n", "sinks[0].kafka.tls: cert_file and key_file go together"},
		{"sasl mechanism", kafkaSink + "      sasl:\n        mechanism: GSSAPI\n", `sinks[0].kafka.sasl.mechanism: want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or ""; got "GSSAPI"`},
		{"sasl no user", kafkaSink + "      sasl:\n        mechanism: PLAIN\n        password_file: /p\n", "sinks[0].kafka.sasl.username: give exactly one of username and username_file"},
		{"sasl two passwords", kafkaSink + "      sasl:\n        mechanism: PLAIN\n        username: u\n        password: p\n        password_file: /p\n",
			"sinks[0].kafka.sasl.password: give exactly one of password and password_file"},
		{"credentials without mechanism", kafkaSink + "      sasl:\n        username: u\n", "sinks[0].kafka.sasl.mechanism: credentials are given but no mechanism"},
		{"unknown key", kafkaSink + "      topik: x\n", "sinks[0].kafka.topik: unknown key (did you mean topic?)"},
		{"ok routes", kafkaSink + "      routes: {audit: audit-logs, pay.v2: pay}\n", ""},
		{"route name", kafkaSink + "      routes: {Audit: audit-logs}\n", "sinks[0].kafka.routes.Audit: bad route name"},
		{"route topic", kafkaSink + "      routes: {audit: a/b}\n", `sinks[0].kafka.routes.audit: invalid topic name "a/b"`},
		{"route template", kafkaSink + "      routes: {audit: \"a.{x\"}\n", `sinks[0].kafka.routes.audit: bad topic template "a.{x"`},
		{"route needs fallback", kafkaSink + "      routes: {audit: \"a.{kubernetes.namespace}\"}\n", "sinks[0].kafka.topic_fallback: required when a topic template refers to fields"},
		{"ignored for other types", "sinks:\n  - name: k\n    type: stdout\n    kafka:\n      compression: brotli\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// a later key overrides nothing: duplicate keys are errors, so
			// rewrite the base's topic or brokers when the case sets them.
			in := tc.in
			for _, k := range []string{"topic: ", "brokers: "} {
				if strings.Count(in, "      "+k) > 1 {
					i := strings.Index(in, "      "+k)
					j := strings.Index(in[i:], "\n")
					in = in[:i] + in[i+j+1:]
				}
			}
			_, err := Parse([]byte(in), "t.yaml", lookupTestEnv)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestTopicFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // fields joined by "|", or "!" when malformed
	}{
		{"logs", ""},
		{"logs.{a}", "a"},
		{"{a.b}-{c}.x", "a.b|c"},
		{"{a", "!"},
		{"a}", "!"},
		{"{a{b}}", "!"},
		{"{}", "!"},
		{"{.a}", "!"},
		{"{a.}", "!"},
	} {
		f, ok := TopicFields(tc.in)
		got := strings.Join(f, "|")
		if !ok {
			got = "!"
		}
		if got != tc.want {
			t.Errorf("TopicFields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFullCoversKafkaKeys: testdata/full.yaml documents every kafka key.
func TestFullCoversKafkaKeys(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := parseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	d := &decoder{source: "full.yaml", lookupEnv: lookupTestEnv, lines: map[string]int{}, bad: map[string]bool{}}
	c := defaults(lookupTestEnv)
	d.mapping(root, "", c.fields())
	if len(d.errs) > 0 {
		t.Fatal(d.err())
	}
	idx := -1
	for i, s := range c.Sinks {
		if s.Type == "kafka" {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("full.yaml has no kafka sink")
	}
	var k KafkaSink
	prefix := "sinks[" + string(rune('0'+idx)) + "].kafka"
	for p, fields := range map[string][]field{prefix: k.fields(), prefix + ".tls": k.TLS.fields(), prefix + ".sasl": k.SASL.fields()} {
		for _, f := range fields {
			if _, ok := d.lines[keyPath(p, f.key)]; !ok {
				t.Errorf("testdata/full.yaml lacks %s", keyPath(p, f.key))
			}
		}
	}
}
