package podconfig

import (
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds on values, so that one annotation cannot make the agent compile or hold
// something unreasonable.
const (
	maxPatterns         = 64      // regexes in one include/drop value
	maxPatternLen       = 4096    // bytes of one regex
	maxFiles            = 64      // entries in one files value
	maxPathLen          = 4096    // PATH_MAX
	maxMultilineLines   = 100_000 // max_lines
	maxMultilineBytes   = 16 << 20
	maxMultilineTimeout = 5 * time.Minute
	maxRate             = 1e12 // lines or bytes per second, and burst
)

// A value parser returns what it parsed, ok=false when the value as a whole is unusable
// (it is then ignored and the next source applies), and the reasons for every Problem
// found, also when ok (a bad multiline parameter, one bad files entry).

func parseExclude(v string) (bool, bool, []string) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, []string{`want "true" or "false"`}
}

// parseParse returns "" for "none" (explicitly off, overriding a rule).
func parseParse(v string) (string, bool, []string) {
	t := strings.ToLower(strings.TrimSpace(v))
	switch t {
	case ParseJSON, ParseLogfmt:
		return t, true, nil
	case "none":
		return "", true, nil
	}
	return "", false, []string{`want "json", "logfmt" or "none"` + didYouMean(t, []string{ParseJSON, ParseLogfmt, "none"})}
}

// parseMultiline parses `<mode>[; name=value]...` where mode is a preset name,
// `regex:<first-line regex>` or "none" (off, overriding a rule; the result is nil).
// Trailing `;`-separated segments of the form `name=value` are parameters: max_lines,
// max_bytes (a size: 65536, 64KiB, 1MiB) and timeout (a Go duration). A custom regex
// that must end in `;name=...` is written with `[;]`. A bad parameter is reported and
// its default kept; the value still applies.
func parseMultiline(v string, o Options) (*Multiline, bool, []string) {
	segs := strings.Split(v, ";")
	j := len(segs)
	for j > 1 && isParam(segs[j-1]) {
		j--
	}
	mode := strings.TrimSpace(strings.Join(segs[:j], ";"))
	var reasons []string
	m := &Multiline{MaxLines: o.maxLines(), MaxBytes: o.maxBytes(), Timeout: o.timeout()}
	switch lower := strings.ToLower(mode); {
	case lower == "none":
		if j < len(segs) {
			reasons = append(reasons, "parameters are ignored with none")
		}
		return nil, true, reasons
	case strings.HasPrefix(lower, "regex:"):
		expr := strings.TrimSpace(mode[len("regex:"):])
		if expr == "" {
			return nil, false, []string{"empty regex after regex:"}
		}
		if len(expr) > maxPatternLen {
			return nil, false, []string{"regex longer than " + strconv.Itoa(maxPatternLen) + " bytes"}
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, false, []string{"bad regex: " + err.Error()}
		}
		m.Start = re
	case isPreset(lower):
		m.Preset = lower
	default:
		return nil, false, []string{"unknown multiline mode " + strconv.Quote(mode) +
			"; want java, go, python, ruby, dotnet, regex:<first-line regex> or none" +
			didYouMean(lower, append(Presets(), "none"))}
	}
	for _, p := range segs[j:] {
		name, val, _ := strings.Cut(p, "=")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "max_lines":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxMultilineLines {
				reasons = append(reasons, "max_lines "+strconv.Quote(val)+": want an integer from 1 to "+strconv.Itoa(maxMultilineLines))
				continue
			}
			m.MaxLines = n
		case "max_bytes":
			n, ok := parseSize(val)
			if !ok || n < 1 || n > maxMultilineBytes {
				reasons = append(reasons, "max_bytes "+strconv.Quote(val)+": want a size from 1 to 16MiB (65536, 64KiB)")
				continue
			}
			m.MaxBytes = int(n)
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > maxMultilineTimeout {
				reasons = append(reasons, "timeout "+strconv.Quote(val)+": want a Go duration above 0 and at most 5m (3s, 500ms)")
				continue
			}
			m.Timeout = d
		default:
			reasons = append(reasons, "unknown parameter "+strconv.Quote(name)+
				"; want max_lines, max_bytes or timeout"+didYouMean(name, []string{"max_lines", "max_bytes", "timeout"}))
		}
	}
	return m, true, reasons
}

// isParam reports whether seg looks like `name=value` with a lower-case name.
func isParam(seg string) bool {
	s := strings.TrimLeft(seg, " \t")
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] == '_') {
		i++
	}
	if i == 0 {
		return false
	}
	s = strings.TrimLeft(s[i:], " \t")
	return strings.HasPrefix(s, "=")
}

func isPreset(s string) bool { return slices.Contains(Presets(), s) }

// parsePatterns parses one regex or several separated by newlines (a trailing "\r"
// is removed; blank lines are skipped; nothing else is trimmed, so spaces are part of
// the regex). One bad regex makes the whole value unusable: a partial include list
// would keep less than was meant.
func parsePatterns(v string) ([]*regexp.Regexp, bool, []string) {
	var out []*regexp.Regexp
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(out) == maxPatterns {
			return nil, false, []string{"more than " + strconv.Itoa(maxPatterns) + " patterns"}
		}
		if len(line) > maxPatternLen {
			return nil, false, []string{"line " + strconv.Itoa(i+1) + ": regex longer than " + strconv.Itoa(maxPatternLen) + " bytes"}
		}
		re, err := regexp.Compile(line)
		if err != nil {
			return nil, false, []string{"line " + strconv.Itoa(i+1) + ": bad regex: " + err.Error()}
		}
		out = append(out, re)
	}
	if len(out) == 0 {
		return nil, false, []string{"no pattern"}
	}
	return out, true, nil
}

// ValidRoute reports whether s is a route name: it matches [a-z0-9][a-z0-9._-]{0,62}.
func ValidRoute(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func parseRoute(v string) (string, bool, []string) {
	t := strings.TrimSpace(v)
	if !ValidRoute(t) {
		return "", false, []string{"want a route name: [a-z0-9][a-z0-9._-]{0,62}"}
	}
	return t, true, nil
}

// validContainerName reports whether s is a DNS-1123 label, as Kubernetes container
// (and namespace) names are.
func validContainerName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// parseFiles parses comma-separated `<container>:<path>` entries. Under a scoped key
// (scope != "") an entry may be a bare path, meaning the scope's container, and an
// entry naming another container is refused. Paths must be absolute and clean (no
// "." or ".." elements, no empty elements, no trailing "/"), with a valid path.Match
// pattern. Entries are independent: a bad one is reported and dropped, the others
// apply; the value is unusable only when no entry is good.
func parseFiles(v, scope string, pod PodInfo) ([]FileSpec, bool, []string) {
	var specs []FileSpec
	var reasons []string
	for _, ent := range strings.Split(v, ",") {
		ent = strings.TrimSpace(ent)
		if ent == "" {
			continue
		}
		bad := func(why string) { reasons = append(reasons, "entry "+quote(ent)+": "+why) }
		var c, p string
		if strings.HasPrefix(ent, "/") {
			if scope == "" {
				bad("want <container>:<absolute path>")
				continue
			}
			c, p = scope, ent
		} else {
			var found bool
			c, p, found = strings.Cut(ent, ":")
			if !found {
				bad("want <container>:<absolute path>")
				continue
			}
			c, p = strings.TrimSpace(c), strings.TrimSpace(p)
		}
		switch {
		case !validContainerName(c):
			bad(strconv.Quote(c) + " is not a container name")
			continue
		case scope != "" && c != scope:
			bad("names container " + strconv.Quote(c) + " but the key is scoped to " + strconv.Quote(scope))
			continue
		case len(pod.Containers) > 0 && !slices.Contains(pod.Containers, c):
			bad("the pod has no container " + strconv.Quote(c) + didYouMean(c, pod.Containers))
			continue
		}
		if why := checkPath(p); why != "" {
			bad(why)
			continue
		}
		if len(specs) == maxFiles {
			reasons = append(reasons, "more than "+strconv.Itoa(maxFiles)+" entries; the rest are ignored")
			break
		}
		specs = append(specs, FileSpec{Container: c, Path: p})
	}
	if len(specs) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no entry")
		}
		return nil, false, reasons
	}
	return specs, true, reasons
}

// checkPath returns why p is not an acceptable file path or pattern, or "".
func checkPath(p string) string {
	switch {
	case p == "":
		return "empty path"
	case !strings.HasPrefix(p, "/"):
		return "path " + strconv.Quote(p) + " is relative; want an absolute path"
	case len(p) > maxPathLen:
		return "path longer than " + strconv.Itoa(maxPathLen) + " bytes"
	case strings.IndexByte(p, 0) >= 0:
		return "path contains a NUL byte"
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == ".." {
			return "path " + strconv.Quote(p) + " has a .. element"
		}
	}
	if c := path.Clean(p); c != p || p == "/" {
		return "path " + strconv.Quote(p) + " is not a clean file path (want " + strconv.Quote(c) + ")"
	}
	if _, err := path.Match(p, ""); err != nil {
		return "path " + strconv.Quote(p) + " is a bad glob pattern"
	}
	return ""
}

// parseRateLimit parses `<n>/s` or `<n> lines/s` (lines), `<size>/s` (bytes: 2MiB/s,
// 500KB/s), then optionally `burst=<n>` (a size for a byte limit), separated by spaces,
// ";" or ",". "none" turns the limit off (overriding a rule). A bad burst is reported
// and the default (one second's worth) kept.
func parseRateLimit(v string) (*RateLimit, bool, []string) {
	t := strings.ToLower(strings.TrimSpace(v))
	if t == "none" {
		return nil, true, nil
	}
	t = strings.NewReplacer(";", " ", ",", " ", "\t", " ").Replace(t)
	for strings.Contains(t, " =") || strings.Contains(t, "= ") {
		t = strings.ReplaceAll(strings.ReplaceAll(t, " =", "="), "= ", "=")
	}
	var rate, burst string
	var hasBurst bool
	var reasons []string
	for _, f := range strings.Fields(t) {
		if name, val, ok := strings.Cut(f, "="); ok {
			if name == "burst" {
				burst, hasBurst = val, true
			} else {
				reasons = append(reasons, "unknown parameter "+strconv.Quote(name)+"; want burst=<n>")
			}
			continue
		}
		rate += f
	}
	const want = "want <n>/s or <n> lines/s (lines), or <size>/s such as 2MiB/s (bytes), then optionally burst=<n>"
	num, ok := strings.CutSuffix(rate, "/s")
	if !ok {
		return nil, false, append(reasons, want)
	}
	n, unit, ok := splitNumber(num)
	if !ok {
		return nil, false, append(reasons, want)
	}
	r := &RateLimit{}
	switch unit {
	case "", "line", "lines":
		r.Lines = n
	default:
		mult, ok := sizeUnit(unit)
		if !ok {
			return nil, false, append(reasons, "unknown unit "+strconv.Quote(unit)+"; "+want)
		}
		r.Bytes = n * mult
	}
	limit := r.Lines + r.Bytes
	if !(limit > 0 && limit <= maxRate) || (r.Bytes > 0 && r.Bytes < 1) {
		return nil, false, append(reasons, "the rate must be above 0 and at most 1e12")
	}
	r.Burst = max(limit, 1)
	if hasBurst {
		b, ok := parseBurst(burst, r.Bytes > 0)
		if !ok {
			reasons = append(reasons, "burst "+strconv.Quote(burst)+": want a number of lines (a size for a byte limit) from 1 to 1e12; using one second's worth")
		} else {
			r.Burst = b
		}
	}
	return r, true, reasons
}

func parseBurst(s string, bytes bool) (float64, bool) {
	n, unit, ok := splitNumber(s)
	if !ok {
		return 0, false
	}
	if unit != "" {
		mult, ok := sizeUnit(unit)
		if !ok || !bytes {
			return 0, false
		}
		n *= mult
	}
	return n, n >= 1 && n <= maxRate
}

// splitNumber splits s into a decimal number (digits and at most one '.') and the
// unit after it (spaces removed).
func splitNumber(s string) (float64, string, bool) {
	i, dots := 0, 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		if s[i] == '.' {
			dots++
		}
		i++
	}
	if i == 0 || dots > 1 || s[:i] == "." {
		return 0, "", false
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, "", false
	}
	return n, strings.TrimSpace(s[i:]), true
}

// sizeUnit returns the multiplier of a size unit, as internal/config spells them: B;
// K or KB (1000), M or MB, G or GB; Ki or KiB (1024), Mi or MiB, Gi or GiB. Units are
// case-insensitive.
func sizeUnit(u string) (float64, bool) {
	switch strings.ToLower(u) {
	case "", "b":
		return 1, true
	case "k", "kb":
		return 1e3, true
	case "ki", "kib":
		return 1 << 10, true
	case "m", "mb":
		return 1e6, true
	case "mi", "mib":
		return 1 << 20, true
	case "g", "gb":
		return 1e9, true
	case "gi", "gib":
		return 1 << 30, true
	}
	return 0, false
}

// parseSize parses a whole number of bytes with an optional unit.
func parseSize(s string) (int64, bool) {
	n, unit, ok := splitNumber(strings.TrimSpace(s))
	if !ok {
		return 0, false
	}
	mult, ok := sizeUnit(unit)
	if !ok {
		return 0, false
	}
	n *= mult
	if n != math.Trunc(n) || n > math.MaxInt32 {
		return 0, false
	}
	return int64(n), true
}

// parseSilenceAfter parses a Go duration of at least MinSilenceAfter, or "none"
// (not watched, overriding a rule).
func parseSilenceAfter(v string) (time.Duration, bool, []string) {
	t := strings.TrimSpace(v)
	if strings.EqualFold(t, "none") {
		return 0, true, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, false, []string{"want a Go duration such as 30s, 5m or 1h30m"}
	}
	if d < MinSilenceAfter {
		return 0, false, []string{"must be at least " + MinSilenceAfter.String()}
	}
	return d, true, nil
}

func (o Options) parseKey() string {
	if o.ParseKey == "" {
		return DefaultParseKey
	}
	return o.ParseKey
}

func (o Options) maxLines() int {
	if o.MultilineMaxLines <= 0 {
		return DefaultMultilineMaxLines
	}
	return o.MultilineMaxLines
}

func (o Options) maxBytes() int {
	if o.MultilineMaxBytes <= 0 {
		return DefaultMultilineMaxBytes
	}
	return o.MultilineMaxBytes
}

func (o Options) timeout() time.Duration {
	if o.MultilineTimeout <= 0 {
		return DefaultMultilineTimeout
	}
	return o.MultilineTimeout
}
