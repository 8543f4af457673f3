package tail

import (
	"log/slog"
	"sync"
	"time"
)

// limitedLogger logs the first occurrence of each kind of problem and then at most once
// per interval, reporting how many were suppressed in between. Counters see them all.
type limitedLogger struct {
	l        *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	dropped  map[string]int
}

func newLimitedLogger(l *slog.Logger, interval time.Duration) *limitedLogger {
	return &limitedLogger{l: l, interval: interval, last: map[string]time.Time{}, dropped: map[string]int{}}
}

// Warn logs msg at warn level unless a message of the same kind was logged within the
// interval.
func (r *limitedLogger) Warn(kind, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	if t, ok := r.last[kind]; ok && now.Sub(t) < r.interval {
		r.dropped[kind]++
		r.mu.Unlock()
		return
	}
	n := r.dropped[kind]
	r.last[kind] = now
	r.dropped[kind] = 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	r.l.Warn(msg, args...)
}
