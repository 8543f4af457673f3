package sink

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/pipeline"
)

// chunk64K returns a 64 KiB chunk of ~200-byte JSON lines.
func chunk64K() *pipeline.Chunk {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		b.WriteString(record(i, 200))
	}
	s := b.String()
	cut := strings.LastIndexByte(s[:64<<10], '\n') + 1
	s = s[:cut] + strings.Repeat("x", 64<<10-cut-1) + "\n" // exactly 64 KiB
	return newChunk(s)
}

func BenchmarkFileSink(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		for _, perBatch := range []int{1, 64} { // 64 KiB and 4 MiB batches
			b.Run(fmt.Sprintf("fsync=%v/chunks=%d", fsync, perBatch), func(b *testing.B) {
				f, err := NewFile("bench", FileOptions{
					Path: filepath.Join(b.TempDir(), "out.log"), Fsync: fsync,
					MaxSize: 256 << 20, MaxFiles: 1, Logger: quietLogger(),
				})
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close(context.Background())
				c := chunk64K()
				batch := &pipeline.Batch{}
				for range perBatch {
					batch.Add(c)
				}
				ctx := context.Background()
				b.SetBytes(int64(batch.Bytes))
				b.ReportAllocs()
				for b.Loop() {
					if err := f.Consume(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkRunnerDiscard(b *testing.B) {
	c := chunk64K()
	d := NewDiscard("null")
	in := make(chan *pipeline.Chunk, 64)
	r := NewRunner(d, in, RunnerOptions{Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	b.SetBytes(int64(len(c.Data)))
	b.ReportAllocs()
	for b.Loop() {
		in <- c
	}
	close(in)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
