package record

import "testing"

func TestLookup(t *testing.T) {
	rec := `{"@timestamp":"2026-11-22T15:19:10Z", "message":"a \"quoted\" {not: an object} \\",` +
		`"arr":[{"event":{"id":"no"}},"]"],"n":-12.5e3,"t":true,"z":null,` +
		`"kubernetes":{"namespace":"default","pod":{"name":"web-1","labels":{"app.kubernetes.io/name":"web"}}},` +
		`"dotted.key":"dk","esc":"a\u00e9\n","event":{"id":"ffca41a9d5cbe1cc-0"}}`
	for _, tc := range []struct {
		path string
		raw  string // "" missing
		text string
		ok   bool
	}{
		{"event.id", `"ffca41a9d5cbe1cc-0"`, "ffca41a9d5cbe1cc-0", true},
		{"kubernetes.namespace", `"default"`, "default", true},
		{"kubernetes.pod.name", `"web-1"`, "web-1", true},
		{"kubernetes.pod.labels.app.kubernetes.io/name", `"web"`, "web", true},
		{"dotted.key", `"dk"`, "dk", true},
		{"n", `-12.5e3`, "-12.5e3", true},
		{"t", `true`, "true", true},
		{"z", `null`, "", false},
		{"kubernetes.pod", `{"name":"web-1","labels":{"app.kubernetes.io/name":"web"}}`, "", false},
		{"esc", `"a\u00e9\n"`, "a\u00e9\n", true},
		{"message", `"a \"quoted\" {not: an object} \\"`, `a "quoted" {not: an object} \`, true},
		{"missing", "", "", false},
		{"kubernetes.missing", "", "", false},
		{"event.id.deeper", "", "", false},
	} {
		raw := Lookup([]byte(rec), tc.path)
		if string(raw) != tc.raw {
			t.Errorf("%s: raw %q, want %q", tc.path, raw, tc.raw)
		}
		text, ok := Scalar(raw)
		if ok != tc.ok || string(text) != tc.text {
			t.Errorf("%s: text %q %v, want %q %v", tc.path, text, ok, tc.text, tc.ok)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `{"a" 1}`, `{"a":"x`, `not json`} {
		if got := Lookup([]byte(bad), "a.b"); got != nil {
			t.Errorf("%q: got %q", bad, got)
		}
	}
}
