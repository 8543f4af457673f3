package tail

import (
	"time"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/record"
)

// PodView is what the agent knows about one container from the API server: the
// metadata rendered into its records and the settings its pod asks for.
type PodView struct {
	Kube     *record.Kube
	Settings podconfig.Settings
	// Limiter is the pod's rate limiter (shared by its containers); nil when the pod
	// has no rate limit.
	Limiter *process.Limiter
}

// refreshMeta brings g up to date with its pod when the pod changed (its metadata
// arrived, it was relabelled, its annotations changed): it re-renders the files'
// prefixes and rebuilds the processor chain, after flushing what the old chain held.
// g.mu is held. Lines already encoded keep what they had: metadata is as of when a
// line was read.
func (w *worker) refreshMeta(g *group) {
	m := w.m
	if c, ok := g.dec.(*chained); ok {
		c.now = w.now // workers take turns on a group: the clock is this turn's
	}
	if m.o.Metadata == nil || g.g.Source.PodUID == "" {
		return
	}
	v, gen, ok := m.o.Metadata(g.g.Source.PodUID, g.g.Source.Container)
	if !ok || gen == g.metaGen {
		return
	}
	g.metaGen = gen
	g.kube = v.Kube
	for _, f := range g.files {
		if f.prefix != nil {
			m.setPrefix(g, f)
		}
	}
	if g.chain != nil {
		// The held group was read under the old settings; ship it before they change.
		if f := g.head(); f != nil {
			w.f = f
			g.chain.Flush(w.emitFn)
		}
	}
	g.chain = process.New(v.Settings, v.Limiter, process.Options{Stats: m.o.ProcessStats})
	d, wrapped := g.dec.(*chained)
	switch {
	case g.chain.Pass():
		// Nothing to process (most pods): lines go straight from the decoder.
		g.chain = nil
		if wrapped {
			g.dec = d.Decoder
		}
	case wrapped:
		d.chain = g.chain
	case g.dec != nil:
		g.dec = &chained{Decoder: g.dec, chain: g.chain, now: w.now}
	}
}

// chained runs a container's processors (multiline, parsing, filters, rate limit)
// behind its decoder, and is itself a format.Decoder, so partial-line handling,
// flushing and safe offsets treat a held multiline group like a held partial line.
type chained struct {
	format.Decoder
	chain *process.Chain
	now   time.Time // the clock of the turn reading the group
	emit  func(*format.Entry)
	fn    func(*format.Entry)
}

func (c *chained) through(emit func(*format.Entry)) func(*format.Entry) {
	if c.fn == nil {
		c.fn = func(e *format.Entry) { c.chain.Entry(e, c.now, c.emit) }
	}
	c.emit = emit
	return c.fn
}

func (c *chained) Line(data []byte, off, end int64, truncated bool, emit func(*format.Entry)) error {
	return c.Decoder.Line(data, off, end, truncated, c.through(emit))
}

func (c *chained) Flush(emit func(*format.Entry)) {
	c.Decoder.Flush(c.through(emit))
	c.chain.Flush(emit)
}

func (c *chained) Pending() (int64, bool) {
	d, dok := c.Decoder.Pending()
	p, pok := c.chain.Pending()
	switch {
	case dok && pok:
		return min(d, p), true
	case dok:
		return d, true
	default:
		return p, pok
	}
}

// multilineDue flushes the multiline groups of g that waited their timeout; the
// caller seals the chunk.
func (w *worker) multilineDue(g *group, f *file) bool {
	if g.chain == nil || !g.chain.Due(w.now) {
		return false
	}
	w.f = f
	g.chain.FlushDue(w.now, w.emitFn)
	return true
}
