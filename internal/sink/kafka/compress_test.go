package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logferry/logferry/internal/gen"
)

// benchBatches returns produce batches of about 600 KB (the size the agent's
// batches average in tools/bench) of records shaped as the agent writes them for a
// 200-byte message, framed as in a Kafka record batch (varint lengths, the pod UID
// as key), and the bytes of the container log lines they stand for.
func benchBatches(filler string) (batches [][]byte, lineBytes int) {
	const (
		pods      = 17 // the records of a partition's batch come from about this many pods
		perRecord = 200
		batchSize = 600 << 10
		records   = 100_000
	)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var cur, msg, rec []byte
	offsets := make([]int, pods)
	for i := range records {
		p := i / 50 % pods // 50 records per chunk, chunks of pods interleaved
		ns, pod := "batch", fmt.Sprintf("api-xjnvq7gq8s-%05d", p)
		uid := fmt.Sprintf("539259ed-150d-4a12-a5c8-1e2da5f2%04d", p)
		msg = gen.AppendMessageFiller(msg[:0], filler, ns, pod, "app", i, perRecord)
		ts := t0.Add(time.Duration(i) * 9347 * time.Nanosecond).Format(time.RFC3339Nano)
		rec = fmt.Appendf(rec[:0], `{"@timestamp":%q,"message":%q,"stream":"stdout","log":{"file":{"path":"/var/log/pods/%s_%s_%s/app/0.log"},"offset":%d},`+
			`"kubernetes":{"namespace":%q,"pod":{"name":%q,"uid":%q},"container":{"name":"app","restart_count":0}},"event":{"id":"fe4b5764030327%02x-%d"}}`,
			ts, msg, ns, pod, uid, offsets[p], ns, pod, uid, p, offsets[p])
		line := len(ts) + len(" stdout F ") + len(msg) + 1
		offsets[p] += line
		lineBytes += line

		body := []byte{0}                               // attributes
		body = binary.AppendVarint(body, int64(i%1000)) // timestamp delta
		body = binary.AppendVarint(body, int64(i%1000)) // offset delta
		body = binary.AppendVarint(body, int64(len(uid)))
		body = append(body, uid...)
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
		body = binary.AppendVarint(body, 0) // headers
		cur = binary.AppendVarint(cur, int64(len(body)))
		cur = append(cur, body...)
		if len(cur) >= batchSize {
			batches = append(batches, cur)
			cur = nil
		}
	}
	return append(batches, cur), lineBytes
}

// BenchmarkCompress measures each codec's compressor on agent-shaped produce
// batches. MB/s is of the batches' bytes (what the codec reads); input-MB/s is of
// the log lines the records came from (the unit of the sink's throughput target:
// each 241-byte line becomes a record of about 650 bytes, so a codec alone bounds
// the sink at input-MB/s).
func BenchmarkCompress(b *testing.B) {
	snappy, err := kgo.DefaultCompressor(kgo.SnappyCompression()) // franz-go's, as the sink uses
	if err != nil {
		b.Fatal(err)
	}
	codecs := []struct {
		name string
		c    kgo.Compressor
	}{
		{"zstd", newZstdCompressor()},
		{"lz4", newLz4Compressor()},
		{"gzip", newGzipCompressor()},
		{"snappy", snappy},
	}
	for _, filler := range []string{gen.FillerText, gen.FillerRandom} {
		batches, lineBytes := benchBatches(filler)
		total := 0
		for _, x := range batches {
			total += len(x)
		}
		for _, codec := range codecs {
			b.Run(filler+"/"+codec.name, func(b *testing.B) {
				var dst bytes.Buffer
				var out int
				b.SetBytes(int64(total))
				for b.Loop() {
					out = 0
					for _, x := range batches {
						dst.Reset()
						c, kind := codec.c.Compress(&dst, x)
						if kind == kgo.CodecError {
							b.Fatal("compression failed")
						}
						out += len(c)
					}
				}
				b.ReportMetric(float64(total)/float64(out), "ratio")
				b.ReportMetric(float64(lineBytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "input-MB/s")
			})
		}
	}
}
