package loki

import (
	"fmt"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
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
		b.Run(fmt.Sprint("json=", json), func(b *testing.B) { benchBuild(b, batch, json) })
	}
}

// benchBuild measures building every push of batch.
func benchBuild(b *testing.B, batch *pipeline.Batch, json bool) {
	s, err := New("b", Options{URL: "http://127.0.0.1:1", JSON: json, Options: httpsink.Options{Logger: quiet()}})
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
}

// encodedBatch is 20 pods' records as the agent encodes them, a chunk per pod,
// each chunk carrying its prefix's Consts when withConsts.
func encodedBatch(withConsts bool) *pipeline.Batch { return encodedBatchAt(withConsts, t0) }

// encodedBatchAt is encodedBatch with log times from ts on (a microsecond apart).
func encodedBatchAt(withConsts bool, ts time.Time) *pipeline.Batch {
	batch := &pipeline.Batch{}
	var enc record.Encoder
	for pod := range 20 {
		kube := &record.Kube{NodeName: "node-1", Labels: map[string]string{"app": "web"}}
		if pod%2 == 0 {
			kube.Owners = []record.Owner{{Kind: "replicaset", Name: "web-7d9f"}, {Kind: "deployment", Name: "web"}}
		}
		p := record.NewPrefix(record.Source{Path: fmt.Sprintf("/var/log/pods/ns-%d_web-%d_uid-%d/app/0.log", pod%8, pod, pod),
			Namespace: fmt.Sprint("ns-", pod%8), Pod: fmt.Sprint("web-", pod), PodUID: fmt.Sprint("uid-", pod), Container: "app", RestartCount: 0,
			FileID: uint64(pod + 1), Kube: kube})
		c := &pipeline.Chunk{}
		if withConsts {
			c.Consts = p.Consts()
		}
		for i := range 50 {
			at := ts.Add(time.Duration(pod*50+i) * time.Microsecond)
			e := format.Entry{Time: at, Stream: format.Stream(1 + i%2), Offset: int64(i * 100),
				Msg: fmt.Appendf(nil, "GET /api/v1/items/%d 200 1234 bytes in 3.2ms user-agent=curl/8.5 pod=%d", i, pod)}
			c.Data = enc.Append(c.Data, p, &e, at)
			c.Records++
		}
		batch.Add(c)
	}
	return batch
}

// BenchmarkBuildEncoded builds pushes from records as the agent encodes them, in
// chunks of one file each carrying the fields its records share (Chunk.Consts): the
// labels and the pod's metadata are resolved once per chunk.
func BenchmarkBuildEncoded(b *testing.B) { benchBuild(b, encodedBatch(true), false) }

// A push built with the chunks' Consts is byte for byte the push built by reading
// every record (labels, structured metadata, both encodings, requests split small).
func TestBuildWithConstsMatchesRecords(t *testing.T) {
	for _, json := range []bool{false, true} {
		bodies := make([][]string, 2)
		for i, withConsts := range []bool{false, true} {
			batch := encodedBatch(withConsts)
			s, err := New("b", Options{URL: "http://127.0.0.1:1", JSON: json, Options: httpsink.Options{Logger: quiet()},
				StructuredMetadata: append(DefaultStructuredMetadata(), Field{Name: "labels", Paths: []string{"kubernetes.labels"}})})
			if err != nil {
				t.Fatal(err)
			}
			rs := httpsink.Split(nil, batch)
			for len(rs) > 0 {
				n, _ := s.build(batch, rs, 16<<10)
				bodies[i] = append(bodies[i], string(s.req.body))
				rs = rs[n:]
			}
		}
		if fmt.Sprint(bodies[0]) != fmt.Sprint(bodies[1]) || len(bodies[0]) < 2 {
			t.Fatalf("json=%v: %d requests without Consts, %d with; bodies differ", json, len(bodies[0]), len(bodies[1]))
		}
	}
}
