// Package podconfig turns per-pod configuration - `logferry.io/` annotations on the
// pod, and rules in the agent configuration that select pods by namespace or labels -
// into the Settings that apply to one container's logs.
//
// Annotation keys are `logferry.io/<key>` for every container of the pod, or
// `logferry.io/<key>.<container>` for one container (the scoped key wins). A bad value
// is reported (as a Problem: the agent turns it into a Kubernetes Event and a metric)
// and ignored: it never stops the collection of the pod's stdout.
package podconfig

import (
	"regexp"
	"time"
)

// Prefix is the annotation prefix.
const Prefix = "logferry.io/"

// Settings are what applies to one container's logs. The zero value means: ship
// everything as is.
type Settings struct {
	// Exclude ships nothing from the container (logferry.io/exclude: "true").
	Exclude bool
	// Parse is "", "json" or "logfmt" (logferry.io/parse): the message body becomes
	// fields under ParseKey; when it does not parse, the raw message is kept as is and
	// the record is flagged.
	Parse    string
	ParseKey string // default "fields" (agent configuration: processors.parse_key)
	// Multiline joins continuation lines to the line that starts a group
	// (logferry.io/multiline); nil means off.
	Multiline *Multiline
	// Include keeps only lines matching one of these (logferry.io/include); Drop
	// removes lines matching any of these (logferry.io/drop). Drop wins.
	Include []*regexp.Regexp
	Drop    []*regexp.Regexp
	// Route names the sink route (topic/index/tenant) for the container's records
	// (logferry.io/route); "" is the default route.
	Route string
	// Files are log files written inside the container (logferry.io/files).
	Files []FileSpec
	// RateLimit caps the pod's lines or bytes per second (logferry.io/rate-limit);
	// nil means unlimited. The limit is per pod: containers of a pod share it.
	RateLimit *RateLimit
	// SilenceAfter (logferry.io/silence-after) is how long the container may be
	// silent before the ContainerSilent alert fires; 0 means not watched.
	SilenceAfter time.Duration
}

// Multiline describes how lines are grouped.
type Multiline struct {
	// Preset is "java", "go", "python", "ruby", "dotnet", or "" for a custom Start.
	Preset string
	// Start matches the first line of a group; lines that do not match continue the
	// current group. It is set for a custom `regex:<first-line regex>` value and nil
	// for a preset, whose rules internal/process defines.
	Start *regexp.Regexp
	// MaxLines and MaxBytes cap a group (defaults 500 lines, 256 KiB); the group is
	// flushed (flagged truncated when cut) when either is reached.
	MaxLines int
	MaxBytes int
	// Timeout flushes a group when no line arrived for this long (default 2s).
	Timeout time.Duration
}

// FileSpec is one file pattern inside a container: logferry.io/files takes a comma
// separated list of `<container>:<absolute path or glob>`.
type FileSpec struct {
	Container string
	Path      string // absolute, in the container's filesystem; may contain * ? [ ]
}

// RateLimit is a per-pod limit.
type RateLimit struct {
	// Lines and Bytes per second; exactly one is set. Value syntax: "1000 lines/s",
	// "1000/s" (lines), "2MiB/s" (bytes).
	Lines float64
	Bytes float64
	// Burst is how much may pass at once (default one second's worth).
	Burst float64
}

// Annotation keys (after Prefix, and without a ".<container>" scope) and rule value keys.
const (
	KeyExclude      = "exclude"
	KeyParse        = "parse"
	KeyMultiline    = "multiline"
	KeyInclude      = "include"
	KeyDrop         = "drop"
	KeyRoute        = "route"
	KeyFiles        = "files"
	KeyRateLimit    = "rate-limit"
	KeySilenceAfter = "silence-after"
)

// Keys returns every known key, in the order Resolve applies them.
func Keys() []string {
	return []string{KeyExclude, KeyParse, KeyMultiline, KeyInclude, KeyDrop, KeyRoute,
		KeyFiles, KeyRateLimit, KeySilenceAfter}
}

// Multiline presets (Multiline.Preset). Their grouping rules are defined and
// implemented by the processors (internal/process); Start is nil for a preset.
const (
	PresetJava   = "java"
	PresetGo     = "go"
	PresetPython = "python"
	PresetRuby   = "ruby"
	PresetDotnet = "dotnet"
)

// Presets returns the multiline preset names.
func Presets() []string {
	return []string{PresetJava, PresetGo, PresetPython, PresetRuby, PresetDotnet}
}

// Parse values (Settings.Parse).
const (
	ParseJSON   = "json"
	ParseLogfmt = "logfmt"
)

// Defaults that Resolve fills in where neither the value nor Options says otherwise.
const (
	DefaultParseKey          = "fields"
	DefaultMultilineMaxLines = 500
	DefaultMultilineMaxBytes = 256 << 10
	DefaultMultilineTimeout  = 2 * time.Second
	// MinSilenceAfter is the smallest logferry.io/silence-after accepted.
	MinSilenceAfter = 10 * time.Second
)

// Options are the agent-wide defaults Resolve applies (agent configuration:
// processors.*). The zero value uses the Default* constants.
type Options struct {
	// ParseKey is Settings.ParseKey when a parse value is set; "" means
	// DefaultParseKey.
	ParseKey string
	// MultilineMaxLines, MultilineMaxBytes and MultilineTimeout apply to a multiline
	// value that does not set max_lines, max_bytes or timeout; <= 0 means the
	// DefaultMultiline* constant.
	MultilineMaxLines int
	MultilineMaxBytes int
	MultilineTimeout  time.Duration
}

// PodInfo is what rules select pods by.
type PodInfo struct {
	Namespace, Name string
	Labels          map[string]string
	// Containers optionally lists the names of the pod's containers (init, regular and
	// ephemeral). When it is set, scoped keys and files entries that name a container
	// the pod does not have are reported as Problems; when nil they are not checked.
	Containers []string
}

// Problem is a bad annotation or rule value; it is reported and ignored.
//
// Problem is comparable: Resolve reports the problems of the pod's unscoped keys for
// every container, so a caller that resolves several containers of one pod can
// de-duplicate them with a map.
type Problem struct {
	Key    string // the annotation key (or config path) that was wrong
	Value  string
	Reason string
}

func (p Problem) Error() string { return p.Key + ": " + p.Reason + " (value " + quote(p.Value) + ")" }

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + s + `"`
}
