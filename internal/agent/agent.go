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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/kube"
	"github.com/logferry/logferry/internal/metrics"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/elastic"
	"github.com/logferry/logferry/internal/sink/kafka"
	"github.com/logferry/logferry/internal/sink/loki"
	"github.com/logferry/logferry/internal/tail"
)

// Agent is one running collection graph.
type Agent struct {
	cfg       atomic.Pointer[config.Config] // the running configuration (reload swaps it)
	log       *slog.Logger
	store     *checkpoint.Store
	budget    *pipeline.Budget
	outlets   atomic.Pointer[outletSet]
	tails     *tail.Manager
	watch     *discover.Watcher
	newSink   func(c config.Sink, log *slog.Logger) (sink.Sink, error)
	metrics   *metrics.Metrics // nil without a registry
	kube      *kube.Cache      // nil when Kubernetes metadata is off
	pods      *podSettings     // per-pod settings; nil when metadata is off
	events    *kube.Events     // nil when metadata is off
	procStats process.Stats
	onLevel   func(string) error

	started time.Time
	// alive is the last time the collection loop (the checkpoint ticker, which also
	// checks the readers' heartbeat) went round; see Alive.
	alive atomic.Int64

	running   atomic.Bool // sinks started (Ready)
	reloadMu  sync.Mutex  // serializes Reload and shutdown
	stopping  bool
	sinkCtx   context.Context
	sinksWG   sync.WaitGroup
	retireWG  sync.WaitGroup
	runCtx    context.Context
	cfgStatus configStatus

	cpMu        sync.Mutex
	cpLastWrite time.Time
	cpLastErr   string

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
	// Registry, if not nil, gets the agent's metrics (see package metrics).
	Registry prometheus.Registerer
	// Version labels logferry_build_info.
	Version string
	// ConfigPath is shown in the status ("" when configured by flags alone).
	ConfigPath string
	// SetLogLevel, if not nil, is called with log.level at every reload.
	SetLogLevel func(level string) error
	// KubeClient, if not nil, is used for pod metadata instead of building one from
	// the configuration (tests), and turns metadata on.
	KubeClient kube.Client
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
	a := &Agent{log: o.Logger, abort: make(chan struct{}), newSink: o.NewSink, onLevel: o.SetLogLevel, started: time.Now()}
	a.cfg.Store(cfg)
	a.cfgStatus.path = o.ConfigPath
	a.cfgStatus.loadedAt = a.started
	a.alive.Store(a.started.UnixNano())
	store, err := checkpoint.Open(cfg.DataDir)
	if errors.Is(err, checkpoint.ErrCorrupt) {
		a.CorruptCheckpoints.Add(1)
		a.log.Error("checkpoint store was corrupt; set aside, reading restarts from the start of every file (duplicates possible, nothing lost)", "err", err)
	} else if err != nil {
		return nil, err
	}
	a.store = store
	a.budget = pipeline.NewBudget(int64(cfg.Pipeline.MaxBufferBytes))
	if o.Registry != nil {
		a.metrics = metrics.New(o.Registry, o.Version, a.metricsSnapshot)
	}
	plan, err := a.planSinks(nil, cfg.Sinks)
	if err != nil {
		return nil, err
	}
	a.outlets.Store(&outletSet{outs: plan.order})
	if err := a.setupKube(cfg, o); err != nil {
		a.closeSinks(context.Background())
		return nil, err
	}
	var meta func(string, string) (*tail.PodView, uint64, bool)
	if a.kube != nil {
		if err := a.setupPods(cfg); err != nil {
			a.closeSinks(context.Background())
			return nil, err
		}
		meta = a.podView
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
		Pool:                pipeline.NewPool(4<<20, a.budget),
		Send:                a.send,
		Metadata:            meta,
		ProcessStats:        &a.procStats,
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

// Metrics returns the agent's event metrics (nil without Options.Registry).
func (a *Agent) Metrics() *metrics.Metrics { return a.metrics }

// Config returns the running configuration. It must not be modified.
func (a *Agent) Config() *config.Config { return a.cfg.Load() }

// BuildSink builds the sinks this package knows: stdout, file, discard.
func BuildSink(c config.Sink, log *slog.Logger) (sink.Sink, error) {
	switch c.Type {
	case "stdout":
		return sink.NewStdout()
	case "discard":
		return sink.NewDiscard(c.Name), nil
	case "kafka":
		return kafka.FromConfig(c.Name, c.Kafka, log)
	case "elasticsearch":
		return elastic.FromConfig(c.Name, c.Elasticsearch, log)
	case "loki":
		return loki.FromConfig(c.Name, c.Loki, log)
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

// Tails exposes the reader manager (status and counters).
func (a *Agent) Tails() *tail.Manager { return a.tails }

// Runners exposes the sink runners of the current configuration (status and counters).
func (a *Agent) Runners() []*sink.Runner {
	var out []*sink.Runner
	for _, o := range a.outlets.Load().outs {
		out = append(out, o.runner)
	}
	return out
}

// Abort ends a graceful shutdown at once (a second signal): sinks stop without draining.
// Checkpoints still hold only acknowledged offsets.
func (a *Agent) Abort() { a.abortOnce.Do(func() { close(a.abort) }) }

// Run collects until ctx is done, then shuts down gracefully: reading stops, the sinks
// drain what is in flight within the shutdown deadline (or until Abort), checkpoints are
// written, and Run returns. It returns an error only if the final checkpoint write failed.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.Config()
	// Sinks first: they must be ready before anything is read.
	sinkCtx, stopSinks := context.WithCancel(context.Background())
	defer stopSinks()
	a.reloadMu.Lock()
	a.sinkCtx, a.runCtx = sinkCtx, ctx
	for _, o := range a.outlets.Load().outs {
		a.start(sinkCtx, o)
	}
	a.running.Store(true)
	a.reloadMu.Unlock()

	// Checkpoints are written on a timer while running; the same loop is the
	// heartbeat /healthz reports.
	cpDone := make(chan struct{})
	cpStop := make(chan struct{})
	go func() {
		defer close(cpDone)
		interval := a.Config().Checkpoint.Interval
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-cpStop:
				return
			case <-t.C:
				a.syncCheckpoints()
				a.alive.Store(time.Now().UnixNano())
				if iv := a.Config().Checkpoint.Interval; iv != interval {
					interval = iv
					t.Reset(iv)
				}
			}
		}
	}()

	// Pod metadata before reading, so the first lines carry it (bounded wait).
	kubeCtx, stopKube := context.WithCancel(context.Background())
	defer stopKube()
	kubeDone := a.startKube(kubeCtx)

	// Readers and discovery last.
	var readWG sync.WaitGroup
	readWG.Add(3)
	go func() {
		defer readWG.Done()
		_ = a.tails.Run(ctx)
	}()
	go func() {
		defer readWG.Done()
		a.podFilesLoop(ctx)
	}()
	go func() {
		defer readWG.Done()
		_ = a.watch.Run(ctx)
	}()
	a.log.Info("agent started", "pods_dir", cfg.Sources.PodsDir, "docker_dir", cfg.Sources.DockerDir,
		"data_dir", cfg.DataDir, "sinks", len(cfg.Sinks), "checkpoints", a.store.Len())

	<-ctx.Done()
	start := time.Now()
	a.reloadMu.Lock()
	a.stopping = true
	a.reloadMu.Unlock()
	deadline := a.Config().Shutdown.Deadline
	a.log.Info("shutting down: reading stopped, draining sinks", "deadline", deadline.String())
	readWG.Wait()
	a.retireWG.Wait()
	for _, o := range a.outlets.Load().outs {
		close(o.in)
	}
	drained := make(chan struct{})
	go func() {
		a.sinksWG.Wait()
		close(drained)
	}()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	stopped := true
	select {
	case <-drained:
		a.log.Info("sinks drained", "took", time.Since(start).Round(time.Millisecond).String())
	case <-timer.C:
		a.log.Warn("shutdown deadline reached before the sinks drained; unacknowledged records will be read again at the next start")
		stopped = a.stopSinks(stopSinks, drained, sinkStopGrace)
	case <-a.abort:
		a.log.Warn("aborting shutdown: unacknowledged records will be read again at the next start")
		stopped = a.stopSinks(stopSinks, drained, sinkAbortGrace)
	}
	close(cpStop)
	<-cpDone
	stopKube()
	<-kubeDone
	if a.events != nil {
		a.events.Stop()
	}
	if stopped {
		a.closeSinks(context.Background())
	}
	if err := a.store.Sync(); err != nil {
		return fmt.Errorf("final checkpoint write: %w", err)
	}
	a.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// How long stopped sinks get to return from a delivery attempt: after the shutdown
// deadline, and after a second signal (which means: now).
const (
	sinkStopGrace  = 2 * time.Second
	sinkAbortGrace = 250 * time.Millisecond
)

// stopSinks cancels the sinks and waits a moment for their runners to return. A sink
// stuck in a system call (a write to a hung NFS mount or a full pipe) cannot be
// interrupted; then the agent goes on without it, leaving it unclosed, which is safe:
// the checkpoints cover only what was acknowledged before. It reports whether every
// runner returned.
func (a *Agent) stopSinks(cancel func(), drained <-chan struct{}, grace time.Duration) bool {
	cancel()
	select {
	case <-drained:
		return true
	case <-time.After(grace):
		a.log.Error("a sink did not stop (stuck in a write?); exiting without it: its unacknowledged records will be read again at the next start",
			"waited", grace.String())
		return false
	}
}

func (a *Agent) syncCheckpoints() {
	t0 := time.Now()
	err := a.store.Sync()
	if a.metrics != nil {
		a.metrics.CheckpointWrite(time.Since(t0), err)
	}
	a.cpMu.Lock()
	if err != nil {
		a.cpLastErr = err.Error()
	} else {
		a.cpLastWrite, a.cpLastErr = time.Now(), ""
	}
	a.cpMu.Unlock()
	if err != nil {
		a.CheckpointErrors.Add(1)
		a.log.Error("checkpoint write failed; offsets stay in memory and are retried", "err", err)
	}
}

func (a *Agent) closeSinks(ctx context.Context) {
	for _, o := range a.outlets.Load().outs {
		if err := o.runner.Sink().Close(ctx); err != nil {
			a.log.Warn("closing sink", "sink", o.cfg.Name, "err", err)
		}
	}
}

// Store exposes the checkpoint store (status).
func (a *Agent) Store() *checkpoint.Store { return a.store }
