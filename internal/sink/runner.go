package sink

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
)

// Defaults for RunnerOptions.
const (
	DefaultMaxBytes = 4 << 20
	DefaultMaxWait  = 200 * time.Millisecond
	DefaultLogEvery = 10 * time.Second
	// DefaultProbeInterval is RunnerOptions.ProbeInterval's default.
	DefaultProbeInterval = time.Second
)

// RunnerOptions configures a Runner. Zero fields take their defaults.
type RunnerOptions struct {
	// MaxBytes flushes a batch before it would grow past this many bytes of chunk
	// Data (default 4 MiB). A single chunk larger than MaxBytes is a batch of its own.
	MaxBytes int
	// MaxWait flushes a non-empty batch once this long has passed since its first
	// chunk, even if more chunks keep arriving (default 200ms). See Runner for why a
	// batch never waits for more input while the input is idle.
	MaxWait time.Duration
	// Backoff is the retry policy (default DefaultBackoff).
	Backoff Backoff
	// ProbeInterval: while a batch waits out its backoff after a failure in which
	// the destination could not be connected to at all (a failed dial with an
	// address: connection refused, no route, a timeout; not a DNS failure, which has
	// none), the runner tries a bare TCP connection to the address that failed this
	// often, and retries the batch as soon as one succeeds. A
	// destination back from an outage is then used within about this long instead
	// of after up to Backoff.Max; failures with an answer (429, 5xx, a Kafka error
	// code) wait out their backoff as before. Default DefaultProbeInterval; negative
	// disables probing.
	ProbeInterval time.Duration
	// MaxRetryDuration, if positive, gives a batch up once it has kept failing for
	// this long: its records are counted as dropped (Stats.Dropped) and logged at
	// error level, and the batch is acknowledged so the files move on. Zero (the
	// default) retries for as long as it takes: the log files are the buffer.
	MaxRetryDuration time.Duration
	// Logger receives failure logs (default slog.Default()).
	Logger *slog.Logger
	// LogEvery rate-limits failure logs: the first failure is logged, then at most
	// one failure log per LogEvery, carrying the number suppressed (default 10s).
	LogEvery time.Duration

	// Observe, if not nil, is called after every Consume call with its duration and
	// result (metrics). It runs on the runner's goroutine and must be quick.
	Observe func(d time.Duration, err error)

	// Now and After replace time.Now and time.After (tests).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Stats are a Runner's counters.
type Stats struct {
	Records  uint64 // records acknowledged
	Bytes    uint64 // bytes of chunk Data acknowledged
	Batches  uint64 // successful Consume calls
	Retries  uint64 // Consume calls that repeated a batch after a failure
	Failures uint64 // failed Consume calls
	// PermanentFailures is the part of Failures whose error IsPermanent.
	PermanentFailures uint64
	// Dropped and DroppedBytes count the records (and their bytes) given up after
	// MaxRetryDuration.
	Dropped, DroppedBytes uint64
	// Counts are the sink's own counters, when it reports any (Counter).
	Counts   Counts
	InFlight int64 // chunks received from the input and not yet acknowledged

	LastError     string    // the last Consume error ("" if none yet)
	LastErrorAt   time.Time // when it happened
	LastSuccessAt time.Time // when Consume last succeeded
	// Healthy is true when the last Consume succeeded (or none was made yet).
	Healthy bool
}

// Runner drives one Sink: one goroutine (Run) takes chunks from an input channel,
// batches them, calls Consume until it succeeds and then acknowledges the chunks.
//
// Batching prefers latency: a batch is flushed as soon as the input channel is
// momentarily empty, when the next chunk would take it past MaxBytes, or when MaxWait
// has passed since its first chunk while input kept arriving. Waiting for more input
// while the input is idle would only add latency: throughput batching happens on its
// own, because chunks queue up in the channel while Consume (a write, an fsync, a
// request) is running, and the next batch takes all of them at once (group commit).
type Runner struct {
	sink    Sink
	in      <-chan *pipeline.Chunk
	observe func(time.Duration, error)

	// swap carries a replacement (Swap) to the Run goroutine; swapped wakes a retry
	// wait so the replacement is tried at once.
	swapMu   sync.Mutex
	swap     *replacement
	swapped  chan struct{}
	maxBytes int
	maxWait  time.Duration
	backoff  Backoff
	probe    time.Duration
	maxRetry time.Duration
	log      *slog.Logger
	logEvery time.Duration
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time

	inflight atomic.Int64

	mu sync.Mutex // guards st
	st Stats

	// used only by the Run goroutine
	lastLog    time.Time // last failure log
	suppressed int       // failure logs suppressed since lastLog
	streak     int       // consecutive failures of the current batch
	streakLog  bool      // a failure of the current streak was logged
}

// NewRunner returns a runner that feeds s from in.
func NewRunner(s Sink, in <-chan *pipeline.Chunk, o RunnerOptions) *Runner {
	r := &Runner{
		sink:     s,
		in:       in,
		maxBytes: o.MaxBytes,
		maxWait:  o.MaxWait,
		backoff:  o.Backoff.withDefaults(),
		probe:    o.ProbeInterval,
		maxRetry: o.MaxRetryDuration,
		log:      o.Logger,
		logEvery: o.LogEvery,
		now:      o.Now,
		after:    o.After,
		observe:  o.Observe,
		swapped:  make(chan struct{}, 1),
	}
	r.applyDefaults()
	r.log = r.log.With("sink", s.Name())
	r.st.Healthy = true
	return r
}

func (r *Runner) applyDefaults() {
	if r.maxBytes <= 0 {
		r.maxBytes = DefaultMaxBytes
	}
	if r.maxWait <= 0 {
		r.maxWait = DefaultMaxWait
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.logEvery <= 0 {
		r.logEvery = DefaultLogEvery
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.after == nil {
		r.after = time.After
	}
	if r.probe == 0 {
		r.probe = DefaultProbeInterval
	}
}

type replacement struct {
	sink Sink
	o    RunnerOptions
}

// Swap makes the runner deliver through s, with o's batching and backoff, from its
// next Consume call on; the chunks already queued or batched are kept and go to s, so
// nothing is lost or duplicated by the swap itself. The old sink is closed by the Run
// goroutine once it is no longer used (at once if Run has ended). Swap is how a
// configuration reload changes a sink in place; swapping in a Discard acknowledges
// what was queued for a sink being removed.
func (r *Runner) Swap(s Sink, o RunnerOptions) {
	r.swapMu.Lock()
	if r.swap != nil {
		_ = r.swap.sink.Close(context.Background()) // replaced before it was ever used
	}
	r.swap = &replacement{sink: s, o: o}
	r.swapMu.Unlock()
	select {
	case r.swapped <- struct{}{}:
	default:
	}
}

// takeSwap installs a pending replacement; only the Run goroutine calls it.
func (r *Runner) takeSwap() {
	r.swapMu.Lock()
	rep := r.swap
	r.swap = nil
	r.swapMu.Unlock()
	if rep == nil {
		return
	}
	old := r.sink
	o := rep.o
	r.sink, r.maxBytes, r.maxWait, r.backoff = rep.sink, o.MaxBytes, o.MaxWait, o.Backoff.withDefaults()
	r.maxRetry, r.probe = o.MaxRetryDuration, o.ProbeInterval
	if o.Logger != nil {
		r.log = o.Logger.With("sink", rep.sink.Name())
	}
	if o.Observe != nil {
		r.observe = o.Observe
	}
	r.applyDefaults()
	if err := old.Close(context.Background()); err != nil {
		r.log.Warn("closing the replaced sink", "err", err)
	}
}

// Sink returns the sink the runner currently delivers to (a pending Swap not yet
// taken is not reflected).
func (r *Runner) Sink() Sink {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	if r.swap != nil {
		return r.swap.sink
	}
	return r.sink
}

// Run consumes until in is closed and everything received has been consumed and
// acknowledged (it returns nil), or until ctx is done (it returns ctx.Err() without
// acknowledging the chunks not yet consumed: they were never accepted, so their
// offsets are not committed). Run must be called at most once.
func (r *Runner) Run(ctx context.Context) error {
	defer r.takeSwap() // a replacement that arrived at the end: the old sink is closed
	in := r.in
	var b pipeline.Batch
	var next *pipeline.Chunk // received, but did not fit the previous batch
	for {
		if next != nil {
			b.Add(next)
			next = nil
		} else {
			if in == nil {
				return nil
			}
			select {
			case c, ok := <-in:
				if !ok {
					return nil
				}
				if c == nil {
					continue
				}
				r.inflight.Add(1)
				b.Add(c)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		start := r.now()
	fill:
		for in != nil && b.Bytes < r.maxBytes {
			if r.now().Sub(start) >= r.maxWait {
				break
			}
			select {
			case c, ok := <-in:
				if !ok {
					in = nil
					break fill
				}
				if c == nil {
					continue
				}
				r.inflight.Add(1)
				if b.Bytes+len(c.Data) > r.maxBytes {
					next = c
					break fill
				}
				b.Add(c)
			default:
				break fill // input idle: flush now
			}
		}
		if err := r.flush(ctx, &b); err != nil {
			return err
		}
	}
}

// flush calls Consume until it succeeds (or, with MaxRetryDuration, until the batch
// is given up), then acknowledges b; it returns only ctx's error, leaving b
// unacknowledged.
func (r *Runner) flush(ctx context.Context, b *pipeline.Batch) error {
	var firstFailure time.Time
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.takeSwap()
		if attempt > 0 {
			r.mu.Lock()
			r.st.Retries++
			r.mu.Unlock()
		}
		t0 := r.now()
		err := r.sink.Consume(ctx, b)
		if r.observe != nil {
			r.observe(r.now().Sub(t0), err)
		}
		if err == nil {
			r.succeeded(b)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			// Most likely the cancellation itself made Consume fail; not a sink failure.
			return cerr
		}
		r.failed(err, b)
		if firstFailure.IsZero() {
			firstFailure = r.now()
		}
		if r.maxRetry > 0 && r.now().Sub(firstFailure) >= r.maxRetry {
			r.giveUp(err, b)
			return nil
		}
		if err := r.wait(ctx, r.backoff.Delay(attempt), err); err != nil {
			return err
		}
	}
}

// wait waits out a retry delay d after the failure failure. It returns early when
// the sink is swapped or, if failure was a failed dial, when a probe connects to the
// address it failed on (see RunnerOptions.ProbeInterval); it returns ctx's error only.
func (r *Runner) wait(ctx context.Context, d time.Duration, failure error) error {
	delay := r.after(d)
	addr := dialAddr(failure)
	var tick <-chan time.Time
	if addr != "" && r.probe > 0 && d > r.probe {
		tick = r.after(r.probe)
	}
	for {
		select {
		case <-delay:
			return nil
		case <-r.swapped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if probe(ctx, addr, r.probe) {
				r.log.Info("sink destination accepts connections again; retrying now", "addr", addr)
				return nil
			}
			tick = r.after(r.probe)
		}
	}
}

func (r *Runner) succeeded(b *pipeline.Batch) {
	chunks, records, bytes := len(b.Chunks), b.Records, b.Bytes
	b.Done()
	r.inflight.Add(-int64(chunks))
	now := r.now()
	r.mu.Lock()
	r.st.Records += uint64(records)
	r.st.Bytes += uint64(bytes)
	r.st.Batches++
	r.st.LastSuccessAt = now
	r.st.Healthy = true
	r.mu.Unlock()
	if r.streak > 0 {
		if r.streakLog { // stay quiet about streaks whose failures were all suppressed
			r.log.Info("sink recovered", "failed_attempts", r.streak)
		}
		r.streak, r.streakLog = 0, false
	}
}

// giveUp acknowledges a batch that kept failing for MaxRetryDuration, counting its
// records as dropped.
func (r *Runner) giveUp(err error, b *pipeline.Batch) {
	chunks, records, bytes := len(b.Chunks), b.Records, b.Bytes
	b.Done()
	r.inflight.Add(-int64(chunks))
	r.mu.Lock()
	r.st.Dropped += uint64(records)
	r.st.DroppedBytes += uint64(bytes)
	r.mu.Unlock()
	r.log.Error("sink kept failing for max_retry_duration; batch dropped",
		"err", err, "max_retry_duration", r.maxRetry.String(), "attempts", r.streak,
		"records", records, "bytes", bytes)
	r.streak, r.streakLog = 0, false
}

func (r *Runner) failed(err error, b *pipeline.Batch) {
	now := r.now()
	r.mu.Lock()
	r.st.Failures++
	if IsPermanent(err) {
		r.st.PermanentFailures++
	}
	r.st.LastError = err.Error()
	r.st.LastErrorAt = now
	r.st.Healthy = false
	r.mu.Unlock()
	r.streak++
	if !r.lastLog.IsZero() && now.Sub(r.lastLog) < r.logEvery {
		r.suppressed++
		return
	}
	level := slog.LevelWarn
	if IsPermanent(err) {
		level = slog.LevelError
	}
	r.log.Log(context.Background(), level, "sink consume failed; will retry",
		"err", err, "permanent", IsPermanent(err), "attempt", r.streak,
		"chunks", len(b.Chunks), "records", b.Records, "bytes", b.Bytes,
		"suppressed", r.suppressed)
	r.lastLog = now
	r.suppressed = 0
	r.streakLog = true
}

// Stats returns a snapshot of the counters. It is safe for concurrent use.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	s := r.st
	r.mu.Unlock()
	s.InFlight = r.inflight.Load()
	if c, ok := r.Sink().(Counter); ok {
		s.Counts = c.Counts()
	}
	return s
}
