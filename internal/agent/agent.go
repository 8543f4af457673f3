// Package agent builds the collection graph from a configuration and runs it:
// discovery → readers → sinks, with acknowledgements flowing back into the checkpoint
// store. Sinks start first and stop last; readers start last and stop first.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/tail"
)

// Agent is one running collection graph.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *checkpoint.Store
	budget  *pipeline.Budget
	sinks   []sink.Sink
	inputs  []chan *pipeline.Chunk
	runners []*sink.Runner
	tails   *tail.Manager
	watch   *discover.Watcher

	// CheckpointErrors counts failed checkpoint writes; CorruptCheckpoints counts stores
	// set aside at start.
	CheckpointErrors   atomic.Int64
	CorruptCheckpoints atomic.Int64
	// DiscoveryErrors counts the problems discovery reported (a root that is not a
	// directory, an unreadable directory, a failed watch); each is also logged.
	DiscoveryErrors atomic.Int64

	abortOnce sync.Once
	abort     chan struct{}
}

// Options carries what the configuration does not: where logs go and how sinks are
// built (tests and benchmarks add their own).
type Options struct {
	Logger *slog.Logger
	// NewSink builds a sink from its configuration; nil uses BuildSink.
	NewSink func(c config.Sink, log *slog.Logger) (sink.Sink, error)
}

// New builds the graph without starting anything but the sinks' resources (files are
// opened so a bad sink path fails here, before any reading starts).
func New(cfg *config.Config, o Options) (*Agent, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NewSink == nil {
		o.NewSink = BuildSink
	}
	a := &Agent{cfg: cfg, log: o.Logger, abort: make(chan struct{})}
	store, err := checkpoint.Open(cfg.DataDir)
	if errors.Is(err, checkpoint.ErrCorrupt) {
		a.CorruptCheckpoints.Add(1)
		a.log.Error("checkpoint store was corrupt; set aside, reading restarts from the start of every file (duplicates possible, nothing lost)", "err", err)
	} else if err != nil {
		return nil, err
	}
	a.store = store
	a.budget = pipeline.NewBudget(int64(cfg.Pipeline.MaxBufferBytes))
	for _, sc := range cfg.Sinks {
		s, err := o.NewSink(sc, a.log.With("sink", sc.Name))
		if err != nil {
			a.closeSinks(context.Background())
			return nil, fmt.Errorf("sink %q: %w", sc.Name, err)
		}
		in := make(chan *pipeline.Chunk, 64)
		a.sinks = append(a.sinks, s)
		a.inputs = append(a.inputs, in)
		a.runners = append(a.runners, sink.NewRunner(s, in, sink.RunnerOptions{
			MaxBytes: int(sc.Batch.MaxBytes),
			MaxWait:  sc.Batch.MaxWait,
			Logger:   a.log.With("sink", sc.Name),
		}))
	}
	src := cfg.Sources
	a.tails = tail.New(tail.Options{
		MaxLineBytes:        int(src.MaxLineBytes),
		MaxMergedBytes:      int(src.MaxMergedBytes),
		PartialFlushTimeout: src.PartialFlushTimeout,
		PollInterval:        src.PollInterval,
		DeletedBudget:       int64(src.DeletedBudget),
		ReadQuantum:         int(cfg.Pipeline.ReadQuantum),
		Workers:             cfg.Pipeline.Workers,
		ReadFromEnd:         src.ReadFrom == "end",
		Exclude:             src.Exclude,
		Store:               a.store,
		Budget:              a.budget,
		Pool:                pipeline.NewPool(4 << 20),
		Consumers:           len(a.sinks),
		Send:                a.send,
		Logger:              a.log,
	})
	w, err := discover.New(discover.Options{
		PodsDir:        src.PodsDir,
		DockerDir:      src.DockerDir,
		RescanInterval: src.RescanInterval,
		Logger:         a.log,
		OnError: func(reason string, err error) {
			a.DiscoveryErrors.Add(1)
			a.log.Warn("discovery problem", "reason", reason, "err", err)
		},
	}, a.tails)
	if err != nil {
		a.closeSinks(context.Background())
		return nil, err
	}
	a.watch = w
	return a, nil
}

// BuildSink builds the sinks this package knows: stdout, file, discard.
func BuildSink(c config.Sink, log *slog.Logger) (sink.Sink, error) {
	switch c.Type {
	case "stdout":
		return sink.NewStdout()
	case "discard":
		return sink.NewDiscard(c.Name), nil
	case "file":
		fsync := true
		if c.Fsync != nil {
			fsync = *c.Fsync
		}
		return sink.NewFile(c.Name, sink.FileOptions{
			Path:     c.Path,
			MaxSize:  int64(c.MaxSize),
			MaxFiles: c.MaxFiles,
			Fsync:    fsync,
			Logger:   log,
		})
	}
	return nil, fmt.Errorf("unknown sink type %q", c.Type)
}

// send hands a chunk to every sink, in order; it blocks while a sink's queue is full
// (backpressure) and gives up only when ctx is done, in which case the chunk is never
// fully acknowledged and its offsets are never committed.
func (a *Agent) send(ctx context.Context, c *pipeline.Chunk) error {
	for _, in := range a.inputs {
		select {
		case in <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Tails exposes the reader manager (status and counters).
func (a *Agent) Tails() *tail.Manager { return a.tails }

// Runners exposes the sink runners (status and counters).
func (a *Agent) Runners() []*sink.Runner { return a.runners }

// Abort ends a graceful shutdown at once (a second signal): sinks stop without draining.
// Checkpoints still hold only acknowledged offsets.
func (a *Agent) Abort() { a.abortOnce.Do(func() { close(a.abort) }) }

// Run collects until ctx is done, then shuts down gracefully: reading stops, the sinks
// drain what is in flight within the shutdown deadline (or until Abort), checkpoints are
// written, and Run returns. It returns an error only if the final checkpoint write failed.
func (a *Agent) Run(ctx context.Context) error {
	// Sinks first: they must be ready before anything is read.
	sinkCtx, stopSinks := context.WithCancel(context.Background())
	defer stopSinks()
	var sinksWG sync.WaitGroup
	for _, r := range a.runners {
		sinksWG.Add(1)
		go func() {
			defer sinksWG.Done()
			_ = r.Run(sinkCtx)
		}()
	}

	// Checkpoints are written on a timer while running.
	cpDone := make(chan struct{})
	cpStop := make(chan struct{})
	go func() {
		defer close(cpDone)
		t := time.NewTicker(a.cfg.Checkpoint.Interval)
		defer t.Stop()
		for {
			select {
			case <-cpStop:
				return
			case <-t.C:
				a.syncCheckpoints()
			}
		}
	}()

	// Readers and discovery last.
	var readWG sync.WaitGroup
	readWG.Add(2)
	go func() {
		defer readWG.Done()
		_ = a.tails.Run(ctx)
	}()
	go func() {
		defer readWG.Done()
		_ = a.watch.Run(ctx)
	}()
	a.log.Info("agent started", "pods_dir", a.cfg.Sources.PodsDir, "docker_dir", a.cfg.Sources.DockerDir,
		"data_dir", a.cfg.DataDir, "sinks", len(a.sinks), "checkpoints", a.store.Len())

	<-ctx.Done()
	start := time.Now()
	a.log.Info("shutting down: reading stopped, draining sinks", "deadline", a.cfg.Shutdown.Deadline.String())
	readWG.Wait()
	for _, in := range a.inputs {
		close(in)
	}
	drained := make(chan struct{})
	go func() {
		sinksWG.Wait()
		close(drained)
	}()
	deadline := time.NewTimer(a.cfg.Shutdown.Deadline)
	defer deadline.Stop()
	select {
	case <-drained:
		a.log.Info("sinks drained", "took", time.Since(start).Round(time.Millisecond).String())
	case <-deadline.C:
		a.log.Warn("shutdown deadline reached before the sinks drained; unacknowledged records will be read again at the next start")
		stopSinks()
		<-drained
	case <-a.abort:
		a.log.Warn("aborting shutdown: unacknowledged records will be read again at the next start")
		stopSinks()
		<-drained
	}
	close(cpStop)
	<-cpDone
	a.closeSinks(context.Background())
	if err := a.store.Sync(); err != nil {
		return fmt.Errorf("final checkpoint write: %w", err)
	}
	a.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func (a *Agent) syncCheckpoints() {
	if err := a.store.Sync(); err != nil {
		a.CheckpointErrors.Add(1)
		a.log.Error("checkpoint write failed; offsets stay in memory and are retried", "err", err)
	}
}

func (a *Agent) closeSinks(ctx context.Context) {
	for _, s := range a.sinks {
		if err := s.Close(ctx); err != nil {
			a.log.Warn("closing sink", "sink", s.Name(), "err", err)
		}
	}
}

// Store exposes the checkpoint store (status).
func (a *Agent) Store() *checkpoint.Store { return a.store }
