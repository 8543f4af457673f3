// Package process applies a container's per-pod Settings (internal/podconfig) to the
// entries its decoder emits. The processors run in this order, after the decoder's
// partial-line merge:
//
//	multiline → body parsing → include/drop → rate limit
//
// so a stack trace is one record before it is parsed and filtered, include and drop
// see the whole (possibly multiline) message, and only records that survive the filters
// take rate-limit tokens.
//
// A Chain serves one container (all its streams) and is not safe for concurrent use;
// the Limiter a pod's chains share is. The processors hold no package state: the
// multiline presets are hand-written byte matchers (no regular expressions to compile),
// and everything a Chain needs is built by New.
package process

import (
	"bytes"
	"regexp"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

// Stats counts what the processors did. The counters are atomic, so metrics may read
// them while chains run, and one Stats may be shared by many chains (Options.Stats).
type Stats struct {
	// Excluded counts entries dropped because the container is excluded.
	Excluded atomic.Int64
	// Filtered counts records dropped by include/drop.
	Filtered atomic.Int64
	// RateLimitedLines and RateLimitedBytes count the records dropped by the rate
	// limit and their message bytes.
	RateLimitedLines atomic.Int64
	RateLimitedBytes atomic.Int64
	// ParseFailures counts records whose body did not parse (they are shipped as they
	// were, flagged parse_failed).
	ParseFailures atomic.Int64
	// MultilineGroups counts records that join two or more lines.
	MultilineGroups atomic.Int64
	// TruncatedGroups counts multiline-processed records whose bytes were cut at
	// MaxBytes (a single line longer than MaxBytes), and TruncatedBytes the bytes cut.
	TruncatedGroups atomic.Int64
	TruncatedBytes  atomic.Int64
	// LimitedGroups counts groups ended by MaxLines or MaxBytes rather than by a start
	// line, the timeout or a flush; lines that continue such a group start a new one.
	LimitedGroups atomic.Int64
}

// Options are the Chain's knobs besides the Settings.
type Options struct {
	// Stats receives the counters; nil means a Stats of the chain's own (Chain.Stats).
	Stats *Stats
}

// Chain applies one container's Settings. Create it with New.
type Chain struct {
	stats   *Stats
	lim     *Limiter
	pass    bool // nothing to do: Entry calls emit(e)
	exclude bool
	ml      *multiline // nil when multiline is off

	parse   string // "", podconfig.ParseJSON or podconfig.ParseLogfmt
	key     string
	include []*regexp.Regexp
	drop    []*regexp.Regexp

	out    format.Entry // the entry emitted when a processor changed it
	jbuf   bytes.Buffer // json.Compact output
	fields []byte       // Fields after UTF-8 repair or logfmt rendering
	lf     logfmtScratch
	small  [4]uint8 // recycle counts of jbuf, fields, lf.vals, lf.pairs
}

// New returns the chain for one container with settings s. limiter is the pod's
// shared Limiter, built with NewLimiter from s.RateLimit; nil means no rate limit
// (Settings.RateLimit alone does not limit: the limit is per pod, so its Limiter
// belongs to the caller). Route, Files and SilenceAfter are not the processors'
// business and are ignored.
//
// A custom Multiline.Start is matched against the message as it is (a trailing '\r'
// included); presets ignore a trailing '\r'. A Multiline with an unknown Preset and no
// Start is treated as off. Multiline limits
// <= 0 take podconfig's defaults, and an empty ParseKey means podconfig.DefaultParseKey.
func New(s podconfig.Settings, limiter *Limiter, o Options) *Chain {
	c := &Chain{stats: o.Stats, lim: limiter, exclude: s.Exclude, include: s.Include, drop: s.Drop}
	if c.stats == nil {
		c.stats = new(Stats)
	}
	if s.Parse == podconfig.ParseJSON || s.Parse == podconfig.ParseLogfmt {
		c.parse, c.key = s.Parse, s.ParseKey
		if c.key == "" {
			c.key = podconfig.DefaultParseKey
		}
	}
	if s.Multiline != nil {
		c.ml = newMultiline(*s.Multiline)
	}
	c.pass = !c.exclude && c.ml == nil && c.parse == "" && len(c.include) == 0 &&
		len(c.drop) == 0 && c.lim == nil
	return c
}

// Pass reports whether the chain does nothing: Entry is emit(e), Flush and Due
// have nothing to do.
func (c *Chain) Pass() bool { return c.pass }

// Stats returns the counters the chain adds to.
func (c *Chain) Stats() *Stats { return c.stats }

// Entry processes one decoded entry and calls emit for each record that results: none
// (held by multiline, filtered, rate-limited), one, or two (with multiline: the group e
// ended, then e's own group when a limit ends it at once). now is the time e was read;
// multiline timeouts are measured from it. With multiline on, every line is held until
// its stream's next line shows whether it continues (or the timeout, or a flush).
//
// e is only read during the call; the chain copies what it keeps. The entry passed to
// emit is valid only during the emit call, and emit must not call back into the chain
// except Pending. With settings that need no processing Entry is emit(e).
func (c *Chain) Entry(e *format.Entry, now time.Time, emit func(*format.Entry)) {
	switch {
	case c.pass:
		emit(e)
	case c.exclude:
		c.stats.Excluded.Add(1)
	case c.ml != nil:
		c.ml.line(c, e, now, emit)
	default:
		c.record(e, emit)
	}
}

// Due reports whether a multiline group has waited Timeout or longer since its last
// line at now; the caller then calls FlushDue (or Flush).
func (c *Chain) Due(now time.Time) bool { return c.ml != nil && c.ml.due(now) }

// FlushDue emits the groups that are due at now, in Offset order, leaving the others
// held. Use it on a timer: unlike Flush it does not cut a group of the other stream
// that is still receiving lines.
func (c *Chain) FlushDue(now time.Time, emit func(*format.Entry)) {
	if c.ml != nil {
		c.ml.flush(c, now, true, emit)
	}
}

// Flush emits every held group, in Offset order, and leaves nothing held. Use it when
// no more lines can come: the container's last file is finished, or the container
// restarted. (On a pause use Due and FlushDue.)
func (c *Chain) Flush(emit func(*format.Entry)) {
	if c.ml != nil {
		c.ml.flush(c, time.Time{}, false, emit)
	}
}

// Pending reports the smallest Offset of the lines held in multiline groups; ok is
// false when nothing is held. Like format.Decoder.Pending, a checkpoint must not move
// past off while ok is true, or the held lines are lost on restart.
func (c *Chain) Pending() (off int64, ok bool) {
	if c.ml == nil {
		return 0, false
	}
	return c.ml.pending()
}

// record runs the processors after multiline on one record (a decoded entry or an
// ended group) and emits it unless it is filtered or rate-limited.
func (c *Chain) record(e *format.Entry, emit func(*format.Entry)) {
	out := e
	parsed := false
	if c.parse != "" {
		c.releaseParseBuffers()
		c.out = *e
		out = &c.out
		var fields []byte
		if c.parse == podconfig.ParseJSON {
			fields, parsed = c.parseJSON(e.Msg)
		} else {
			fields, parsed = c.parseLogfmt(e.Msg)
		}
		if parsed {
			// Both parsers replace invalid UTF-8 (every byte of the message ends up
			// in a key or a value): say so, as the encoder does for a message.
			out.Fields, out.FieldsKey, out.FieldsRepaired = fields, c.key, !utf8.Valid(e.Msg)
		} else {
			out.ParseFailed = true
			c.stats.ParseFailures.Add(1)
		}
	}
	if !c.keep(e.Msg) {
		c.stats.Filtered.Add(1)
		return
	}
	if c.lim != nil && !c.lim.Allow(len(e.Msg)) {
		c.stats.RateLimitedLines.Add(1)
		c.stats.RateLimitedBytes.Add(int64(len(e.Msg)))
		return
	}
	if parsed {
		out.Msg = nil // the body now travels as Fields
	}
	emit(out)
}

// releaseParseBuffers lets go of parse buffers that a big message grew and that
// recent messages did not need (see recycle), so that one huge line does not pin memory
// for the life of the container.
func (c *Chain) releaseParseBuffers() {
	if n := c.jbuf.Cap(); n > retainBytes {
		if c.jbuf.Len() > n/4 {
			c.small[0] = 0
		} else if c.small[0]++; c.small[0] >= releaseAfter {
			c.jbuf, c.small[0] = bytes.Buffer{}, 0
		}
	}
	c.fields = recycle(c.fields, len(c.fields), retainBytes, &c.small[1])
	c.lf.vals = recycle(c.lf.vals, len(c.lf.vals), retainBytes, &c.small[2])
	c.lf.pairs = recycle(c.lf.pairs, len(c.lf.pairs), retainBytes/40, &c.small[3])
	if len(c.lf.seen) > 4*dedupLinear {
		c.lf.seen = nil
	}
}

// keep applies include and drop to msg: drop wins; with include set, only a message
// matching one of its patterns is kept.
func (c *Chain) keep(msg []byte) bool {
	for _, re := range c.drop {
		if re.Match(msg) {
			return false
		}
	}
	if len(c.include) == 0 {
		return true
	}
	for _, re := range c.include {
		if re.Match(msg) {
			return true
		}
	}
	return false
}
