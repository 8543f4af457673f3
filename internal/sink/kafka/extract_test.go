package kafka

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/record"
)

const sample = `{"@timestamp":"2026-11-22T15:18:57.557Z","message":"hello \"x\" {}","stream":"stdout","log":{"file":{"path":"/var/log/pods/a/0.log"},"offset":12},"kubernetes":{"namespace":"default","labels":{"app.kubernetes.io/name":"web"},"pod":{"name":"web-1","uid":"a0ae-66"},"container":{"name":"app","restart_count":0}},"event":{"id":"ade4-0"},"n":null,"arr":[{"a":"}"},2]}`

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		path string
		raw  string // "" for none
		text string // scalar text; "-" when not a scalar
	}{
		{"kubernetes.namespace", `"default"`, "default"},
		{"kubernetes.pod.uid", `"a0ae-66"`, "a0ae-66"},
		{"kubernetes.container.restart_count", `0`, "0"},
		{"kubernetes.labels.app.kubernetes.io/name", `"web"`, "web"},
		{"log.offset", `12`, "12"},
		{"message", `"hello \"x\" {}"`, `hello "x" {}`},
		{"event", `{"id":"ade4-0"}`, "-"},
		{"n", `null`, "-"},
		{"arr", `[{"a":"}"},2]`, "-"},
		{"kubernetes.pod.missing", "", "-"},
		{"kubernetes.namespace.x", "", "-"},
		{"missing", "", "-"},
		{"kube", "", "-"},
		{"", "", "-"},
	} {
		raw := record.Lookup([]byte(sample), tc.path)
		if string(raw) != tc.raw {
			t.Errorf("record.Lookup(%q) = %q, want %q", tc.path, raw, tc.raw)
		}
		v, ok := record.Scalar(raw)
		if got := map[bool]string{true: string(v), false: "-"}[ok]; got != tc.text {
			t.Errorf("record.Scalar(record.Lookup(%q)) = %q, want %q", tc.path, got, tc.text)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `{"a":"x`, `{"a" 1}`, `{"a":1 "b":2}`, `nope`} {
		if v := record.Lookup([]byte(bad), "a.b"); v != nil {
			t.Errorf("record.Lookup(%q) = %q, want nil", bad, v)
		}
	}
}

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		tmpl, rec, want string // want "" means fallback
	}{
		{"logs", `{}`, "logs"},
		{"logs.{kubernetes.namespace}", sample, "logs.default"},
		{"{kubernetes.namespace}-{kubernetes.container.name}.v1", sample, "default-app.v1"},
		{"logs.{kubernetes.labels.app.kubernetes.io/name}", sample, "logs.web"},
		{"logs.{message}", sample, `logs.hello__x____`},
		{"logs.{kubernetes.namespace}", `{"kubernetes":{}}`, ""},
		{"logs.{kubernetes.namespace}", `{"kubernetes":{"namespace":""}}`, ""},
		{"logs.{event}", sample, ""},
		{"{n}", sample, ""},
		{"{x}", `{"x":"` + strings.Repeat("a", 250) + `"}`, ""},
		{"{x}", `{"x":".."}`, ""},
	} {
		fields, ok := config.TopicFields(tc.tmpl)
		if !ok {
			t.Fatalf("TopicFields(%q) not ok", tc.tmpl)
		}
		got, ok := compileTemplate(tc.tmpl, fields).render(nil, &record.Fields{Rec: []byte(tc.rec)})
		if !ok {
			got = nil
		}
		if string(got) != tc.want {
			t.Errorf("%s over %.40s: got %q, want %q", tc.tmpl, tc.rec, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := func(msg string) string {
		return `{"@timestamp":"2026-11-22T15:18:57.557Z","message":` + msg + `,"stream":"stderr","log":{"file":{"path":"/p/0.log"},"offset":7},"kubernetes":{"namespace":"ns","pod":{"uid":"u1"}},"event":{"id":"e-1"}}`
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for _, tc := range []struct {
		name, rec string
		limit     int
		head      string // the message must start with it
	}{
		{"ascii", long(q(strings.Repeat("abcdefgh", 2000))), 4096, "abcdefgh"},
		{"escapes", long(q(strings.Repeat("\"\\\n\t", 3000))), 4096, "\"\\\n\t"},
		{"multibyte", long(q(strings.Repeat("é日本🙂", 2000))), 4096, "é日本🙂"},
		{"controls", long(q(strings.Repeat("\x01", 5000))), 4096, "\x01\x01"},
		{"no message", `{"x":"` + strings.Repeat("y", 9000) + `"}`, 4096, `{"x":"yyy`},
		{"number message", `{"message":12,"x":"` + strings.Repeat("y", 9000) + `"}`, 4096, `{"message":12`},
		{"huge kubernetes", `{"message":"m","kubernetes":{"labels":{"a":"` + strings.Repeat("k", 9000) + `"}}}`, 4096, "m"},
		{"small limit", long(q(strings.Repeat("z", 9000))), 300, "zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := truncate([]byte(tc.rec), tc.limit)
			if len(out) > tc.limit {
				t.Fatalf("%d bytes, limit %d", len(out), tc.limit)
			}
			if len(out) < tc.limit*3/4 && tc.name != "huge kubernetes" {
				t.Errorf("only %d of %d bytes used", len(out), tc.limit)
			}
			var v struct {
				Message    string `json:"message"`
				Kubernetes any    `json:"kubernetes"`
				Log        struct {
					Flags    []string `json:"flags"`
					Original int      `json:"original_bytes"`
					Offset   *int     `json:"offset"`
				} `json:"log"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("not valid JSON: %v\n%s", err, out)
			}
			if !utf8.ValidString(v.Message) || !strings.HasPrefix(v.Message, tc.head) {
				t.Errorf("message %.60q does not start with %.20q", v.Message, tc.head)
			}
			if len(v.Log.Flags) != 1 || v.Log.Flags[0] != "truncated" || v.Log.Original != len(tc.rec) {
				t.Errorf("log = %+v", v.Log)
			}
			if strings.HasPrefix(tc.rec, `{"@timestamp"`) && tc.limit > 1000 && (v.Kubernetes == nil || v.Log.Offset == nil || *v.Log.Offset != 7) {
				t.Errorf("identifying fields lost: %s", out)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	rec := []byte(sample)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if record.Lookup(rec, "kubernetes.pod.uid") == nil {
			b.Fatal("missing")
		}
	}
}

func TestTopicRoutes(t *testing.T) {
	c := config.DefaultKafkaSink()
	c.Brokers = []string{"127.0.0.1:1"} // never dialled: the client connects lazily
	c.Topic, c.TopicFallback = "logs", "logs.unknown"
	c.Routes = map[string]string{"audit": "audit.{kubernetes.namespace}", "pay": "payments"}
	s, err := New("k", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	for _, tc := range []struct{ rec, want string }{
		{`{"kubernetes":{"namespace":"shop"},"logferry":{"route":"audit"}}`, "audit.shop"},
		{`{"kubernetes":{},"logferry":{"route":"audit"}}`, "logs.unknown"},
		{`{"kubernetes":{"namespace":"shop"},"logferry":{"route":"pay"}}`, "payments"},
		{`{"kubernetes":{"namespace":"shop"},"logferry":{"route":"nope"}}`, "logs"},
		{`{"kubernetes":{"namespace":"shop"}}`, "logs"},
	} {
		a, _ := s.address(&record.Fields{Rec: []byte(tc.rec)}, nil)
		if a.topic != tc.want || a.fallback != (tc.want == "logs.unknown") {
			t.Errorf("%s: topic %q (fallback %v), want %q", tc.rec, a.topic, a.fallback, tc.want)
		}
		// The same fields as a chunk's Consts decide the topic without the record.
		f := record.Fields{Consts: []byte(tc.rec)}
		if a, _ := s.address(&f, nil); a.topic != tc.want || f.Undecided {
			t.Errorf("%s as Consts: topic %q (undecided %v), want %q", tc.rec, a.topic, f.Undecided, tc.want)
		}
	}
}
