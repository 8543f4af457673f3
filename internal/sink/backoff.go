package sink

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential retry policy with full jitter: the wait before retry n
// (n = 0 for the first retry) is uniform in [0, min(Max, Initial*Factor^n)). It never
// gives up. Zero fields take their defaults.
type Backoff struct {
	Initial time.Duration // default 100ms
	Max     time.Duration // default 30s
	Factor  float64       // default 2; values below 1 are treated as the default
}

// DefaultBackoff returns the policy used when RunnerOptions.Backoff is zero.
func DefaultBackoff() Backoff {
	return Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2}
}

func (b Backoff) withDefaults() Backoff {
	d := DefaultBackoff()
	if b.Initial <= 0 {
		b.Initial = d.Initial
	}
	if b.Max <= 0 {
		b.Max = d.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if !(b.Factor >= 1) { // also catches NaN
		b.Factor = d.Factor
	}
	return b
}

// Cap returns the upper bound of the wait before retry n.
func (b Backoff) Cap(n int) time.Duration {
	b = b.withDefaults()
	if n < 0 {
		n = 0
	}
	d := float64(b.Initial) * math.Pow(b.Factor, float64(n))
	if d >= float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		return b.Max
	}
	return time.Duration(d)
}

// Delay returns a random wait before retry n, uniform in [0, Cap(n)).
func (b Backoff) Delay(n int) time.Duration {
	return b.delay(n, rand.Float64())
}

// delay maps u in [0,1) onto [0, Cap(n)).
func (b Backoff) delay(n int, u float64) time.Duration {
	return time.Duration(u * float64(b.Cap(n)))
}
