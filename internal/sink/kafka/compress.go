package kafka

import (
	"bytes"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxIdleEncoders bounds the encoders a compressor keeps: franz-go compresses on
// each broker connection's writer, so a few at once.
const maxIdleEncoders = 4

// kept is a bounded free list of encoders. franz-go's own compressor keeps its
// encoders in sync.Pools, which every garbage collection empties: under
// pipeline.memory_limit the collector runs often, and each cycle cost a new encoder
// per connection (zstd: about a megabyte of tables and history; lz4: two 4 MiB block
// buffers at franz-go's settings), garbage that made it run more often still.
// Measured (tools/bench, 1M lines): lz4 through franz-go's pool 41 MB/CPU-s, with
// 1.9 s of the agent's 5.9 CPU-s in the kernel returning and faulting memory.
type kept[E any] struct {
	mu    sync.Mutex
	idle  []E
	fresh func() E
}

func (k *kept[E]) get() E {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := len(k.idle); n > 0 {
		e := k.idle[n-1]
		k.idle = k.idle[:n-1]
		return e
	}
	return k.fresh()
}

func (k *kept[E]) put(e E) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.idle) < maxIdleEncoders {
		k.idle = append(k.idle, e)
	}
}

// zstdCompressor compresses produce batches with zstd at the fastest level. On the
// agent's records the fastest level compresses as well as the default one (ratio
// 4.39 against 4.38) in half the CPU time.
type zstdCompressor struct{ enc kept[*zstd.Encoder] }

func newZstdCompressor() *zstdCompressor {
	c := &zstdCompressor{}
	c.enc.fresh = func() *zstd.Encoder {
		// The options are franz-go's (window size, one goroutine, an empty frame
		// for empty input) with the level, and without zstd's own frame checksum:
		// the record batch carries a CRC-32C of the compressed bytes, which brokers
		// check, so a second checksum of the same data only cost time (12% of the
		// encoder's). They are valid: NewWriter cannot fail.
		e, _ := zstd.NewWriter(nil, zstd.WithWindowSize(64<<10), zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
		return e
	}
	return c
}

// Compress implements kgo.Compressor. Brokers too old for zstd (produce requests
// before version 7) get the batch uncompressed.
func (c *zstdCompressor) Compress(dst *bytes.Buffer, src []byte, flags ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	for _, f := range flags {
		if f == kgo.CompressDisableZstd {
			return src, kgo.CodecNone
		}
	}
	e := c.enc.get()
	defer c.enc.put(e)
	if n := e.MaxEncodedSize(len(src)); n > dst.Cap() {
		dst.Grow(n)
	}
	return e.EncodeAll(src, dst.Bytes()), kgo.CodecZstd
}

// streamWriter is an encoder that compresses a stream: lz4's and gzip's.
type streamWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// streamCompressor compresses produce batches with a kept stream encoder.
type streamCompressor[W streamWriter] struct {
	enc   kept[W]
	codec kgo.CompressionCodecType
}

// newLz4Compressor compresses with lz4 frames at the fastest level, in 64 KiB blocks
// (the Java client's size; franz-go's default is 4 MiB, a buffer that each batch of
// about a megabyte never fills).
func newLz4Compressor() *streamCompressor[*lz4.Writer] {
	return &streamCompressor[*lz4.Writer]{codec: kgo.CodecLz4, enc: kept[*lz4.Writer]{fresh: func() *lz4.Writer {
		w := lz4.NewWriter(nil)
		// Valid options: Apply cannot fail.
		_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4.Fast), lz4.ConcurrencyOption(1))
		return w
	}}}
}

// newGzipCompressor compresses with gzip at the fastest level (klauspost's, as the
// Elasticsearch sink's; franz-go's default level is 6).
func newGzipCompressor() *streamCompressor[*gzip.Writer] {
	return &streamCompressor[*gzip.Writer]{codec: kgo.CodecGzip, enc: kept[*gzip.Writer]{fresh: func() *gzip.Writer {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
		return w
	}}}
}

// Compress implements kgo.Compressor.
func (c *streamCompressor[W]) Compress(dst *bytes.Buffer, src []byte, _ ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	w := c.enc.get()
	defer c.enc.put(w)
	w.Reset(dst)
	if _, err := w.Write(src); err != nil {
		return nil, kgo.CodecError
	}
	if err := w.Close(); err != nil {
		return nil, kgo.CodecError
	}
	return dst.Bytes(), c.codec
}
