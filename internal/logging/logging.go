// Package logging builds the agent's own structured log on top of log/slog.
//
// A Logger writes JSON (the default) or text records to one io.Writer. Its level
// lives in a *slog.LevelVar so it can be changed while the agent runs (on a
// configuration reload, for instance), and every record goes through a rate
// limiter that drops floods of identical messages: see Options.Window,
// Options.Burst and Options.KeyAttrs for what "identical" means and how much
// passes. Dropped records are never lost silently: each one is reported to
// Options.OnSuppressed, the next record of the same key that passes carries a
// suppressed=<n> attribute, and Logger.Flush writes a summary for every count
// still pending.
//
// Duration attributes are written as their String() form ("1.5s") in both
// formats rather than as integer nanoseconds.
//
// The package has no package-level mutable state; every Logger is independent.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// The formats New accepts in Options.Format.
const (
	// FormatJSON writes one JSON object per record (slog.JSONHandler).
	FormatJSON = "json"
	// FormatText writes one line of key=value pairs per record (slog.TextHandler).
	FormatText = "text"
)

// The defaults New applies to zero-valued Options fields.
const (
	// DefaultWindow is the rate-limit window used when Options.Window <= 0.
	DefaultWindow = 10 * time.Second
	// DefaultBurst is the number of identical records allowed per window when
	// Options.Burst <= 0.
	DefaultBurst = 5
	// MaxKeys is the most rate-limit keys a Logger tracks at once. When a new key
	// arrives and the table is full, the key whose current window started
	// earliest is evicted (after any pending suppressed count it holds has been
	// written as a summary record, exactly as Flush would).
	MaxKeys = 4096
)

// SuppressedKey is the attribute key that carries the number of records dropped by
// the rate limiter, both on the first record that passes after a drop and on the
// summary records written by Flush.
const SuppressedKey = "suppressed"

// Options configures New. The zero value is usable: JSON at Info, a 10s window,
// a burst of 5, keyed by level and message only.
type Options struct {
	// Format is FormatJSON ("" means the same) or FormatText. It is fixed at
	// construction. Any other value falls back to JSON, and the new Logger writes
	// one warning record naming the unknown format.
	Format string

	// Level is the lowest level written. nil means a new LevelVar at Info. The
	// caller may keep the LevelVar and change it at any time; Logger.SetLevel
	// changes the same variable.
	Level *slog.LevelVar

	// Window is the length of a rate-limit window; <= 0 means DefaultWindow. A
	// key's window starts at the first record of that key and is restarted by
	// the first record that arrives once it has elapsed.
	Window time.Duration

	// Burst is the number of records of one key that pass in one window; <= 0
	// means DefaultBurst. Further records of the key in that window are dropped.
	Burst int

	// KeyAttrs names attributes whose values, together with the level and the
	// message, make up the rate-limit key, so that for example the same warning
	// about two different files is limited separately. An attribute counts
	// whether it was passed to the log call or added earlier with With; when a
	// name occurs more than once, the last occurrence wins (the log call's
	// attributes come after those added with With). Attributes are matched by
	// their own key regardless of any group opened with WithGroup; the members
	// of group-valued attributes are not searched, except for groups with an
	// empty key, which slog inlines. An attribute that is absent is part of the
	// key too (as "absent"). Empty means the key is level and message only.
	KeyAttrs []string

	// Now is the clock used for rate-limit windows and for the time of the
	// summary records written by Flush or on eviction; nil means time.Now.
	// Ordinary records keep the time slog gave them.
	Now func() time.Time

	// OnSuppressed, if not nil, is called once for every dropped record with
	// that record's level, for example to increment a Prometheus counter. It is
	// called without any lock held, from the goroutine that logged, and may
	// itself log.
	OnSuppressed func(level slog.Level)
}

// Logger is the agent's log. It embeds the *slog.Logger that does the work, so
// all of slog's methods (Info, Warn, With, Handler, ...) are available directly,
// and l.Logger is what to hand to code that wants a plain *slog.Logger. Loggers
// derived with With or WithGroup share the level and the rate-limit state of the
// Logger they came from. Do not replace the embedded field.
//
// A Logger is safe for concurrent use.
type Logger struct {
	*slog.Logger

	level *slog.LevelVar
	lim   *limiter
}

// New returns a Logger writing to w as configured by o. Writes to w are
// serialized by slog's handler; w need not be safe for concurrent use.
func New(w io.Writer, o Options) *Logger {
	level := o.Level
	if level == nil {
		level = new(slog.LevelVar) // the zero LevelVar is Info
	}
	ho := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	var inner slog.Handler
	unknown := false
	switch o.Format {
	case FormatText:
		inner = slog.NewTextHandler(w, ho)
	case FormatJSON, "":
		inner = slog.NewJSONHandler(w, ho)
	default:
		inner = slog.NewJSONHandler(w, ho)
		unknown = true
	}
	lim := newLimiter(o)
	l := &Logger{
		Logger: slog.New(&rateHandler{inner: inner, lim: lim}),
		level:  level,
		lim:    lim,
	}
	if unknown {
		l.Warn("unknown log format; writing json", "format", o.Format)
	}
	return l
}

// SetLevel sets the lowest level written, for this Logger and every logger
// derived from it, taking effect for the next log call. s is one of debug, info,
// warn or error (case and surrounding space do not matter). On error the level
// is unchanged.
func (l *Logger) SetLevel(s string) error {
	lv, err := ParseLevel(s)
	if err != nil {
		return err
	}
	l.level.Set(lv)
	return nil
}

// Flush writes, for every rate-limit key with a pending suppressed count, one
// record at that key's level with the message "<message> (repeats suppressed)",
// the key attributes the original record carried (and those of the logger it
// was logged through) and suppressed=<n>; the counts are then reset. Records
// whose level is no longer enabled are not written (they were already reported
// to Options.OnSuppressed). Call it on shutdown. Safe to call at any time and
// any number of times.
func (l *Logger) Flush() {
	l.lim.flush()
}

// ParseLevel parses debug, info, warn or error (case and surrounding space do not
// matter) into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", s)
}

// replaceAttr writes durations as "1.5s" rather than as integer nanoseconds.
func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
