package process

import (
	"sync"
	"time"

	"github.com/logferry/logferry/internal/podconfig"
)

// Limiter is a token bucket: a pod's lines or bytes per second, shared by the chains
// of the pod's containers. It is safe for concurrent use.
type Limiter struct {
	now   func() time.Time
	bytes bool    // the cost of a record is its message bytes, not 1
	rate  float64 // tokens per second
	burst float64 // bucket size

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter for r, with a full bucket. now is its clock (nil means
// time.Now). A limit of Bytes > 0 counts message bytes, else Lines > 0 counts records
// (one multiline group is one record); a limit with neither lets everything pass.
// Burst <= 0 means one second's worth (at least one line).
func NewLimiter(r podconfig.RateLimit, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{now: now, rate: r.Lines, burst: r.Burst}
	if r.Bytes > 0 {
		l.bytes, l.rate = true, r.Bytes
	}
	if l.burst <= 0 {
		l.burst = l.rate
		if !l.bytes {
			l.burst = max(l.burst, 1)
		}
	}
	l.tokens = l.burst
	l.last = now()
	return l
}

// Allow reports whether a record with an n-byte message may pass, and if so takes its
// cost from the bucket. A record costing more than the whole bucket passes when the
// bucket is full and leaves it in debt, so that a line longer than a byte burst is not
// dropped forever.
func (l *Limiter) Allow(n int) bool {
	if l.rate <= 0 {
		return true
	}
	cost := 1.0
	if l.bytes {
		cost = float64(n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.now(); t.After(l.last) {
		l.tokens = min(l.burst, l.tokens+t.Sub(l.last).Seconds()*l.rate)
		l.last = t
	}
	if l.tokens < min(cost, l.burst) {
		return false
	}
	l.tokens -= cost
	return true
}
