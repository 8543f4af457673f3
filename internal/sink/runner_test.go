package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
)

// recSink records the batches it accepts. fail(call) decides whether call n (from 0)
// fails; onConsume, if set, runs first on every call.
type recSink struct {
	mu        sync.Mutex
	calls     int
	batches   [][]int // accepted batches: the byte size of each chunk
	data      strings.Builder
	fail      func(call int) error
	onConsume func(b *pipeline.Batch)
	onAccept  func(b *pipeline.Batch) // on success, before Consume returns
	consumed  chan struct{}           // if not nil, receives after every call
}

func (s *recSink) Name() string { return "rec" }

func (s *recSink) Consume(ctx context.Context, b *pipeline.Batch) error {
	if s.onConsume != nil {
		s.onConsume(b)
	}
	s.mu.Lock()
	call := s.calls
	s.calls++
	var err error
	if s.fail != nil {
		err = s.fail(call)
	}
	if err == nil {
		sizes := make([]int, len(b.Chunks))
		for i, c := range b.Chunks {
			sizes[i] = len(c.Data)
			s.data.Write(c.Data)
		}
		s.batches = append(s.batches, sizes)
	}
	s.mu.Unlock()
	if err == nil && s.onAccept != nil {
		s.onAccept(b)
	}
	if s.consumed != nil {
		s.consumed <- struct{}{}
	}
	return err
}

func (s *recSink) Close(context.Context) error { return nil }

func (s *recSink) snapshot() (calls int, batches [][]int, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, append([][]int(nil), s.batches...), s.data.String()
}

// feed returns a closed channel holding chunks of the given sizes (filled with whole
// records of 10 bytes, or one record when the size is not a multiple of 10).
func feed(sizes ...int) chan *pipeline.Chunk {
	in := make(chan *pipeline.Chunk, len(sizes))
	for _, n := range sizes {
		in <- newChunk(strings.Repeat("x", n-1) + "\n")
	}
	close(in)
	return in
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func batchBytes(batches [][]int) []int {
	out := make([]int, len(batches))
	for i, b := range batches {
		for _, n := range b {
			out[i] += n
		}
	}
	return out
}

func TestRunnerBatchesByBytes(t *testing.T) {
	tests := []struct {
		name     string
		sizes    []int
		maxBytes int
		want     []int // bytes per batch
	}{
		{"exact multiples", repeat(10, 100), 300, []int{300, 300, 300, 100}},
		{"next chunk would overflow", repeat(5, 100), 250, []int{200, 200, 100}},
		{"oversized chunk alone", []int{100, 1000, 100, 100}, 300, []int{100, 1000, 200}},
		{"all in one", repeat(5, 100), 1 << 20, []int{500}},
		{"default 4 MiB", repeat(9, 1<<20), 0, []int{4 << 20, 4 << 20, 1 << 20}},
		{"single chunk", []int{7}, 10, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &recSink{}
			clock := newFakeClock(0) // time stands still: only bytes and idleness flush
			r := NewRunner(s, feed(tt.sizes...), RunnerOptions{
				MaxBytes: tt.maxBytes, MaxWait: time.Hour, Now: clock.Now, Logger: quietLogger(),
			})
			if err := r.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			_, batches, _ := s.snapshot()
			if got := batchBytes(batches); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("batch bytes = %v, want %v", got, tt.want)
			}
			st := r.Stats()
			if st.Batches != uint64(len(tt.want)) || st.InFlight != 0 || st.Retries != 0 || !st.Healthy {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestRunnerBatchesByTime(t *testing.T) {
	// The input is never idle (40 chunks queued) and MaxBytes is far away: only
	// MaxWait ends a batch. Every Now advances the clock by 10ms, so a batch sees at
	// most MaxWait/10ms+1 chunks.
	tests := []struct {
		maxWait  time.Duration
		maxChunk int
	}{
		{50 * time.Millisecond, 6},
		{100 * time.Millisecond, 11},
		{time.Nanosecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.maxWait.String(), func(t *testing.T) {
			s := &recSink{}
			clock := newFakeClock(10 * time.Millisecond)
			const n = 40
			r := NewRunner(s, feed(repeat(n, 10)...), RunnerOptions{
				MaxWait: tt.maxWait, Now: clock.Now, Logger: quietLogger(),
			})
			if err := r.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			_, batches, _ := s.snapshot()
			total := 0
			for _, b := range batches {
				total += len(b)
				if len(b) > tt.maxChunk {
					t.Errorf("batch of %d chunks, want at most %d", len(b), tt.maxChunk)
				}
			}
			if total != n || len(batches) < n/tt.maxChunk {
				t.Errorf("%d chunks in %d batches", total, len(batches))
			}
		})
	}
}

func TestRunnerFlushesWhenInputIdle(t *testing.T) {
	// MaxWait is an hour and MaxBytes far away: a chunk alone must still be consumed
	// at once when nothing else is waiting.
	s := &recSink{consumed: make(chan struct{}, 10)}
	in := make(chan *pipeline.Chunk)
	r := NewRunner(s, in, RunnerOptions{MaxWait: time.Hour, Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for i := range 3 {
		in <- newChunk(record(i, 20))
		select {
		case <-s.consumed:
		case <-time.After(5 * time.Second):
			t.Fatalf("chunk %d not consumed while the input is idle", i)
		}
	}
	close(in)
	if err := waitErr(t, done, 5*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, batches, data := s.snapshot(); len(batches) != 3 || data != stream(0, 3, 20) {
		t.Errorf("batches %v, data %q", batches, data)
	}
}

// ackWorld is a file with a tracker and a budget; chunk i has safe offset (i+1)*100.
type ackWorld struct {
	tracker *pipeline.Tracker
	budget  *pipeline.Budget
	chunks  []*pipeline.Chunk

	mu        sync.Mutex
	committed []int64 // every onCommit
}

func newAckWorld(t *testing.T, n, consumers int) *ackWorld {
	w := &ackWorld{budget: pipeline.NewBudget(1 << 30)}
	w.tracker = pipeline.NewTracker(0, func(off int64) {
		w.mu.Lock()
		w.committed = append(w.committed, off)
		w.mu.Unlock()
	})
	for i := range n {
		c := newChunk(record(i, 50))
		if err := w.budget.Acquire(context.Background(), int64(len(c.Data))); err != nil {
			t.Fatal(err)
		}
		c.Seal(w.tracker, int64(i+1)*100, 0, w.budget, int64(len(c.Data)))
		c.Retain(consumers - 1)
		w.chunks = append(w.chunks, c)
	}
	return w
}

// index returns the index of chunk c in w.chunks.
func (w *ackWorld) index(c *pipeline.Chunk) int {
	for i, x := range w.chunks {
		if x == c {
			return i
		}
	}
	panic("unknown chunk")
}

func TestRunnerRetriesThenSucceeds(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		permanent bool
		maxBytes  int
	}{
		{"no failure", 0, false, 150},
		{"one failure", 1, false, 150},
		{"five failures", 5, false, 150},
		{"permanent errors are retried too", 3, true, 150},
		{"one chunk per batch", 4, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 20
			w := newAckWorld(t, n, 1)
			// Inside Consume nothing in the batch is acknowledged yet: the committed
			// offset must be at most the safe offset of the chunk before the batch.
			var violations atomic.Int32
			s := &recSink{
				fail: func(call int) error {
					if call < tt.failures {
						err := fmt.Errorf("boom %d", call)
						if tt.permanent {
							err = Permanent(err)
						}
						return err
					}
					return nil
				},
				onConsume: func(b *pipeline.Batch) {
					first := w.index(b.Chunks[0])
					if w.tracker.Committed() > int64(first)*100 {
						violations.Add(1)
					}
				},
			}
			var mu sync.Mutex
			var delays []time.Duration
			after := func(d time.Duration) <-chan time.Time {
				mu.Lock()
				delays = append(delays, d)
				mu.Unlock()
				return immediate(d)
			}
			in := make(chan *pipeline.Chunk, n)
			for _, c := range w.chunks {
				in <- c
			}
			close(in)
			r := NewRunner(s, in, RunnerOptions{MaxBytes: tt.maxBytes, After: after, Logger: quietLogger()})
			if err := r.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if v := violations.Load(); v != 0 {
				t.Errorf("%d batches saw an offset committed past them", v)
			}
			if got := w.tracker.Committed(); got != n*100 {
				t.Errorf("committed %d, want %d", got, n*100)
			}
			if w.tracker.Outstanding() != 0 || w.budget.InUse() != 0 {
				t.Errorf("outstanding %d, budget in use %d", w.tracker.Outstanding(), w.budget.InUse())
			}
			for i := 1; i < len(w.committed); i++ {
				if w.committed[i] <= w.committed[i-1] {
					t.Errorf("commits not increasing: %v", w.committed)
				}
			}
			_, _, data := s.snapshot()
			if data != stream(0, n, 50) {
				t.Errorf("accepted data differs from the input")
			}
			st := r.Stats()
			if st.Failures != uint64(tt.failures) || st.Retries != uint64(tt.failures) ||
				st.Records != n || st.Bytes != uint64(len(stream(0, n, 50))) || !st.Healthy || st.InFlight != 0 {
				t.Errorf("stats = %+v", st)
			}
			if tt.failures > 0 && (st.LastError == "" || st.LastErrorAt.IsZero()) {
				t.Errorf("last error not recorded: %+v", st)
			}
			if len(delays) != tt.failures {
				t.Errorf("%d backoff waits, want %d", len(delays), tt.failures)
			}
			b := DefaultBackoff()
			for i, d := range delays {
				if d < 0 || d >= b.Cap(i) && b.Cap(i) > 0 {
					t.Errorf("wait %d = %v, want in [0, %v)", i, d, b.Cap(i))
				}
			}
		})
	}
}

func TestRunnerAcknowledgesExactlyOnce(t *testing.T) {
	// Every chunk is sealed for two consumers: the runner and the test. If the
	// runner acknowledged a chunk twice, the tracker would commit it before the test
	// acknowledges it.
	const n = 50
	w := newAckWorld(t, n, 2)
	s := &recSink{fail: func(call int) error {
		if call%3 == 0 {
			return errors.New("flaky")
		}
		return nil
	}}
	in := make(chan *pipeline.Chunk)
	r := NewRunner(s, in, RunnerOptions{MaxBytes: 200, After: immediate, Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for _, c := range w.chunks {
		in <- c
	}
	close(in)
	if err := waitErr(t, done, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := w.tracker.Committed(); got != 0 {
		t.Fatalf("committed %d with the second consumer yet to acknowledge", got)
	}
	if got := w.tracker.Outstanding(); got != n {
		t.Fatalf("outstanding %d, want %d", got, n)
	}
	for i, c := range w.chunks {
		c.Done()
		if got := w.tracker.Committed(); got != int64(i+1)*100 {
			t.Fatalf("after acknowledging chunk %d: committed %d", i, got)
		}
	}
	if w.budget.InUse() != 0 {
		t.Errorf("budget in use %d", w.budget.InUse())
	}
}

func TestRunnerTwoSinksCommitOnlyWhatBothAccepted(t *testing.T) {
	// One file, two sinks, each with its own runner; one sink fails every other
	// call. Every commit may only cover chunks both sinks have accepted.
	const n = 200
	var mu sync.Mutex
	accepted := [2]map[int]bool{{}, {}}
	var bad atomic.Int32
	tracker := pipeline.NewTracker(0, func(off int64) {
		mu.Lock()
		defer mu.Unlock()
		for i := 0; int64(i+1)*100 <= off; i++ {
			if !accepted[0][i] || !accepted[1][i] {
				bad.Add(1)
			}
		}
	})
	budget := pipeline.NewBudget(1 << 30)
	chunks := make([]*pipeline.Chunk, n)
	index := map[*pipeline.Chunk]int{}
	for i := range chunks {
		c := newChunk(record(i, 50))
		if err := budget.Acquire(context.Background(), int64(len(c.Data))); err != nil {
			t.Fatal(err)
		}
		c.Seal(tracker, int64(i+1)*100, 0, budget, int64(len(c.Data)))
		c.Retain(1)
		chunks[i] = c
		index[c] = i
	}
	mk := func(k int, failEvery int) *recSink {
		return &recSink{
			fail: func(call int) error {
				if failEvery > 0 && call%failEvery == 0 {
					return errors.New("flaky")
				}
				return nil
			},
			onAccept: func(b *pipeline.Batch) {
				mu.Lock()
				for _, c := range b.Chunks {
					accepted[k][index[c]] = true
				}
				mu.Unlock()
			},
		}
	}
	ins := [2]chan *pipeline.Chunk{make(chan *pipeline.Chunk, 8), make(chan *pipeline.Chunk)}
	done := make(chan error, 2)
	for k, fe := range []int{2, 0} {
		r := NewRunner(mk(k, fe), ins[k], RunnerOptions{MaxBytes: 300, After: immediate, Logger: quietLogger()})
		go func() { done <- r.Run(context.Background()) }()
	}
	for _, c := range chunks {
		ins[0] <- c
		ins[1] <- c
	}
	close(ins[0])
	close(ins[1])
	for range 2 {
		if err := waitErr(t, done, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	if bad.Load() != 0 {
		t.Errorf("%d commits covered a chunk not accepted by both sinks", bad.Load())
	}
	if got := tracker.Committed(); got != n*100 || budget.InUse() != 0 {
		t.Errorf("committed %d (want %d), budget in use %d", got, n*100, budget.InUse())
	}
}

func TestRunnerCancel(t *testing.T) {
	tests := []struct {
		name     string
		fail     bool          // the sink always fails
		block    bool          // Consume blocks until ctx is done
		initial  time.Duration // backoff
		chunks   int
		failures uint64
	}{
		{"during backoff", true, false, time.Hour, 3, 1},
		{"during consume", false, true, time.Millisecond, 3, 0},
		{"while idle", false, false, time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAckWorld(t, tt.chunks, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			called := make(chan struct{}, 1)
			s := &recSink{}
			s.onConsume = func(*pipeline.Batch) {
				select {
				case called <- struct{}{}:
				default:
				}
				if tt.block {
					<-ctx.Done()
				}
			}
			s.fail = func(int) error {
				if tt.fail {
					return errors.New("down")
				}
				if tt.block {
					return ctx.Err()
				}
				return nil
			}
			in := make(chan *pipeline.Chunk, 10)
			for _, c := range w.chunks {
				in <- c
			}
			r := NewRunner(s, in, RunnerOptions{
				Backoff: Backoff{Initial: tt.initial, Max: tt.initial}, Logger: quietLogger(),
			})
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			if tt.chunks > 0 {
				<-called
				time.Sleep(10 * time.Millisecond) // let Run reach the backoff wait
			}
			start := time.Now()
			cancel()
			err := waitErr(t, done, 2*time.Second)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Run took %v to return after cancel", d)
			}
			if got := w.tracker.Committed(); got != 0 {
				t.Errorf("committed %d after cancel", got)
			}
			if got := w.tracker.Outstanding(); got != tt.chunks {
				t.Errorf("outstanding %d, want %d", got, tt.chunks)
			}
			st := r.Stats()
			if st.InFlight != int64(tt.chunks) || st.Failures != tt.failures || st.Batches != 0 {
				t.Errorf("stats = %+v", st)
			}
			if st.Healthy != (tt.failures == 0) {
				t.Errorf("healthy = %v", st.Healthy)
			}
		})
	}
}

func TestRunnerDrainsOnClose(t *testing.T) {
	const n = 2000
	w := newAckWorld(t, n, 1)
	s := &recSink{}
	in := make(chan *pipeline.Chunk, 16)
	r := NewRunner(s, in, RunnerOptions{MaxBytes: 1000, Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // Stats must be safe while Run runs
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = r.Stats()
			}
		}
	}()
	for _, c := range w.chunks {
		in <- c
	}
	close(in)
	err := waitErr(t, done, 10*time.Second)
	close(stop)
	readers.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, data := s.snapshot(); data != stream(0, n, 50) {
		t.Errorf("accepted data differs from the input")
	}
	if got := w.tracker.Committed(); got != n*100 || w.budget.InUse() != 0 {
		t.Errorf("committed %d, budget %d", got, w.budget.InUse())
	}
	if st := r.Stats(); st.Records != n || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRunnerLogsFailuresRateLimited(t *testing.T) {
	tests := []struct {
		name       string
		permanent  bool
		wantLevel  string
		wantLogged int    // failure lines
		wantSupp   string // suppressed count in the second line
	}{
		{"transient", false, "level=WARN", 2, "suppressed=3"},
		{"permanent", true, "level=ERROR", 2, "suppressed=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			clock := newFakeClock(0)
			// Six failures 3s apart, then success: logged at 3s; suppressed at 6, 9,
			// 12; logged at 15 with suppressed=3; suppressed at 18.
			s := &recSink{fail: func(call int) error {
				clock.Add(3 * time.Second)
				if call < 6 {
					if tt.permanent {
						return Permanent(errors.New("bad request"))
					}
					return errors.New("connection refused")
				}
				return nil
			}}
			r := NewRunner(s, feed(10), RunnerOptions{
				Now: clock.Now, After: immediate,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err := r.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var failed []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "sink consume failed") {
					failed = append(failed, l)
				}
			}
			if len(failed) != tt.wantLogged {
				t.Fatalf("%d failure lines, want %d:\n%s", len(failed), tt.wantLogged, logs.String())
			}
			for _, l := range failed {
				if !strings.Contains(l, tt.wantLevel) || !strings.Contains(l, "sink=rec") {
					t.Errorf("line %q: want %s and sink=rec", l, tt.wantLevel)
				}
			}
			if !strings.Contains(failed[0], "suppressed=0") || !strings.Contains(failed[1], tt.wantSupp) {
				t.Errorf("suppressed counts wrong:\n%s", strings.Join(failed, "\n"))
			}
			if !strings.Contains(logs.String(), "sink recovered") {
				t.Errorf("no recovery line:\n%s", logs.String())
			}
			if st := r.Stats(); st.Failures != 6 || st.Retries != 6 || !st.Healthy {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestRunnerSkipsNilChunks(t *testing.T) {
	in := make(chan *pipeline.Chunk, 3)
	in <- nil
	in <- newChunk("{}\n")
	in <- nil
	close(in)
	s := &recSink{}
	r := NewRunner(s, in, RunnerOptions{Logger: quietLogger()})
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, data := s.snapshot(); data != "{}\n" {
		t.Errorf("data %q", data)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"marked", Permanent(base), true},
		{"wrapped", fmt.Errorf("ctx: %w", Permanent(base)), true},
		{"joined", errors.Join(base, Permanent(base)), true},
		{"twice", Permanent(Permanent(base)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent = %v", got)
			}
			if tt.err != nil && !errors.Is(tt.err, base) {
				t.Errorf("does not unwrap to base")
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if Permanent(base).Error() != "base" {
		t.Error("message changed")
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		caps []time.Duration // Cap(0), Cap(1), ...
	}{
		{"defaults", Backoff{}, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}},
		{"capped", Backoff{Initial: time.Second, Max: 3 * time.Second, Factor: 2}, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"factor 3", Backoff{Initial: time.Millisecond, Max: time.Hour, Factor: 3}, []time.Duration{time.Millisecond, 3 * time.Millisecond, 9 * time.Millisecond}},
		{"bad factor", Backoff{Initial: time.Millisecond, Factor: 0.5}, []time.Duration{time.Millisecond, 2 * time.Millisecond}},
		{"max below initial", Backoff{Initial: time.Second, Max: time.Millisecond}, []time.Duration{time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n, want := range tt.caps {
				if got := tt.b.Cap(n); got != want {
					t.Errorf("Cap(%d) = %v, want %v", n, got, want)
				}
				for range 100 {
					if d := tt.b.Delay(n); d < 0 || d >= want {
						t.Fatalf("Delay(%d) = %v, want in [0, %v)", n, d, want)
					}
				}
				if d := tt.b.delay(n, 0.5); d != want/2 {
					t.Errorf("delay(%d, 0.5) = %v, want %v", n, d, want/2)
				}
			}
		})
	}
	if got := (Backoff{}).Cap(10000); got != 30*time.Second {
		t.Errorf("Cap(10000) = %v, want the 30s default maximum", got)
	}
}

// countingSink implements Counter on top of recSink.
type countingSink struct {
	*recSink
	counts Counts
}

func (s *countingSink) Counts() Counts { return s.counts }

func TestRunnerMaxRetryDuration(t *testing.T) {
	tests := []struct {
		name        string
		maxRetry    time.Duration
		failures    int // calls that fail before the sink recovers
		wantDropped uint64
		wantCalls   int
	}{
		// The clock advances 1s per Now; every attempt reads it a few times.
		{name: "forever by default", maxRetry: 0, failures: 50, wantDropped: 0, wantCalls: 51},
		{name: "recovers in time", maxRetry: time.Hour, failures: 5, wantDropped: 0, wantCalls: 6},
		{name: "gives up", maxRetry: 10 * time.Second, failures: 1000, wantDropped: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAckWorld(t, 3, 1)
			s := &countingSink{recSink: &recSink{fail: func(call int) error {
				if call < tt.failures {
					return errors.New("down")
				}
				return nil
			}}, counts: Counts{DeadLettered: 7}}
			in := make(chan *pipeline.Chunk, len(w.chunks))
			for _, c := range w.chunks {
				in <- c
			}
			close(in)
			clock := newFakeClock(time.Second)
			r := NewRunner(s, in, RunnerOptions{MaxBytes: 1 << 20, MaxWait: time.Hour, MaxRetryDuration: tt.maxRetry,
				Now: clock.Now, After: immediate, Logger: quietLogger()})
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := r.Stats()
			calls, batches, _ := s.snapshot()
			if st.Dropped != tt.wantDropped || st.InFlight != 0 {
				t.Fatalf("dropped %d in flight %d, want %d and 0 (calls %d)", st.Dropped, st.InFlight, tt.wantDropped, calls)
			}
			if tt.wantCalls != 0 && calls != tt.wantCalls {
				t.Fatalf("calls %d, want %d", calls, tt.wantCalls)
			}
			if tt.wantDropped > 0 && (len(batches) != 0 || st.DroppedBytes == 0) {
				t.Fatalf("dropped batch was also accepted (%v) or its bytes not counted (%d)", batches, st.DroppedBytes)
			}
			// Delivered or dropped, every chunk is acknowledged: the file moves on.
			w.mu.Lock()
			last := w.committed[len(w.committed)-1]
			w.mu.Unlock()
			if last != 300 {
				t.Fatalf("committed up to %d, want 300", last)
			}
			if st.Counts.DeadLettered != 7 {
				t.Fatalf("sink counts not reported: %+v", st.Counts)
			}
		})
	}
}
