package elastic

import (
	"testing"
	"time"
)

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
		raw := lookup([]byte(rec), splitPath(tc.path))
		if string(raw) != tc.raw {
			t.Errorf("%s: raw %q, want %q", tc.path, raw, tc.raw)
		}
		text, ok := stringValue(raw)
		if ok != tc.ok || string(text) != tc.text {
			t.Errorf("%s: text %q %v, want %q %v", tc.path, text, ok, tc.text, tc.ok)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `{"a" 1}`, `{"a":"x`, `not json`} {
		if got := lookup([]byte(bad), []string{"a", "b"}); got != nil {
			t.Errorf("%q: got %q", bad, got)
		}
	}
}

func TestIndexTemplate(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	rec := func(ts, ns string) string {
		return `{"@timestamp":"` + ts + `","kubernetes":{"namespace":"` + ns + `"},"event":{"id":"x"}}`
	}
	for _, tc := range []struct{ tmpl, rec, want string }{
		{"logs-{kubernetes.namespace}-%Y.%m.%d", rec("2026-11-22T15:19:10.014328837Z", "default"), "logs-default-2026.11.22"},
		// Offsets are converted to UTC: the UTC day, not the local one.
		{"logs-%Y.%m.%d-%H", rec("2026-11-22T23:30:00-02:00", "x"), "logs-2026.11.23-01"},
		{"logs-%Y.%m.%d", rec("2026-01-01T00:30:00+01:00", "x"), "logs-2025.12.31"},
		// Field values are made valid index names.
		{"logs-{kubernetes.namespace}", rec("2026-11-22T00:00:00Z", `Team A/B:c`), "logs-team_a_b_c"},
		{"logs-{kubernetes.pod}", rec("2026-11-22T00:00:00Z", "x"), "logs-unknown"},
		// No usable timestamp: now.
		{"logs-%Y.%m.%d", `{"message":"m"}`, "logs-2030.01.02"},
		{"logs-%Y.%m.%d", rec("yesterday", "x"), "logs-2030.01.02"},
		{"logs-%G-w%V-100%%", rec("2027-01-01T12:00:00Z", "x"), "logs-2026-w53-100%"},
		{"plain", rec("2026-11-22T00:00:00Z", "x"), "plain"},
	} {
		it, err := parseIndexTemplate(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(it.render(nil, []byte(tc.rec), now)); got != tc.want {
			t.Errorf("%s over %s: %q, want %q", tc.tmpl, tc.rec, got, tc.want)
		}
	}
	for _, bad := range []string{"", "logs-{a", "logs-%x", "logs-{}", "a}"} {
		if _, err := parseIndexTemplate(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func BenchmarkAppendItem(b *testing.B) {
	s, err := New("es", Options{URLs: []string{"http://127.0.0.1:1"}, Index: "logs-{kubernetes.namespace}-%Y.%m.%d", DeadLetter: &failingDead{}})
	if err != nil {
		b.Fatal(err)
	}
	bt := batch([]string{"ffca41a9d5cbe1cc-0"})
	r := splitRecords(nil, bt)[0]
	b.SetBytes(int64(len(bt.Chunks[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		s.body.Reset()
		s.appendItem(&s.body, bt, r)
	}
}
