package agent

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/metrics"
	"github.com/logferry/logferry/internal/podconfig"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/tail"
)

// podSettings resolves and caches what each container's pod asks for (annotations and
// pod_rules), per pod generation: resolution happens when a pod changes, never per
// line or per read.
type podSettings struct {
	mu       sync.Mutex
	rules    []podconfig.Rule
	opts     podconfig.Options
	views    map[viewKey]*cachedView
	limiters map[string]*cachedLimiter // by pod UID
	problems atomic.Int64
	// epoch changes with the pod rules (reload): it is part of every generation
	// handed to the readers, so they take the new settings.
	epoch uint64
	// silence is each container's logferry.io/silence-after, for metrics.
	silence map[viewKey]metrics.Silence
}

type viewKey struct{ uid, container string }

type cachedView struct {
	gen  uint64
	view *tail.PodView
}

type cachedLimiter struct {
	gen  uint64
	rate podconfig.RateLimit
	lim  *process.Limiter
}

func (a *Agent) setupPods(cfg *config.Config) error {
	rules, probs := podconfig.ParseRules(cfg.RawPodRules())
	if len(probs) > 0 { // Validate already refused these; be safe
		return probs[0]
	}
	a.pods = &podSettings{rules: rules, views: map[viewKey]*cachedView{}, limiters: map[string]*cachedLimiter{},
		silence: map[viewKey]metrics.Silence{}, opts: podOptions(cfg.Processors)}
	return nil
}

// podOptions are the processors' defaults from the configuration.
func podOptions(p config.Processors) podconfig.Options {
	return podconfig.Options{ParseKey: p.ParseKey, MultilineMaxLines: p.MultilineMaxLines,
		MultilineMaxBytes: int(p.MultilineMaxBytes), MultilineTimeout: p.MultilineTimeout}
}

// podView is the tail package's view of a container: metadata and settings.
func (a *Agent) podView(uid, container string) (*tail.PodView, uint64, bool) {
	p, ok := a.kube.Lookup(uid)
	if !ok {
		return nil, 0, false
	}
	ps := a.pods
	k := viewKey{uid, container}
	ps.mu.Lock()
	gen := p.Generation | ps.epoch<<48
	if c, ok := ps.views[k]; ok && c.gen == gen {
		ps.mu.Unlock()
		return c.view, gen, true
	}
	rules, opts := ps.rules, ps.opts
	ps.mu.Unlock()

	info := podconfig.PodInfo{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Containers: p.Containers()}
	s, probs := podconfig.Resolve(p.Annotations, rules, info, container, opts)
	for _, pr := range probs {
		ps.problems.Add(1)
		a.log.Warn("bad pod setting ignored", "namespace", p.Namespace, "pod", p.Name, "container", container,
			"key", pr.Key, "value", pr.Value, "reason", pr.Reason)
		if a.events != nil {
			a.events.Warn(p, pr.Error())
		}
	}
	v := &tail.PodView{Kube: p.Kube(container), Settings: s}
	if s.Route != "" {
		k := *v.Kube // the cache's copy is shared: render the route into a copy
		k.Route = s.Route
		v.Kube = &k
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if s.RateLimit != nil {
		cl := ps.limiters[uid]
		if cl == nil || cl.rate != *s.RateLimit {
			cl = &cachedLimiter{gen: gen, rate: *s.RateLimit, lim: process.NewLimiter(*s.RateLimit, time.Now)}
			ps.limiters[uid] = cl
		}
		v.Limiter = cl.lim
	}
	if len(ps.views) > 100000 { // pods come and go: forget everything now and then
		ps.views = map[viewKey]*cachedView{}
		ps.limiters = map[string]*cachedLimiter{}
		ps.silence = map[viewKey]metrics.Silence{}
	}
	ps.views[k] = &cachedView{gen: gen, view: v}
	if s.SilenceAfter > 0 {
		ps.silence[k] = metrics.Silence{Namespace: p.Namespace, Pod: p.Name, Container: container, After: s.SilenceAfter}
	} else {
		delete(ps.silence, k)
	}
	return v, gen, true
}

// silences returns the silence thresholds of the containers of pods that still exist.
func (ps *podSettings) silences(alive func(uid string) bool) []metrics.Silence {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]metrics.Silence, 0, len(ps.silence))
	for k, v := range ps.silence {
		if !alive(k.uid) {
			delete(ps.silence, k)
			continue
		}
		out = append(out, v)
	}
	return out
}

// setRules replaces the pod rules (configuration reload); every container is resolved
// again at its next read.
func (ps *podSettings) setRules(rules []podconfig.Rule, o podconfig.Options) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.rules, ps.opts = rules, o
	ps.epoch++
	ps.views = map[viewKey]*cachedView{}
}
