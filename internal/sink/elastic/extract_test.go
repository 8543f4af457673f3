package elastic

import (
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

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
		f := record.Fields{Rec: []byte(tc.rec)}
		if got := string(it.render(nil, []byte(tc.rec), it.fieldValues(nil, &f), now)); got != tc.want {
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
	s, err := New("es", Options{URLs: []string{"http://127.0.0.1:1"}, Index: "logs-{kubernetes.namespace}-%Y.%m.%d", Options: httpsink.Options{DeadLetter: &failingDead{}}})
	if err != nil {
		b.Fatal(err)
	}
	bt := batch([]string{"ffca41a9d5cbe1cc-0"})
	r := httpsink.Split(nil, bt)[0]
	b.SetBytes(int64(len(bt.Chunks[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		s.body.Reset()
		s.appendItem(&s.body, bt, r, &chunkIndex{chunk: -1})
	}
}

func TestIndexRoutes(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	s, err := New("es", Options{URLs: []string{"http://127.0.0.1:1"}, Index: "logs-%Y",
		Routes: map[string]string{"audit": "audit-{kubernetes.namespace}"}, Options: httpsink.Options{DeadLetter: &failingDead{}, Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rec, want string }{
		{`{"kubernetes":{"namespace":"pay"},"logferry":{"route":"audit"},"event":{"id":"x"}}`, "audit-pay"},
		{`{"kubernetes":{"namespace":"pay"},"logferry":{"route":"other"},"event":{"id":"x"}}`, "logs-2030"},
		{`{"kubernetes":{"namespace":"pay"},"event":{"id":"x"}}`, "logs-2030"},
	} {
		c := &pipeline.Chunk{}
		if got := string(s.indexName(nil, c, []byte(tc.rec))); got != tc.want {
			t.Errorf("%s: index %q, want %q", tc.rec, got, tc.want)
		}
		// The same fields as a chunk's Consts decide the index once for the chunk.
		c.Consts = []byte(tc.rec)
		bt := &pipeline.Batch{Chunks: []*pipeline.Chunk{c}}
		ci := chunkIndex{chunk: -1}
		ci.resolve(s, bt, 0)
		if got := string(ci.t.render(nil, []byte(tc.rec), ci.vals, now)); !ci.decided || got != tc.want {
			t.Errorf("%s as Consts: index %q (decided %v), want %q", tc.rec, got, ci.decided, tc.want)
		}
	}
	if _, err := New("es", Options{URLs: []string{"http://x"}, Index: "i", Routes: map[string]string{"a": "b-{x"}, Options: httpsink.Options{DeadLetter: &failingDead{}}}); err == nil {
		t.Error("bad route template accepted")
	}
}
