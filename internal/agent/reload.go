package agent

import (
	"errors"
	"reflect"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/podconfig"
	"github.com/logferry/logferry/internal/tail"
)

// configStatus is what the status document says about the configuration; guarded by
// reloadMu.
type configStatus struct {
	path        string
	loadedAt    time.Time
	reloads     int64
	lastErr     string
	lastErrTime time.Time
}

// restartOnly lists the settings a reload cannot change in a running agent: they
// shape what is already running (where files and checkpoints are, the readers' buffers,
// the listeners). A reload that changes one keeps the running value, logs a warning
// naming the key, and applies everything else; the new value takes effect at the next
// restart. Every other setting applies at once (see docs/operations.md).
var restartOnly = []struct {
	key string
	get func(c *config.Config) any
	set func(dst, src *config.Config)
}{
	{"node_name", func(c *config.Config) any { return c.NodeName }, func(d, s *config.Config) { d.NodeName = s.NodeName }},
	{"data_dir", func(c *config.Config) any { return c.DataDir }, func(d, s *config.Config) { d.DataDir = s.DataDir }},
	{"sources.pods_dir", func(c *config.Config) any { return c.Sources.PodsDir }, func(d, s *config.Config) { d.Sources.PodsDir = s.Sources.PodsDir }},
	{"sources.docker_dir", func(c *config.Config) any { return c.Sources.DockerDir }, func(d, s *config.Config) { d.Sources.DockerDir = s.Sources.DockerDir }},
	{"sources.rescan_interval", func(c *config.Config) any { return c.Sources.RescanInterval }, func(d, s *config.Config) { d.Sources.RescanInterval = s.Sources.RescanInterval }},
	{"sources.poll_interval", func(c *config.Config) any { return c.Sources.PollInterval }, func(d, s *config.Config) { d.Sources.PollInterval = s.Sources.PollInterval }},
	{"sources.read_from", func(c *config.Config) any { return c.Sources.ReadFrom }, func(d, s *config.Config) { d.Sources.ReadFrom = s.Sources.ReadFrom }},
	{"sources.max_line_bytes", func(c *config.Config) any { return c.Sources.MaxLineBytes }, func(d, s *config.Config) { d.Sources.MaxLineBytes = s.Sources.MaxLineBytes }},
	{"sources.max_merged_bytes", func(c *config.Config) any { return c.Sources.MaxMergedBytes }, func(d, s *config.Config) { d.Sources.MaxMergedBytes = s.Sources.MaxMergedBytes }},
	{"pipeline", func(c *config.Config) any { return c.Pipeline }, func(d, s *config.Config) { d.Pipeline = s.Pipeline }},
	{"http", func(c *config.Config) any { return c.HTTP }, func(d, s *config.Config) { d.HTTP = s.HTTP }},
	{"kubernetes", func(c *config.Config) any { return c.Kubernetes }, func(d, s *config.Config) { d.Kubernetes = s.Kubernetes }},
	{"log.format", func(c *config.Config) any { return c.Log.Format }, func(d, s *config.Config) { d.Log.Format = s.Log.Format }},
}

// ErrNotRunning is returned by Reload before Run started or once shutdown began.
var ErrNotRunning = errors.New("agent is not running")

// Reload replaces the running configuration with the one load returns, without
// stopping collection: readers, their offsets and the sinks whose settings did not
// change keep running; a sink whose settings changed is swapped in place (its queue is
// kept, so nothing queued is lost or sent twice); a new sink receives what is read from
// now on; a removed sink's queue is dropped from it. Settings in restartOnly keep
// their running values (logged). If load fails, or a new sink cannot be built, nothing
// changes and the error is returned (and shown in status and metrics).
func (a *Agent) Reload(load func() (*config.Config, error)) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.sinkCtx == nil || a.stopping {
		return ErrNotRunning
	}
	next, err := load()
	if err == nil {
		err = a.applyLocked(next)
	}
	now := time.Now()
	if a.metrics != nil {
		a.metrics.Reload(err)
	}
	if err != nil {
		a.cfgStatus.lastErr, a.cfgStatus.lastErrTime = err.Error(), now
		a.log.Error("configuration reload rejected; the running configuration is kept", "err", err)
		return err
	}
	a.cfgStatus.reloads++
	a.cfgStatus.loadedAt = now
	a.cfgStatus.lastErr, a.cfgStatus.lastErrTime = "", time.Time{}
	return nil
}

func (a *Agent) applyLocked(next *config.Config) error {
	cur := a.Config()
	applied := *next
	for _, r := range restartOnly {
		if !reflect.DeepEqual(r.get(cur), r.get(next)) {
			a.log.Warn("setting changed; it takes effect at the next restart, the running value is kept", "key", r.key)
			r.set(&applied, cur)
		}
	}
	plan, err := a.planSinks(a.outlets.Load().outs, applied.Sinks)
	if err != nil {
		return err
	}
	if a.onLevel != nil && applied.Log.Level != cur.Log.Level {
		if err := a.onLevel(applied.Log.Level); err != nil {
			return err
		}
	}
	if a.pods != nil && (!reflect.DeepEqual(cur.PodRules, applied.PodRules) || cur.Processors != applied.Processors) {
		rules, probs := podconfig.ParseRules(applied.RawPodRules())
		if len(probs) > 0 {
			return probs[0]
		}
		a.pods.setRules(rules, podOptions(applied.Processors))
		a.log.Info("pod rules changed; every container takes its new settings at its next read")
	}
	src := applied.Sources
	a.tails.SetLive(tail.Live{
		PartialFlushTimeout: src.PartialFlushTimeout,
		DeletedBudget:       int64(src.DeletedBudget),
		Exclude:             src.Exclude,
	})
	a.applySinks(a.sinkCtx, plan)
	a.cfg.Store(&applied)
	a.log.Info("configuration reloaded", "sinks_added", len(plan.added), "sinks_changed", len(plan.swaps),
		"sinks_removed", len(plan.removed))
	return nil
}
