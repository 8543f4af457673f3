package pipeline

import (
	"context"
	"testing"
)

func TestPoolGrowReusesFittingBuffer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kept     []int // capacities released to the pool first
		need     int
		wantCap  int // capacity Grow hands out
		wantHeld int // bytes kept afterwards
	}{
		{"nothing kept: new buffer rounded up", nil, 5000, 5120, 0},
		{"smallest fitting class", []int{8192, 300 << 10, 64 << 10}, 40 << 10, 64 << 10, 8192 + 300<<10},
		{"own class, large enough", []int{48 << 10, 36 << 10}, 40 << 10, 48 << 10, 36 << 10},
		{"own class too small: next class", []int{36 << 10, 100 << 10}, 40 << 10, 100 << 10, 36 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(1<<20, nil)
			for _, c := range tc.kept {
				ch := p.Get()
				ch.Data = make([]byte, 0, c)
				ch.refs.Store(1)
				ch.Done()
			}
			c := p.Get()
			p.Grow(c, tc.need)
			if cap(c.Data) != tc.wantCap || p.held != tc.wantHeld {
				t.Fatalf("cap %d held %d; want cap %d held %d", cap(c.Data), p.held, tc.wantCap, tc.wantHeld)
			}
		})
	}
}

func TestPoolGrowKeepsContentAndOldBuffer(t *testing.T) {
	p := NewPool(1<<20, nil)
	c := p.Get()
	c.Data = append(make([]byte, 0, 4096), "hello"...)
	p.Grow(c, 10000)
	if string(c.Data) != "hello" || cap(c.Data) < 10005 {
		t.Fatalf("data %q cap %d", c.Data, cap(c.Data))
	}
	if p.held != 4096 {
		t.Fatalf("the replaced buffer was not kept: held %d", p.held)
	}
}

func TestPoolRetainBound(t *testing.T) {
	p := NewPool(64<<10, nil) // keeps 256 KiB at most
	release := func(size int) {
		c := p.Get()
		c.Data = make([]byte, 0, size)
		c.refs.Store(1)
		c.Done()
	}
	for range 64 {
		release(8 << 10) // 512 KiB of small buffers offered
	}
	if p.held != 256<<10 {
		t.Fatalf("held %d, want the retain bound 262144", p.held)
	}
	// Larger buffers push out smaller ones.
	release(64 << 10)
	if p.held > 256<<10 || len(p.bufs[sizeClass(64<<10)]) != 1 {
		t.Fatalf("large buffer not kept: held %d", p.held)
	}
	// Over maxCap: never kept.
	release(128 << 10)
	if len(p.bufs[sizeClass(128<<10)]) != 0 {
		t.Fatal("buffer over maxCap kept")
	}
}

func TestPoolKeepsNoMoreThanBudgetFree(t *testing.T) {
	b := NewBudget(100 << 10)
	p := NewPool(64<<10, b)
	release := func(size int) {
		c := p.Get()
		c.Data = make([]byte, 0, size)
		c.refs.Store(1)
		c.Done()
	}
	if err := b.Acquire(context.Background(), 90<<10); err != nil {
		t.Fatal(err)
	}
	release(16 << 10) // 10 KiB free: not kept
	if p.held != 0 {
		t.Fatalf("kept %d with 10 KiB of the budget free", p.held)
	}
	b.Release(90 << 10)
	release(16 << 10)
	if p.held != 16<<10 {
		t.Fatalf("kept %d with the budget free, want 16384", p.held)
	}
}
