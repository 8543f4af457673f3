package tail

import "sync"

// readyQueue is a FIFO of groups with data to read. A group is in it at most once, so
// reading is fair: each group reads one quantum per turn, then goes to the back.
type readyQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*group
	closed bool
}

func newReadyQueue() *readyQueue {
	q := &readyQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push enqueues g unless it is already queued or being read.
func (q *readyQueue) push(g *group) {
	if !g.queued.CompareAndSwap(false, true) {
		g.again.Store(true) // being read or queued: read again after this turn
		return
	}
	q.mu.Lock()
	q.items = append(q.items, g)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop blocks until a group is ready or the queue is closed (nil).
func (q *readyQueue) pop() *group {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	g := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return g
}

func (q *readyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
