package logging

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// summarySuffix is appended to the message of the records Flush writes.
const summarySuffix = " (repeats suppressed)"

// limiter is the rate-limit state shared by a rateHandler and every handler
// derived from it with WithAttrs or WithGroup.
type limiter struct {
	// Fixed at construction.
	window       time.Duration
	burst        int
	maxKeys      int
	keyAttrs     []string
	now          func() time.Time
	onSuppressed func(slog.Level)

	mu   sync.Mutex
	keys map[string]*entry
	// head..tail is every entry, ordered by window start (head is the oldest):
	// new entries and entries whose window restarts go to the tail. With a
	// clock that never goes back this is exact; otherwise it is approximate,
	// which only affects which key is evicted, never the bound.
	head, tail *entry
}

// entry is the state of one rate-limit key.
type entry struct {
	key        string
	start      time.Time // start of the current window
	passed     int       // records passed in the current window
	suppressed int       // records dropped since the last one that passed

	// What a summary record needs: the handler of the first record of the key
	// (it carries the With attributes and groups), the level, the message and
	// the key attributes found on the record itself.
	h     slog.Handler
	level slog.Level
	msg   string
	attrs []slog.Attr

	prev, next *entry
}

// summary is a pending suppressed count taken out of an entry, to be written
// after the lock is released.
type summary struct {
	h     slog.Handler
	level slog.Level
	msg   string
	attrs []slog.Attr
	n     int
}

func newLimiter(o Options) *limiter {
	l := &limiter{
		window:       o.Window,
		burst:        o.Burst,
		maxKeys:      MaxKeys,
		now:          o.Now,
		onSuppressed: o.OnSuppressed,
		keys:         make(map[string]*entry),
	}
	if l.window <= 0 {
		l.window = DefaultWindow
	}
	if l.burst <= 0 {
		l.burst = DefaultBurst
	}
	if l.now == nil {
		l.now = time.Now
	}
	for _, k := range o.KeyAttrs {
		if k != "" {
			l.keyAttrs = append(l.keyAttrs, k)
		}
	}
	return l
}

// rateHandler wraps a slog.Handler with the limiter.
type rateHandler struct {
	inner slog.Handler
	lim   *limiter
	// with holds, per lim.keyAttrs index, the value of that key attribute added
	// with WithAttrs (set false: none). nil when there are no key attributes
	// or none has been added.
	with []keyVal
}

type keyVal struct {
	v   slog.Value
	set bool
}

// Enabled reports whether the wrapped handler is enabled at level. It takes no
// lock and touches no rate-limit state, so disabled log calls stay cheap.
func (h *rateHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// WithAttrs returns a handler sharing the limiter whose key includes the values
// of any key attributes among attrs.
func (h *rateHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var with []keyVal // copied on the first match: h.with is shared
	for i, name := range h.lim.keyAttrs {
		for _, a := range attrs {
			if v, ok := attrValue(a, name); ok {
				if with == nil {
					with = make([]keyVal, len(h.lim.keyAttrs))
					copy(with, h.with)
				}
				with[i] = keyVal{v: v.Resolve(), set: true}
			}
		}
	}
	if with == nil {
		with = h.with
	}
	return &rateHandler{inner: h.inner.WithAttrs(attrs), lim: h.lim, with: with}
}

// WithGroup returns a handler sharing the limiter. Groups do not change how key
// attributes are matched.
func (h *rateHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &rateHandler{inner: h.inner.WithGroup(name), lim: h.lim, with: h.with}
}

// Handle passes r to the wrapped handler unless its key has used up its burst in
// the current window; see Options.
func (h *rateHandler) Handle(ctx context.Context, r slog.Record) error {
	l := h.lim
	var buf [256]byte
	k := h.appendKey(buf[:0], r)
	now := l.now()

	var evicted summary
	l.mu.Lock()
	e := l.keys[string(k)]
	if e == nil {
		evicted = l.makeRoom(now)
		e = &entry{
			key:   string(k),
			start: now,
			h:     h.inner,
			level: r.Level,
			msg:   r.Message,
			attrs: h.recordKeyAttrs(r),
		}
		l.keys[e.key] = e
		l.pushBack(e)
	} else if now.Sub(e.start) >= l.window || now.Before(e.start) {
		// The window has elapsed (or the clock went back): start a new one.
		e.start = now
		e.passed = 0
		l.remove(e)
		l.pushBack(e)
	}
	pass := e.passed < l.burst
	n := 0
	if pass {
		e.passed++
		n, e.suppressed = e.suppressed, 0
	} else {
		e.suppressed++
	}
	l.mu.Unlock()

	var err error
	if evicted.n > 0 {
		err = l.emit(evicted)
	}
	if !pass {
		if l.onSuppressed != nil {
			l.onSuppressed(r.Level)
		}
		return err
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int(SuppressedKey, n))
	}
	return errors.Join(err, h.inner.Handle(ctx, r))
}

// makeRoom drops expired entries without a pending count from the head of the
// list and, if the table is still full, evicts the head: the entry whose window
// started earliest. It returns the evicted entry's pending count, if any, for
// the caller to write once the lock is released. l.mu must be held.
func (l *limiter) makeRoom(now time.Time) summary {
	for e := l.head; e != nil && e.suppressed == 0 && now.Sub(e.start) >= l.window; e = l.head {
		l.delete(e)
	}
	if len(l.keys) < l.maxKeys || l.head == nil {
		return summary{}
	}
	e := l.head
	l.delete(e)
	return e.take()
}

// take returns e's pending count as a summary and resets it. The caller must
// hold l.mu or own e.
func (e *entry) take() summary {
	s := summary{h: e.h, level: e.level, msg: e.msg, attrs: e.attrs, n: e.suppressed}
	e.suppressed = 0
	return s
}

// flush writes a summary for every entry with a pending count.
func (l *limiter) flush() {
	var pending []summary
	l.mu.Lock()
	for e := l.head; e != nil; e = e.next {
		if e.suppressed > 0 {
			pending = append(pending, e.take())
		}
	}
	l.mu.Unlock()
	for _, s := range pending {
		_ = l.emit(s)
	}
}

// emit writes s as "<message> (repeats suppressed)" with suppressed=n, unless its
// level is no longer enabled.
func (l *limiter) emit(s summary) error {
	ctx := context.Background()
	if !s.h.Enabled(ctx, s.level) {
		return nil
	}
	r := slog.NewRecord(l.now(), s.level, s.msg+summarySuffix, 0)
	r.AddAttrs(s.attrs...)
	r.AddAttrs(slog.Int(SuppressedKey, s.n))
	return s.h.Handle(ctx, r)
}

func (l *limiter) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *limiter) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *limiter) delete(e *entry) {
	l.remove(e)
	delete(l.keys, e.key)
}

// appendKey appends r's rate-limit key to b: level, message and, for every key
// attribute, its value (from r, else from WithAttrs) or a marker for "absent".
// Variable-length parts are length-prefixed so distinct keys cannot collide.
func (h *rateHandler) appendKey(b []byte, r slog.Record) []byte {
	b = strconv.AppendInt(b, int64(r.Level), 10)
	b = appendString(b, r.Message)
	for i, name := range h.lim.keyAttrs {
		v, ok := recordValue(r, name)
		if !ok && h.with != nil && h.with[i].set {
			v, ok = h.with[i].v, true
		}
		if !ok {
			b = append(b, '-')
			continue
		}
		b = appendValue(b, v)
	}
	return b
}

// recordKeyAttrs returns the key attributes found on r itself (not those added
// with WithAttrs, which the handler already carries), for summary records.
func (h *rateHandler) recordKeyAttrs(r slog.Record) []slog.Attr {
	var attrs []slog.Attr
	for _, name := range h.lim.keyAttrs {
		if v, ok := recordValue(r, name); ok {
			attrs = append(attrs, slog.Attr{Key: name, Value: v.Resolve()})
		}
	}
	return attrs
}

// recordValue returns the value of the last attribute of r named name.
func recordValue(r slog.Record, name string) (v slog.Value, ok bool) {
	r.Attrs(func(a slog.Attr) bool {
		if x, found := attrValue(a, name); found {
			v, ok = x, true
		}
		return true
	})
	return v, ok
}

// attrValue returns a's value if a is named name, looking into groups with an
// empty key (which slog inlines); the last match wins.
func attrValue(a slog.Attr, name string) (v slog.Value, ok bool) {
	if a.Key == name {
		return a.Value, true
	}
	if a.Key == "" && a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			if x, found := attrValue(g, name); found {
				v, ok = x, true
			}
		}
	}
	return v, ok
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// appendValue appends a kind tag and an unambiguous encoding of v.
func appendValue(b []byte, v slog.Value) []byte {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return append(strconv.AppendInt(append(b, 'i'), v.Int64(), 10), ';')
	case slog.KindUint64:
		return append(strconv.AppendUint(append(b, 'u'), v.Uint64(), 10), ';')
	case slog.KindBool:
		return append(strconv.AppendBool(append(b, 'b'), v.Bool()), ';')
	case slog.KindDuration:
		return append(strconv.AppendInt(append(b, 'd'), int64(v.Duration()), 10), ';')
	case slog.KindFloat64:
		return append(strconv.AppendUint(append(b, 'f'), math.Float64bits(v.Float64()), 10), ';')
	default:
		return appendString(append(b, 'o'), v.String())
	}
}
