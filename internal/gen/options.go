package gen

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Log formats (Options.Format).
const (
	FormatCRI    = "cri"    // containerd's CRI dialect
	FormatCRIO   = "crio"   // CRI-O's (conmon's) CRI dialect
	FormatDocker = "docker" // dockerd json-file
)

// Message fillers (Options.Filler).
const (
	FillerRandom = "random"
	FillerText   = "text"
)

// Defaults, also used for zero-valued Options fields where zero means nothing useful.
const (
	DefaultNamespaces     = 3
	DefaultPods           = 10
	DefaultContainers     = 2
	DefaultLines          = 1000
	DefaultLineSize       = 200
	DefaultLongSize       = 40 << 10
	DefaultRotateSize     = 10 << 20 // kubelet containerLogMaxSize default 10Mi
	DefaultMaxFiles       = 5        // kubelet containerLogMaxFiles default
	DefaultRotateInterval = 10 * time.Second
	DefaultSeed           = 1
)

// Options configures Run. The fields mirror the `logferry gen` flags.
//
// For in-process callers, zero values take a default where zero is meaningless:
// Format "" is cri, Namespaces, Pods and Containers 0 are 1, LineSize 0 is 200,
// LongSize 0 is 40 KiB, MaxFiles 0 is 5, RotateInterval 0 is 10s and Manifest ""
// is Out/manifest.json. Zero keeps its documented meaning everywhere else
// (Lines 0: until Duration or the context ends; RotateSize 0: no rotation; ...).
type Options struct {
	Out      string `json:"out"`                 // root directory of the simulated node
	Format   string `json:"format"`              // cri, crio or docker
	TZOffset string `json:"tz_offset,omitempty"` // zone of CRI timestamps, e.g. "+08:00" ("" = UTC); docker always writes UTC

	Namespaces int `json:"namespaces"` // pods are spread over this many namespaces
	Pods       int `json:"pods"`       // pods on the node (in total, not per namespace)
	Containers int `json:"containers"` // containers per pod

	Lines    int64         `json:"lines"`       // logical lines per container; 0 = until Duration or ctx ends
	Duration time.Duration `json:"duration_ns"` // stop after this long (0 = no limit)
	Rate     float64       `json:"rate"`        // logical lines per second across the node; 0 = as fast as possible

	LineSize int `json:"line_size"` // average message size in bytes (uniform in [size/2, 3*size/2])
	// Filler is what follows a message's key: "random" (the default: random printable
	// ASCII with rare escapes and multi-byte UTF-8, nearly incompressible, the worst
	// case for a sink's compression) or "text" (log-like key=value text, which
	// compresses like real logs).
	Filler    string `json:"filler,omitempty"`
	LongEvery int    `json:"long_every"` // every Nth line of a container is long (0 = none)
	LongSize  int    `json:"long_size"`  // size of a long line's message in bytes

	RotateSize     int64         `json:"rotate_size"`        // kubelet containerLogMaxSize / docker max-size; 0 = no rotation
	MaxFiles       int           `json:"max_files"`          // kubelet containerLogMaxFiles / docker max-file
	Compress       bool          `json:"compress"`           // docker compress option (the kubelet always compresses)
	RotateInterval time.Duration `json:"rotate_interval_ns"` // how often the simulated kubelet checks sizes
	LateWrites     int           `json:"late_writes"`        // lines the runtime still writes to a renamed N.log before it reopens

	RestartEvery int64 `json:"restart_every"` // a container restarts after this many lines (0 = never)
	KeepRestarts bool  `json:"keep_restarts"` // keep the files of every instance, not only the previous one

	MalformedEvery int64 `json:"malformed_every"` // write a garbage line after every N logical lines (0 = never)

	Manifest string `json:"manifest"` // manifest path ("" = Out/manifest.json)
	Seed     int64  `json:"seed"`     // seed of every name, uid, id, length and filler
}

// DefaultOptions returns the defaults of the `logferry gen` command.
func DefaultOptions() Options {
	return Options{
		Out:            "",
		Format:         FormatCRI,
		Namespaces:     DefaultNamespaces,
		Pods:           DefaultPods,
		Containers:     DefaultContainers,
		Lines:          DefaultLines,
		LineSize:       DefaultLineSize,
		LongSize:       DefaultLongSize,
		RotateSize:     DefaultRotateSize,
		MaxFiles:       DefaultMaxFiles,
		RotateInterval: DefaultRotateInterval,
		Seed:           DefaultSeed,
	}
}

// withDefaults fills zero fields where zero is meaningless (see Options).
func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatCRI
	}
	if o.Namespaces == 0 {
		o.Namespaces = 1
	}
	if o.Pods == 0 {
		o.Pods = 1
	}
	if o.Containers == 0 {
		o.Containers = 1
	}
	if o.LineSize == 0 {
		o.LineSize = DefaultLineSize
	}
	if o.LongSize == 0 {
		o.LongSize = DefaultLongSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.RotateInterval == 0 {
		o.RotateInterval = DefaultRotateInterval
	}
	if o.Manifest == "" && o.Out != "" {
		o.Manifest = filepath.Join(o.Out, "manifest.json")
	}
	return o
}

// Validate reports every invalid field, after defaults are applied.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.Out == "" {
		bad("out: a directory is required")
	}
	switch o.Format {
	case FormatCRI, FormatCRIO, FormatDocker:
	default:
		bad("format: %q is not one of cri, crio, docker", o.Format)
	}
	switch o.Filler {
	case "", FillerRandom, FillerText:
	default:
		bad("filler: %q is not one of random, text", o.Filler)
	}
	if _, err := parseTZ(o.TZOffset); err != nil {
		bad("tz-offset: %v", err)
	}
	if o.Namespaces < 0 || o.Pods < 0 || o.Containers < 0 {
		bad("namespaces, pods and containers must not be negative")
	}
	if o.Lines < 0 {
		bad("lines: must not be negative")
	}
	if o.Duration < 0 {
		bad("duration: must not be negative")
	}
	if o.Rate < 0 {
		bad("rate: must not be negative")
	}
	if o.LineSize < 0 || o.LongSize < 0 {
		bad("line-size and long-size must not be negative")
	}
	if o.LongEvery < 0 {
		bad("long-every: must not be negative")
	}
	if o.RotateSize < 0 {
		bad("rotate-size: must not be negative")
	}
	if o.Format == FormatDocker {
		if o.MaxFiles < 1 {
			bad("max-files: docker max-file must be at least 1")
		}
		if o.Compress && (o.MaxFiles < 2 || o.RotateSize == 0) {
			bad("compress: docker requires max-files > 1 and rotate-size to be set")
		}
		if o.LateWrites != 0 {
			bad("late-writes: applies to the kubelet's rotation (cri, crio) only")
		}
	} else {
		if o.MaxFiles < 2 {
			bad("max-files: the kubelet requires containerLogMaxFiles > 1")
		}
		if o.Compress {
			bad("compress: applies to docker only (the kubelet always compresses)")
		}
	}
	if o.RotateInterval < 0 {
		bad("rotate-interval: must be positive")
	}
	if o.LateWrites < 0 {
		bad("late-writes: must not be negative")
	}
	if o.RestartEvery < 0 {
		bad("restart-every: must not be negative")
	}
	if o.MalformedEvery < 0 {
		bad("malformed-every: must not be negative")
	}
	return errors.Join(errs...)
}

// parseTZ parses a zone offset: "", "Z", "UTC", "+08:00", "-0530", "+8".
func parseTZ(s string) (*time.Location, error) {
	switch s {
	case "", "Z", "z", "UTC", "utc":
		return time.UTC, nil
	}
	sign := 1
	switch s[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return nil, fmt.Errorf("%q: want an offset like +08:00", s)
	}
	rest := strings.ReplaceAll(s[1:], ":", "")
	var h, m int
	var err error
	switch len(rest) {
	case 1, 2:
		h, err = strconv.Atoi(rest)
	case 4:
		h, err = strconv.Atoi(rest[:2])
		if err == nil {
			m, err = strconv.Atoi(rest[2:])
		}
	default:
		err = errors.New("bad length")
	}
	if err != nil || h > 14 || m > 59 || h < 0 || m < 0 {
		return nil, fmt.Errorf("%q: want an offset like +08:00", s)
	}
	off := sign * (h*3600 + m*60)
	if off == 0 {
		return time.UTC, nil
	}
	return time.FixedZone(s, off), nil
}

// ParseSize parses a byte quantity: a plain number, or one with a suffix
// k/K/Ki/KiB (1024), M/Mi/MiB, G/Gi/GiB, or the decimal KB, MB, GB (1000^n).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: not a non-negative number", s)
	}
	var mult float64
	switch unit {
	case "", "b", "B":
		mult = 1
	case "k", "K", "Ki", "KiB", "kiB", "kb":
		mult = 1 << 10
	case "M", "Mi", "MiB", "m":
		mult = 1 << 20
	case "G", "Gi", "GiB", "g":
		mult = 1 << 30
	case "KB":
		mult = 1e3
	case "MB":
		mult = 1e6
	case "GB":
		mult = 1e9
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	return int64(v * mult), nil
}
