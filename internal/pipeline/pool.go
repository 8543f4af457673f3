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
//
// With a budget, the pool keeps no more than the budget has free, so that buffers in
// flight and kept buffers together stay within about the budget: while a slow sink
// holds the whole budget the pool keeps nothing, and as acknowledgements free bytes it
// keeps the buffers the readers will need next. A pool that kept a fixed 16 MiB beside
// 16 MiB in flight put the Kafka sink's heap over pipeline.memory_limit, and the
// collector then ran continuously (about 500 cycles for 1M lines).
type Pool struct {
	mu     sync.Mutex
	chunks []*Chunk // recycled chunks, without buffers
	bufs   [poolClasses][][]byte
	held   int // capacity of the buffers in bufs
	maxCap int
	retain int
	budget *Budget // nil: retain alone bounds what is kept
}

// poolClasses bounds the size classes: class k holds capacities in [2^k, 2^(k+1)).
const poolClasses = 48

// scanDepth is how many buffers of the request's own class are looked at for one that
// is large enough before a larger class is used.
const scanDepth = 4

// NewPool returns a pool that keeps buffers of up to maxCap bytes, and at most 4 times
// maxCap bytes of them in all, and with budget not nil at most what budget has free.
func NewPool(maxCap int, budget *Budget) *Pool {
	return &Pool{maxCap: maxCap, retain: 4 * maxCap, budget: budget}
}

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
	limit := p.retain
	if p.budget != nil {
		limit = min(limit, int(p.budget.Free()))
	}
	if size > p.maxCap || size > limit {
		return
	}
	k := sizeClass(size)
	for small := 0; p.held+size > limit && small < k; {
		n := len(p.bufs[small])
		if n == 0 {
			small++
			continue
		}
		p.held -= cap(p.bufs[small][n-1])
		p.bufs[small][n-1] = nil
		p.bufs[small] = p.bufs[small][:n-1]
	}
	if p.held+size > limit {
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
