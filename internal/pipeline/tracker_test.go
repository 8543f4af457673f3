package pipeline

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

func TestTrackerCommitsContiguousPrefix(t *testing.T) {
	tests := []struct {
		name  string
		safes []int64 // one chunk each
		acks  []int   // indexes acknowledged, in order
		want  []int64 // committed after each ack
	}{
		{"in order", []int64{10, 20, 30}, []int{0, 1, 2}, []int64{10, 20, 30}},
		{"out of order waits for the head", []int64{10, 20, 30}, []int{2, 1, 0}, []int64{0, 0, 30}},
		{"middle first", []int64{10, 20, 30}, []int{1, 0, 2}, []int64{0, 20, 30}},
		{"duplicate ack ignored", []int64{10, 20}, []int{0, 0, 1}, []int64{10, 10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var commits []int64
			tr := NewTracker(0, func(o int64) { commits = append(commits, o) })
			var seqs []uint64
			for _, s := range tt.safes {
				seqs = append(seqs, tr.Add(s, 0))
			}
			for i, a := range tt.acks {
				tr.Done(seqs[a])
				if got := tr.Committed(); got != tt.want[i] {
					t.Fatalf("after ack %d: committed %d, want %d", a, got, tt.want[i])
				}
			}
			for i := 1; i < len(commits); i++ {
				if commits[i] <= commits[i-1] {
					t.Fatalf("commits not increasing: %v", commits)
				}
			}
		})
	}
}

func TestTrackerAdvanceAndReset(t *testing.T) {
	tr := NewTracker(5, nil)
	tr.Advance(8) // nothing outstanding: commits at once
	if tr.Committed() != 8 {
		t.Fatalf("committed %d", tr.Committed())
	}
	s := tr.Add(20, 0)
	tr.Advance(25) // behind an outstanding chunk: waits
	if tr.Committed() != 8 {
		t.Fatalf("committed %d before ack", tr.Committed())
	}
	tr.Done(s)
	if tr.Committed() != 25 {
		t.Fatalf("committed %d after ack, want 25", tr.Committed())
	}
	s2 := tr.Add(40, 0)
	tr.Reset(0)
	tr.Done(s2) // forgotten by Reset
	if tr.Committed() != 0 || tr.Outstanding() != 0 {
		t.Fatalf("after reset: committed %d outstanding %d", tr.Committed(), tr.Outstanding())
	}
}

// The committed offset never passes the safe offset of an unacknowledged chunk, whatever
// the acknowledgement order.
func TestTrackerNeverAheadOfAcks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		tr := NewTracker(0, nil)
		n := 1 + r.IntN(50)
		seqs := make([]uint64, n)
		safes := make([]int64, n)
		for i := range seqs {
			safes[i] = int64(i+1) * 10
			seqs[i] = tr.Add(safes[i], 0)
		}
		acked := make([]bool, n)
		for _, i := range r.Perm(n) {
			tr.Done(seqs[i])
			acked[i] = true
			first := 0
			for first < n && acked[first] {
				first++
			}
			want := int64(0)
			if first > 0 {
				want = safes[first-1]
			}
			if got := tr.Committed(); got != want {
				t.Fatalf("round %d: committed %d, want %d", round, got, want)
			}
		}
	}
}

func TestChunkDoneReleasesOnLastConsumer(t *testing.T) {
	b := NewBudget(100)
	if err := b.Acquire(context.Background(), 60); err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(0, nil)
	p := NewPool(1<<10, nil)
	c := p.Get()
	c.Data = append(c.Data, "x\n"...)
	c.Seal(tr, 42, 0, b, 60)
	c.Retain(1)
	c.Done()
	if tr.Committed() != 0 || b.InUse() != 60 {
		t.Fatalf("first of two consumers must not release: committed %d in use %d", tr.Committed(), b.InUse())
	}
	c.Done()
	if tr.Committed() != 42 || b.InUse() != 0 {
		t.Fatalf("after both: committed %d in use %d", tr.Committed(), b.InUse())
	}
}

func TestBudgetBlocksAndWakes(t *testing.T) {
	b := NewBudget(10)
	ctx := context.Background()
	if err := b.Acquire(ctx, 8); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx, 5) }()
	select {
	case <-got:
		t.Fatal("acquire beyond the budget did not block")
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(8)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A request larger than the budget passes when nothing else is held.
	b.Release(5)
	if err := b.Acquire(ctx, 50); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Acquire(cctx, 1); err == nil {
		t.Fatal("acquire with a cancelled context must fail while the budget is full")
	}
}
