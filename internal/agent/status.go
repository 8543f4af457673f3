package agent

import (
	"fmt"
	"sort"
	"time"

	"github.com/logferry/logferry/internal/metrics"
	"github.com/logferry/logferry/internal/status"
)

// heartbeatGrace is how long the collection loop may go without a round before Alive
// reports it stuck: several times the longest normal gap (a checkpoint write on a slow
// disk, a poll interval).
const heartbeatGrace = 30 * time.Second

// Alive reports whether the collection loop is alive: the checkpoint loop and the
// readers' poller both went round recently. It does not depend on the sinks: a sink
// that is down holds back delivery (backpressure), not these loops.
func (a *Agent) Alive() (bool, string) {
	now := time.Now()
	grace := max(heartbeatGrace, 10*a.Config().Checkpoint.Interval, 10*a.Config().Sources.PollInterval)
	if d := now.Sub(time.Unix(0, a.alive.Load())); d > grace {
		return false, fmt.Sprintf("checkpoint loop silent for %v", d.Round(time.Second))
	}
	if hb := a.tails.Heartbeat(); !hb.IsZero() {
		if d := now.Sub(hb); d > grace {
			return false, fmt.Sprintf("reader poller silent for %v", d.Round(time.Second))
		}
	} else if d := now.Sub(a.started); d > grace {
		return false, "reader poller never started"
	}
	return true, ""
}

// Ready reports whether the agent is ready: the configuration is loaded, the first scan
// of the log directories finished, and every sink's last delivery attempt succeeded.
// The reasons say what is missing.
func (a *Agent) Ready() (bool, []string) {
	var reasons []string
	if !a.running.Load() {
		reasons = append(reasons, "not started")
	}
	if !a.tails.Scanned() {
		reasons = append(reasons, "first scan of the log directories not finished")
	}
	for _, o := range a.outlets.Load().outs {
		if st := o.runner.Stats(); !st.Healthy {
			reasons = append(reasons, fmt.Sprintf("sink %s failing: %s", o.cfg.Name, st.LastError))
		}
	}
	return len(reasons) == 0, reasons
}

func (a *Agent) metricsSnapshot() metrics.Snapshot {
	s := metrics.Snapshot{
		Containers:         a.tails.Snapshot(),
		Tail:               a.tails.Stats(),
		BufferUsed:         a.budget.InUse(),
		BufferLimit:        int64(a.Config().Pipeline.MaxBufferBytes),
		CheckpointEntries:  a.store.Len(),
		CorruptCheckpoints: a.CorruptCheckpoints.Load(),
		DiscoveryErrors:    a.DiscoveryErrors.Load(),
	}
	if a.kube != nil {
		st := a.kube.Stats()
		s.Kube = &st
		s.Process = &a.procStats
		s.PodProblems = a.pods.problems.Load()
		s.Silences = a.pods.silences(func(uid string) bool {
			p, ok := a.kube.Lookup(uid)
			return ok && !p.Deleted
		})
	}
	for _, o := range a.outlets.Load().outs {
		s.Sinks = append(s.Sinks, metrics.Sink{Name: o.cfg.Name, Type: o.cfg.Type, Stats: o.runner.Stats()})
	}
	return s
}

// Status returns the status document (GET /api/v1/status).
func (a *Agent) Status(version string) *status.Status {
	cfg := a.Config()
	now := time.Now()
	st := &status.Status{Node: cfg.NodeName, Version: version, StartedAt: a.started, Now: now}
	st.Ready, st.Reasons = a.Ready()
	a.reloadMu.Lock()
	cs := a.cfgStatus
	a.reloadMu.Unlock()
	st.Config = status.Config{Path: cs.path, LoadedAt: cs.loadedAt, Reloads: cs.reloads, LastError: cs.lastErr, LastErrorAt: cs.lastErrTime}
	st.Buffer = status.Buffer{UsedBytes: a.budget.InUse(), LimitBytes: int64(cfg.Pipeline.MaxBufferBytes)}
	a.cpMu.Lock()
	st.Checkpoint = status.Checkpoint{Path: a.store.Path(), Entries: a.store.Len(), LastWriteAt: a.cpLastWrite, LastError: a.cpLastErr}
	a.cpMu.Unlock()
	st.Sinks = []status.Sink{}
	for _, o := range a.outlets.Load().outs {
		r := o.runner.Stats()
		st.Sinks = append(st.Sinks, status.Sink{Name: o.cfg.Name, Type: o.cfg.Type, Healthy: r.Healthy, InFlight: r.InFlight,
			Records: r.Records, Bytes: r.Bytes, Batches: r.Batches, Retries: r.Retries, Failures: r.Failures,
			LastError: r.LastError, LastErrorAt: r.LastErrorAt, LastSuccessAt: r.LastSuccessAt})
	}
	st.Containers = []status.Container{}
	for _, c := range a.tails.Snapshot() {
		sc := status.Container{Namespace: c.Source.Namespace, Pod: c.Source.Pod, Container: c.Source.Container, Key: c.Key,
			ReadBytes: c.ReadBytes, ReadLines: c.ReadLines, LagBytes: c.LagBytes, LagSeconds: c.Lag.Seconds(),
			LastLineAt: c.LastLine, Files: []status.File{}}
		for _, f := range c.Files {
			sc.Files = append(sc.Files, status.File{Path: f.Path, Device: f.Dev, Inode: f.Ino, Fingerprint: f.Fingerprint,
				Format: f.Kind, Size: f.Size, ReadOffset: f.Offset, AckedOffset: f.Committed,
				LagBytes: max(0, f.Size-f.Committed), State: f.State})
		}
		st.Containers = append(st.Containers, sc)
	}
	sort.Slice(st.Containers, func(i, j int) bool {
		ci, cj := st.Containers[i], st.Containers[j]
		if ci.LagBytes != cj.LagBytes {
			return ci.LagBytes > cj.LagBytes
		}
		return ci.Key < cj.Key
	})
	return st
}
