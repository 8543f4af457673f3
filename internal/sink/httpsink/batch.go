// Package httpsink holds what the HTTP batch sinks (elastic, loki) share: their
// common Options and the Client built from them, the records of a batch, the state
// kept for a batch that failed part-way, the dead-letter file and its lines, and
// the HTTP client's settings (TLS, credentials read from files).
package httpsink

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"github.com/logferry/logferry/internal/pipeline"
)

// Rec locates one record of a batch: chunk index and byte range (without '\n').
type Rec struct {
	Chunk      int32
	Start, End int32
	// Group is the sink's own (Loki: the record's tenant); Split leaves it 0.
	Group int32
}

// Data returns the record's bytes in b.
func (r Rec) Data(b *pipeline.Batch) []byte { return b.Chunks[r.Chunk].Data[r.Start:r.End] }

// Split appends the records of b: its non-empty lines, chunk by chunk.
func Split(dst []Rec, b *pipeline.Batch) []Rec {
	for ci, c := range b.Chunks {
		d := c.Data
		for start := 0; start < len(d); {
			end := bytes.IndexByte(d[start:], '\n')
			next := 0
			if end < 0 {
				end = len(d)
				next = end
			} else {
				end += start
				next = end + 1
			}
			if end > start {
				dst = append(dst, Rec{Chunk: int32(ci), Start: int32(start), End: int32(end)})
			}
			start = next
		}
	}
	return dst
}

// Retry is what is left of a batch after a failed Consume: the records still
// pending and the dead-letter lines not yet written. It is used only when the next
// Consume gets the very same batch (the same chunks, with the same sizes and
// bytes, checked with a hash); any other batch starts from scratch, which is always
// safe: it resends everything (at least once), it never skips a record.
//
// The zero value keeps nothing. A Retry is not safe for concurrent use.
type Retry struct {
	seed   maphash.Seed
	seeded bool
	kept   *kept
}

type kept struct {
	b       *pipeline.Batch
	chunks  []*pipeline.Chunk
	sizes   []int
	sum     uint64
	pending []Rec
	dead    DeadLines
}

// Keep saves what is left of b (pending is copied) for the next Take, replacing
// what was kept before.
func (r *Retry) Keep(b *pipeline.Batch, pending []Rec, dead DeadLines) {
	if !r.seeded {
		r.seed, r.seeded = maphash.MakeSeed(), true
	}
	k := &kept{b: b, pending: append([]Rec(nil), pending...), dead: dead, sum: r.sum(b)}
	for _, c := range b.Chunks {
		k.chunks = append(k.chunks, c)
		k.sizes = append(k.sizes, len(c.Data))
	}
	r.kept = k
}

// Take returns what Keep saved if b is the very same batch, and ok; in any case
// it forgets what was kept.
func (r *Retry) Take(b *pipeline.Batch) (pending []Rec, dead DeadLines, ok bool) {
	k := r.kept
	r.kept = nil
	if k == nil || !r.same(k, b) {
		return nil, DeadLines{}, false
	}
	return k.pending, k.dead, true
}

// Clear forgets what was kept.
func (r *Retry) Clear() { r.kept = nil }

func (r *Retry) same(k *kept, b *pipeline.Batch) bool {
	if k.b != b || len(k.chunks) != len(b.Chunks) {
		return false
	}
	for i, c := range b.Chunks {
		if k.chunks[i] != c || k.sizes[i] != len(c.Data) {
			return false
		}
	}
	return k.sum == r.sum(b)
}

func (r *Retry) sum(b *pipeline.Batch) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for _, c := range b.Chunks {
		h.Write(c.Data)
	}
	return h.Sum64()
}

// StatusError is a request answered with an HTTP error status.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg) }
