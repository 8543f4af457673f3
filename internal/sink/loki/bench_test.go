package loki

import (
	"fmt"
	"testing"

	"github.com/logferry/logferry/internal/sink/httpsink"
)

// BenchmarkBuild measures building (scanning, encoding, compressing) the pushes of
// a 1000-record batch, without HTTP.
func BenchmarkBuild(b *testing.B) {
	var recs []string
	for i := range 1000 {
		recs = append(recs, recLine(fmt.Sprint("ns-", i%8), "web", fmt.Sprint("web-", i%20), "app", fmt.Sprint("id-", i),
			fmt.Sprintf("GET /api/v1/items/%d 200 1234 bytes in 3.2ms user-agent=curl/8.5", i), t0))
	}
	batch := batchOf(recs)
	for _, json := range []bool{false, true} {
		b.Run(fmt.Sprint("json=", json), func(b *testing.B) {
			s, err := New("b", Options{URL: "http://127.0.0.1:1", JSON: json, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(batch.Bytes))
			b.ReportAllocs()
			for b.Loop() {
				rs := httpsink.Split(s.recs[:0], batch)
				s.recs = rs
				for len(rs) > 0 {
					n, _ := s.build(batch, rs, DefaultMaxRequestBytes)
					rs = rs[n:]
				}
			}
		})
	}
}
