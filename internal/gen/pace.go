package gen

import (
	"context"
	"time"
)

// pacer spaces one container's lines so that the node writes Rate lines a second.
type pacer struct {
	interval time.Duration
	next     time.Time
	timer    *time.Timer
}

// newPacer paces one of total containers (the idx-th, for a staggered start).
func newPacer(rate float64, total, idx int, start time.Time) *pacer {
	if rate <= 0 {
		return nil
	}
	iv := time.Duration(float64(total) / rate * float64(time.Second))
	if iv <= 0 {
		return nil
	}
	return &pacer{interval: iv, next: start.Add(iv * time.Duration(idx) / time.Duration(total))}
}

// wait blocks until n more lines are due. It returns false if ctx ended.
func (p *pacer) wait(ctx context.Context, n int) bool {
	now := time.Now()
	if now.Sub(p.next) > time.Second {
		p.next = now // do not burst to catch up after a stall
	}
	if d := p.next.Sub(now); d > 500*time.Microsecond {
		if p.timer == nil {
			p.timer = time.NewTimer(d)
		} else {
			p.timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			p.timer.Stop()
			return false
		case <-p.timer.C:
		}
	}
	p.next = p.next.Add(p.interval * time.Duration(n))
	return ctx.Err() == nil
}
