package loki

import (
	"fmt"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/vltest"
)

// TestVictoriaLogs pushes a few hundred records through a real VictoriaLogs' Loki
// push endpoint, in protobuf (snappy) and in JSON (gzip, and plain), several pushes
// each, and reads them back with LogsQL: counts per namespace, labels, and the
// structured metadata of a record found by its event id.
func TestVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	vl := vltest.Start(t)
	const n = 300
	ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	formats := []struct {
		name string
		o    Options
	}{
		{"pb", Options{}},
		{"js", Options{JSON: true}},
		{"jsplain", Options{JSON: true, NoGzip: true}},
	}
	for _, f := range formats {
		o := f.o
		o.MaxRequestBytes = 8 << 10 // several pushes
		o.StaticLabels = []Label{{"via", f.name}}
		s := newSink(t, vl.LokiPushURL(), o)
		var chunks [][]string
		for c := range 3 {
			var recs []string
			for i := c * n / 3; i < (c+1)*n/3; i++ {
				ns := fmt.Sprintf("%s-%d", f.name, i%2)
				deploy := []string{"web", "api", ""}[i%3]
				recs = append(recs, recLine(ns, deploy, fmt.Sprintf("pod-%d", i%5), "app",
					fmt.Sprintf("%s-%03d", f.name, i), fmt.Sprintf("hello \"%s\" %03d", f.name, i), ts.Add(time.Duration(i)*time.Millisecond)))
			}
			chunks = append(chunks, recs)
		}
		if err := s.Consume(t.Context(), batchOf(chunks...)); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if st := s.Stats(); st.Accepted != n || st.Requests < 3 || st.Failures != (Failures{}) {
			t.Fatalf("%s: stats %+v", f.name, st)
		}
	}

	for _, f := range formats {
		var counts map[string]string
		vltest.WaitFor(t, 20*time.Second, func() bool {
			counts = map[string]string{}
			for _, r := range vl.Query(t, `via:=`+f.name+` | stats by (namespace) count() as n`) {
				counts[r["namespace"]] = r["n"]
			}
			return len(counts) == 2 && counts[f.name+"-0"] == fmt.Sprint(n/2) && counts[f.name+"-1"] == fmt.Sprint(n/2)
		})
		// Word filters may lag the stats a little: wait for the row too.
		var rows []map[string]string
		vltest.WaitFor(t, 20*time.Second, func() bool {
			rows = vl.Query(t, `event_id:="`+f.name+`-007"`)
			return len(rows) > 0
		})
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows for one event id: %v", f.name, len(rows), rows)
		}
		r := rows[0]
		want := map[string]string{
			"_msg": `hello "` + f.name + `" 007`, "namespace": f.name + "-1", "workload": "api", "container": "app",
			"via": f.name, "pod": "pod-2", "pod_uid": "uid-pod-2", "node": "node-1", "stream": "stdout",
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("%s: %s = %q, want %q (row %v)", f.name, k, r[k], v, r)
			}
		}
		if got, err := time.Parse(time.RFC3339Nano, r["_time"]); err != nil || !got.Equal(ts.Add(7*time.Millisecond)) {
			t.Errorf("%s: _time %q, want %v", f.name, r["_time"], ts.Add(7*time.Millisecond))
		}
		// A record without an owner has no workload label.
		if rows := vl.Query(t, `event_id:="`+f.name+`-002"`); len(rows) != 1 || rows[0]["workload"] != "" {
			t.Errorf("%s: %v", f.name, rows)
		}
	}
}
