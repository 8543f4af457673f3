package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// httpSinks are the sink types with HTTPClient and DeadLetter settings: a valid
// sink of the type (tests append keys to it) and the authentication methods it
// names when more than one is set.
var httpSinks = []struct {
	typ, sink, methods string
}{
	{"elasticsearch", esSink, "username/password, api_key or bearer_token"},
	{"loki", lokiSink, "username/password or bearer_token"},
}

// TestHTTPSinkValidation: the shared keys are checked alike in every HTTP sink.
// In want, %[1]s is the sink type and %[2]d the line of the first appended key.
func TestHTTPSinkValidation(t *testing.T) {
	for _, s := range httpSinks {
		first := strings.Count(s.sink, "\n") + 1
		for _, tc := range []parseCase{
			{"valid", "      username: u\n      password_file: /p\n      ca_file: /ca.pem\n      cert_file: /c.pem\n" +
				"      key_file: /k.pem\n      insecure_skip_verify: false\n      timeout: 10s\n" +
				"      dead_letter_max_size: 1MiB\n      dead_letter_max_files: 0\n", ""},
			{"bearer", "      bearer_token_file: /t\n      timeout: 0s\n", ""},
			{"password without user", "      password: x\n",
				"t.yaml:4: sinks[0].%[1]s.username: required with password or password_file"},
			{"password twice", "      password_file: /p\n      username: u\n      password: x\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.password_file: set password or password_file, not both"},
			{"bearer twice", "      bearer_token_file: /a\n      bearer_token: a\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.bearer_token_file: set bearer_token or bearer_token_file, not both"},
			{"two auth methods", "      username: u\n      password: x\n      bearer_token: t\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.username: choose one authentication: " + s.methods},
			{"cert without key", "      cert_file: /c\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.cert_file: cert_file and key_file go together"},
			{"key without cert", "      key_file: /k\n",
				"t.yaml:4: sinks[0].%[1]s.cert_file: cert_file and key_file go together"},
			{"timeout", "      timeout: -1s\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.timeout: must be at least 0s, got -1s"},
			{"dead_letter_max_files", "      dead_letter_max_files: -1\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.dead_letter_max_files: must be at least 0, got -1"},
			{"unknown key", "      passwd: x\n",
				"t.yaml:%[2]d: sinks[0].%[1]s.passwd: unknown key (did you mean password?)"},
		} {
			tc.in = s.sink + tc.in
			if tc.want != "" {
				tc.want = fmt.Sprintf(tc.want, s.typ, first)
			}
			t.Run(s.typ+"/"+tc.name, func(t *testing.T) { checkParse(t, tc) })
		}
	}
}

// checkParse checks the error of parsing tc.in.
func checkParse(t *testing.T, tc parseCase) {
	t.Helper()
	_, err := Parse([]byte(tc.in), "t.yaml", lookupTestEnv)
	got := ""
	if err != nil {
		got = err.Error()
	}
	if got != tc.want {
		t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
	}
}

// decodeFull decodes testdata/full.yaml, the documented example, keeping the lines
// of its keys.
func decodeFull(t *testing.T) (*decoder, *Config) {
	t.Helper()
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
	return d, c
}

// TestFullCoversHTTPSinks: testdata/full.yaml has a sink of each HTTP type with
// every key, its own and the shared ones.
func TestFullCoversHTTPSinks(t *testing.T) {
	d, c := decodeFull(t)
	var s Sink
	for typ, fields := range map[string][]field{"elasticsearch": s.Elasticsearch.fields(), "loki": s.Loki.fields()} {
		at := -1
		for i, s := range c.Sinks {
			if s.Type == typ {
				at = i
			}
		}
		if at < 0 {
			t.Errorf("testdata/full.yaml has no %s sink", typ)
			continue
		}
		prefix := "sinks[" + strconv.Itoa(at) + "]." + typ
		for _, f := range fields {
			if _, ok := d.lines[keyPath(prefix, f.key)]; !ok {
				t.Errorf("testdata/full.yaml lacks %s", keyPath(prefix, f.key))
			}
		}
		if typ == "loki" {
			def, got := DefaultLokiSink(), c.Sinks[at].Loki
			if !maps.Equal(got.Labels, def.Labels) || !maps.Equal(got.StructuredMetadata, def.StructuredMetadata) {
				t.Errorf("full.yaml's labels or structured_metadata differ from the defaults it documents: %v %v", got.Labels, got.StructuredMetadata)
			}
		}
	}
}
