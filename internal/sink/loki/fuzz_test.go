package loki

import (
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// FuzzBuild feeds arbitrary records (hostile JSON, invalid UTF-8, odd escapes) to
// the request builder in both formats: it must not panic, every body must decode
// (protobuf with protowire after snappy; JSON with encoding/json), and every record
// must be in exactly one push.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(recLine("ns", "web", "p", "c", "id", "hello", t0)), uint16(1024))
	f.Add([]byte(`{"message":"a\u0000\"b\\","kubernetes":{"namespace":"x\"y"}}`+"\n"+`{"message":5}`+"\n"), uint16(10))
	f.Add([]byte("{\"message\":\"\xff\xfe\",\"@timestamp\":\"-1\"}\n\n{\n"), uint16(0))
	f.Add([]byte(`{"kubernetes":{"namespace":{"a":1},"container":{"name":["x"]}},"event":{"id":null}}`), uint16(300))
	now := func() time.Time { return t0 }
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		b := &pipeline.Batch{}
		b.Add(&pipeline.Chunk{Data: data, Records: 1})
		for _, json := range []bool{false, true} {
			s, err := New("f", Options{URL: "http://127.0.0.1:1", JSON: json, NoGzip: true,
				Options: httpsink.Options{MaxRequestBytes: int(limit) + 1, Now: now, Logger: quiet()}})
			if err != nil {
				t.Fatal(err)
			}
			recs := httpsink.Split(nil, b)
			total := len(recs)
			got := 0
			for len(recs) > 0 {
				n, _ := s.build(b, recs, int(limit)+1)
				if n < 1 || n > len(recs) {
					t.Fatalf("took %d of %d", n, len(recs))
				}
				var p pushed
				if json {
					p, err = decodeJSON(s.payload)
				} else {
					var raw []byte
					if raw, err = snappy.Decode(nil, s.payload); err == nil {
						p, err = decodeProto(raw)
					}
				}
				if err != nil {
					t.Fatalf("json=%v: %v\n%q", json, err, s.payload)
				}
				for _, st := range p.Streams {
					if len(st.Entries) == 0 || st.Labels == "" {
						t.Fatalf("empty stream %+v", st)
					}
					got += len(st.Entries)
				}
				recs = recs[n:]
			}
			if got != total {
				t.Fatalf("json=%v: %d entries for %d records", json, got, total)
			}
		}
	})
}
