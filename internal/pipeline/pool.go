package pipeline

import (
	"math/bits"
	"slices"
	"sync"
)

// Pool recycles chunks and their buffers. It keeps at most a fixed total capacity of
// buffers (the retain budget), whatever the garbage collector does: a sync.Pool is
// emptied at every collection, and under a memory limit collections are frequent, so
// every chunk would grow its buffer from scratch again.
//
// Buffers are kept by size class (powers of two), and Grow hands out the smallest kept
// buffer that fits, so that chunks of a few lines and chunks of a whole read do not
// compete for the same buffers: a pool that recycled whatever was freed last kept
// handing small buffers to large reads, which then allocated (and zeroed) a new one
// every time. When the retain budget is full, smaller buffers make room for larger
// ones, which serve any request. Buffers larger than maxCap are never kept, so one
// giant line does not pin memory.
type Pool struct {
	mu     sync.Mutex
	chunks []*Chunk // recycled chunks, without buffers
	bufs   [poolClasses][][]byte
	held   int // capacity of the buffers in bufs
	maxCap int
	retain int
}

// poolClasses bounds the size classes: class k holds capacities in [2^k, 2^(k+1)).
const poolClasses = 48

// scanDepth is how many buffers of the request's own class are looked at for one that
// is large enough before a larger class is used.
const scanDepth = 4

// NewPool returns a pool that keeps buffers of up to maxCap bytes, and 4 times maxCap
// bytes of them in all. Measured (tools/bench, 1M lines): keeping 1 times maxCap made
// collection cost 60% more CPU (chunks grew their buffers from scratch again); 4 times
// costs no more RSS than sync.Pool under the default memory limit.
func NewPool(maxCap int) *Pool { return &Pool{maxCap: maxCap, retain: 4 * maxCap} }

// Get returns an empty chunk. Its Data may have no capacity: call Grow before writing
// a known amount, or let append grow it.
func (p *Pool) Get() *Chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.chunks); n > 0 {
		c := p.chunks[n-1]
		p.chunks[n-1] = nil
		p.chunks = p.chunks[:n-1]
		return c
	}
	return &Chunk{pool: p}
}

// Grow makes room for n more bytes in c.Data, from a kept buffer when one fits. The
// buffer c.Data had is kept for others, so c must not be shared yet (call it before
// Seal).
func (p *Pool) Grow(c *Chunk, n int) {
	need := len(c.Data) + n
	if need <= cap(c.Data) {
		return
	}
	p.mu.Lock()
	b := p.take(need)
	p.mu.Unlock()
	if b == nil {
		b = make([]byte, 0, roundSize(need))
	}
	b = append(b, c.Data...)
	old := c.Data
	c.Data = b
	if cap(old) > 0 {
		p.mu.Lock()
		p.keep(old[:0])
		p.mu.Unlock()
	}
}

func (p *Pool) put(c *Chunk) {
	b := c.Data[:0]
	*c = Chunk{links: c.links[:0], pool: p}
	p.mu.Lock()
	if cap(b) > 0 {
		p.keep(b)
	}
	if len(p.chunks) < maxKeptChunks {
		p.chunks = append(p.chunks, c)
	}
	p.mu.Unlock()
}

// maxKeptChunks bounds the recycled chunk structs (a few hundred bytes each).
const maxKeptChunks = 4096

// take removes and returns a kept buffer of at least need bytes, or nil. p.mu is held.
func (p *Pool) take(need int) []byte {
	k := sizeClass(need)
	if k >= poolClasses {
		return nil
	}
	// Buffers in need's own class may be smaller than need: look at the newest few.
	list := p.bufs[k]
	for i := len(list) - 1; i >= 0 && i >= len(list)-scanDepth; i-- {
		if b := list[i]; cap(b) >= need {
			p.bufs[k] = slices.Delete(list, i, i+1)
			p.held -= cap(b)
			return b
		}
	}
	for k++; k < poolClasses; k++ {
		if n := len(p.bufs[k]); n > 0 {
			b := p.bufs[k][n-1]
			p.bufs[k][n-1] = nil
			p.bufs[k] = p.bufs[k][:n-1]
			p.held -= cap(b)
			return b
		}
	}
	return nil
}

// keep keeps b if it fits the retain budget, evicting smaller buffers to make room.
// p.mu is held.
func (p *Pool) keep(b []byte) {
	size := cap(b)
	if size > p.maxCap || size > p.retain {
		return
	}
	k := sizeClass(size)
	for small := 0; p.held+size > p.retain && small < k; {
		n := len(p.bufs[small])
		if n == 0 {
			small++
			continue
		}
		p.held -= cap(p.bufs[small][n-1])
		p.bufs[small][n-1] = nil
		p.bufs[small] = p.bufs[small][:n-1]
	}
	if p.held+size > p.retain {
		return
	}
	p.bufs[k] = append(p.bufs[k], b)
	p.held += size
}

// sizeClass is floor(log2(n)) for n > 0.
func sizeClass(n int) int { return bits.Len(uint(n)) - 1 }

// roundSize rounds a new buffer's capacity up to a quarter step of its power of two
// (at most 25% more), so that buffers serve later requests of about the same size.
func roundSize(n int) int {
	if n <= 4096 {
		return 4096
	}
	step := 1 << (sizeClass(n) - 2)
	return (n + step - 1) &^ (step - 1)
}
