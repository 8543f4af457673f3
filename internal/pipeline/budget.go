package pipeline

import (
	"context"
	"sync"
)

// Budget bounds the bytes in flight between the readers and the sinks. Readers Acquire
// before they hand a chunk on, so a slow sink pauses reading instead of growing memory;
// nothing is ever dropped because of the budget.
type Budget struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{} // closed and replaced on every Release
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget {
	return &Budget{max: max, wake: make(chan struct{})}
}

// Acquire blocks until n bytes fit, or ctx is done. A single request larger than the
// whole budget is granted when nothing else is in flight, so it cannot deadlock.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used+n <= b.max || b.used == 0 {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release returns n bytes.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// InUse reports the bytes currently held.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Free reports the bytes not held (0 when a request larger than the budget is in).
func (b *Budget) Free() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, b.max-b.used)
}
