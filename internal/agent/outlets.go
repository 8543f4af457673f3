package agent

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// outlet is one configured sink: its queue and the runner that drains it. A reload
// that changes the sink's settings swaps the sink inside the runner and keeps the
// queue, so what was queued for the old settings is delivered with the new ones.
type outlet struct {
	cfg    config.Sink
	in     chan *pipeline.Chunk
	runner *sink.Runner
	done   chan struct{} // closed when the runner's Run returned
}

// outletSet is the sinks every chunk read from now on is handed to. A reload publishes
// a new set; senders that picked up the old one finish with it (mu is read-held while
// sending) before the sinks only it had are retired.
type outletSet struct {
	mu      sync.RWMutex
	retired bool
	outs    []*outlet
}

// send hands a chunk to every sink of the current set, in order; it blocks while a
// sink's queue is full (backpressure) and gives up only when ctx is done, in which case
// the chunk is never fully acknowledged and its offsets are never committed.
func (a *Agent) send(ctx context.Context, c *pipeline.Chunk) error {
	for {
		set := a.outlets.Load()
		set.mu.RLock()
		if set.retired {
			set.mu.RUnlock()
			continue // a reload replaced it a moment ago
		}
		c.Retain(len(set.outs))
		for _, o := range set.outs {
			select {
			case o.in <- c:
			case <-ctx.Done():
				set.mu.RUnlock()
				return ctx.Err()
			}
		}
		set.mu.RUnlock()
		c.Done() // the sender's own reference
		return nil
	}
}

// newOutlet builds the sink of c and its runner; the runner is not started. cur are
// the running outlets (see buildFor).
func (a *Agent) newOutlet(c config.Sink, cur []*outlet) (*outlet, error) {
	s, err := a.buildFor(c, cur)
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", c.Name, err)
	}
	o := &outlet{cfg: c, in: make(chan *pipeline.Chunk, 64), done: make(chan struct{})}
	o.runner = sink.NewRunner(s, o.in, a.runnerOptions(c))
	return o, nil
}

func (a *Agent) runnerOptions(c config.Sink) sink.RunnerOptions {
	o := sink.RunnerOptions{
		MaxBytes:         int(c.Batch.MaxBytes),
		MaxWait:          c.Batch.MaxWait,
		Backoff:          sink.Backoff{Initial: c.Retry.InitialBackoff, Max: c.Retry.MaxBackoff},
		MaxRetryDuration: c.Retry.MaxDuration,
		ProbeInterval:    c.Retry.ProbeInterval,
		Logger:           a.log, // the runner adds "sink"
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = -1 // configured off (the runner's zero is its default)
	}
	if a.metrics != nil {
		o.Observe = a.metrics.SinkObserver(c.Name, c.Type)
	}
	return o
}

// start runs the outlet's runner until its queue is closed and drained, or ctx ends.
func (a *Agent) start(ctx context.Context, o *outlet) {
	a.sinksWG.Add(1)
	go func() {
		defer a.sinksWG.Done()
		defer close(o.done)
		_ = o.runner.Run(ctx)
	}()
}

// sinkPlan is what a reload does to the sinks.
type sinkPlan struct {
	keep    []*outlet  // unchanged, or changed and swapped in place (see swaps)
	swaps   []sinkSwap // changed settings: a new sink for an existing outlet
	added   []*outlet  // new names: start empty, receive what is read from now on
	removed []*outlet  // names no longer configured
	order   []*outlet  // the new set, in configuration order
}

type sinkSwap struct {
	o   *outlet
	cfg config.Sink
	s   sink.Sink
}

// planSinks builds the sinks a new configuration needs. Nothing running is touched; on
// error, whatever it built is closed.
func (a *Agent) planSinks(cur []*outlet, want []config.Sink) (*sinkPlan, error) {
	byName := map[string]*outlet{}
	for _, o := range cur {
		byName[o.cfg.Name] = o
	}
	p := &sinkPlan{}
	fail := func(err error) (*sinkPlan, error) {
		for _, s := range p.swaps {
			_ = s.s.Close(context.Background())
		}
		for _, o := range p.added {
			_ = o.runner.Sink().Close(context.Background())
		}
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range want {
		seen[c.Name] = true
		o, ok := byName[c.Name]
		switch {
		case !ok:
			no, err := a.newOutlet(c, cur)
			if err != nil {
				return fail(err)
			}
			p.added = append(p.added, no)
			p.order = append(p.order, no)
		case reflect.DeepEqual(o.cfg, c):
			p.keep = append(p.keep, o)
			p.order = append(p.order, o)
		default:
			s, err := a.buildFor(c, cur)
			if err != nil {
				return fail(fmt.Errorf("sink %q: %w", c.Name, err))
			}
			p.swaps = append(p.swaps, sinkSwap{o: o, cfg: c, s: s})
			p.keep = append(p.keep, o)
			p.order = append(p.order, o)
		}
	}
	for _, o := range cur {
		if !seen[o.cfg.Name] {
			p.removed = append(p.removed, o)
		}
	}
	return p, nil
}

// applySinks carries out a plan: swaps changed sinks in place, starts added ones,
// publishes the new set, and retires removed ones. A removed sink first has its sink
// replaced by a discard sink, so whatever was queued for it is acknowledged (it no
// longer holds back checkpoints), then its queue is closed once no sender can still
// be using the old set.
func (a *Agent) applySinks(ctx context.Context, p *sinkPlan) {
	for _, s := range p.swaps {
		a.log.Info("sink settings changed; new settings apply from the next batch, queued records are kept", "sink", s.cfg.Name)
		if a.metrics != nil && s.o.cfg.Type != s.cfg.Type {
			a.metrics.ForgetSink(s.o.cfg.Name, s.o.cfg.Type)
		}
		s.o.runner.Swap(s.s, a.runnerOptions(s.cfg))
		s.o.cfg = s.cfg
	}
	for _, o := range p.added {
		a.log.Info("sink added; it receives records read from now on", "sink", o.cfg.Name, "type", o.cfg.Type)
		a.start(ctx, o)
	}
	for _, o := range p.removed {
		a.log.Info("sink removed; records queued for it are dropped from it (other sinks keep theirs)", "sink", o.cfg.Name)
		o.runner.Swap(sink.NewDiscard(o.cfg.Name), sink.RunnerOptions{Logger: a.log})
	}
	old := a.outlets.Load()
	a.outlets.Store(&outletSet{outs: p.order})
	if len(p.removed) == 0 {
		// Senders still holding the old set only reach outlets the new one has too.
		return
	}
	a.retireWG.Add(1)
	go func() {
		defer a.retireWG.Done()
		a.retire(old, p.removed)
		for _, o := range p.removed {
			<-o.done
			if err := o.runner.Sink().Close(context.Background()); err != nil {
				a.log.Warn("closing removed sink", "sink", o.cfg.Name, "err", err)
			}
			if a.metrics != nil {
				a.metrics.ForgetSink(o.cfg.Name, o.cfg.Type)
			}
		}
	}()
}

// retire waits until no sender uses set any more, marks it retired and closes the
// queues of the outlets that are gone.
func (a *Agent) retire(set *outletSet, gone []*outlet) {
	set.mu.Lock()
	set.retired = true
	set.mu.Unlock()
	for _, o := range gone {
		close(o.in)
	}
}

// lazySink opens its sink at the first Consume. A reload uses it when the new sink
// writes the same file as a running one: the file must not be opened (and its tail
// inspected for a torn line) while the old sink may still be writing to it. The runner
// closes the old sink before the first Consume of the new one; if opening fails then,
// it is a failed delivery attempt, retried with backoff like any other.
type lazySink struct {
	name  string
	build func() (sink.Sink, error)
	s     sink.Sink
}

func (l *lazySink) Name() string { return l.name }

func (l *lazySink) Consume(ctx context.Context, b *pipeline.Batch) error {
	if l.s == nil {
		s, err := l.build()
		if err != nil {
			return err
		}
		l.s = s
	}
	return l.s.Consume(ctx, b)
}

func (l *lazySink) Close(ctx context.Context) error {
	if l.s == nil {
		return nil
	}
	return l.s.Close(ctx)
}

// buildFor builds the sink of c for a reload: lazily when a running sink writes the
// same path.
func (a *Agent) buildFor(c config.Sink, cur []*outlet) (sink.Sink, error) {
	if c.Path != "" {
		for _, o := range cur {
			if o.cfg.Path == c.Path {
				log := a.log.With("sink", c.Name)
				return &lazySink{name: c.Name, build: func() (sink.Sink, error) { return a.newSink(c, log) }}, nil
			}
		}
	}
	return a.newSink(c, a.log.With("sink", c.Name))
}
