package elastic

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// BenchmarkConsume sends 4MiB batches of agent-like records (about 450 bytes) to a
// server that discards the body and answers errors:false: the sink's own cost
// (building items, gzip, HTTP) per input byte.
func BenchmarkConsume(b *testing.B) {
	for _, gz := range []bool{true, false} {
		b.Run(map[bool]string{true: "gzip", false: "plain"}[gz], func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Write([]byte(`{"took":1,"errors":false,"items":[{"index":{"status":201}}]}`))
			}))
			defer srv.Close()
			s, err := New("es", Options{URLs: []string{srv.URL}, Index: "logs-{kubernetes.namespace}-%Y.%m.%d",
				NoGzip: !gz, Options: httpsink.Options{DeadLetter: &failingDead{}, Logger: slog.New(slog.DiscardHandler)}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(b.Context())
			bt := &pipeline.Batch{}
			for c := 0; bt.Bytes < 4<<20; c++ {
				var sb strings.Builder
				for i := range 1000 {
					fmt.Fprintf(&sb, `{"@timestamp":"2026-11-22T15:19:10.%09dZ","message":"lf default/web-xt66m5trcd-7cgnz/app seq=%d len=76 ee+Y*JWTTaLd!;hGdA!QOJM:]HW %s","stream":"stdout","log":{"file":{"path":"/var/log/pods/default_web-xt66m5trcd-7cgnz_a0aee6c0-ae66-488c-8874-1236cd65e204/app/0.log"},"offset":%d},"kubernetes":{"namespace":"ns-%d","pod":{"name":"web-xt66m5trcd-7cgnz","uid":"a0aee6c0-ae66-488c-8874-1236cd65e204"},"container":{"name":"app","restart_count":0}},"event":{"id":"ffca41a9d5cbe1cc-%x"}}`+"\n",
						i, i, strings.Repeat("x", i%64), i*400, i%7, c*1000+i)
				}
				bt.Add(&pipeline.Chunk{Data: []byte(sb.String()), Records: 1000})
			}
			b.SetBytes(int64(bt.Bytes))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Consume(b.Context(), bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
