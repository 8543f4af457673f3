package podconfig

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resolve returns the Settings of one container of a pod, from the pod's annotations
// and the agent configuration's rules, and the Problems found on the way.
//
// Value syntax (annotation `logferry.io/<key>`, or rule value `<key>`):
//
//	exclude        true | false
//	parse          json | logfmt | none
//	multiline      java | go | python | ruby | dotnet | regex:<first-line regex> | none,
//	               then optionally `; max_lines=200; max_bytes=64KiB; timeout=3s`
//	include, drop  a regex, or several separated by newlines (a line matching any)
//	route          [a-z0-9][a-z0-9._-]{0,62}
//	files          <container>:<absolute path or path.Match glob>, comma separated
//	rate-limit     1000/s | 1000 lines/s (lines) | 2MiB/s (bytes), optionally burst=N
//	silence-after  a Go duration of at least 10s | none
//
// "none" turns the setting off, which overrides a rule. Every key may be scoped to one
// container: `<key>.<container>`.
//
// Precedence, per key, in four tiers: the pod's scoped annotation, its unscoped
// annotation, the scoped values of the rules matching the pod, then their unscoped
// values; within a rule tier the last matching rule that sets the key comes first. (So
// a rule's value for one container beats any rule's value for every container, as on
// the pod.) The first source whose value is usable decides. A bad value is reported and skipped: the
// next source applies, and the default when none is left. Values below the deciding one
// are not looked at.
//
// Problems name an annotation key exactly as given (or, for a rule value, "<where>:
// <key>"), the value and the reason. Resolve also reports the pod's `logferry.io/` keys
// that are unknown (with a suggestion), scoped to something that is not a container
// name, or, when pod.Containers is set, to a container the pod does not have. Rules
// returned by ParseRules had their bad values reported and removed already; only
// hand-built rules can still produce Problems here. Problems come in a stable order:
// annotation key checks sorted by key, then values in the order of Keys.
func Resolve(annotations map[string]string, rules []Rule, pod PodInfo, container string, o Options) (Settings, []Problem) {
	var s Settings
	probs := checkAnnotationKeys(annotations, pod, nil)

	var matched []int
	for i := range rules {
		if rules[i].Matches(pod) {
			matched = append(matched, i)
		}
	}
	type source struct {
		key, value, scope string
		report            bool
	}
	var srcs []source
	for _, k := range Keys() {
		srcs = srcs[:0]
		scoped := k + "." + container
		if container != "" {
			if v, ok := annotations[Prefix+scoped]; ok {
				srcs = append(srcs, source{Prefix + scoped, v, container, true})
			}
		}
		if v, ok := annotations[Prefix+k]; ok {
			srcs = append(srcs, source{Prefix + k, v, "", true})
		}
		if container != "" {
			for i := len(matched) - 1; i >= 0; i-- {
				r := &rules[matched[i]]
				if v, ok := r.Values[scoped]; ok {
					srcs = append(srcs, source{r.name(matched[i], scoped), v, container, !r.checked})
				}
			}
		}
		for i := len(matched) - 1; i >= 0; i-- {
			r := &rules[matched[i]]
			if v, ok := r.Values[k]; ok {
				srcs = append(srcs, source{r.name(matched[i], k), v, "", !r.checked})
			}
		}
		for _, src := range srcs {
			ok, reasons := apply(k, src.value, src.scope, container, pod, o, &s)
			if src.report {
				for _, why := range reasons {
					probs = append(probs, Problem{Key: src.key, Value: src.value, Reason: why})
				}
			}
			if ok {
				break
			}
		}
	}
	return s, probs
}

// apply parses value v of key k into s, for container (scope is the container a
// scoped key names, "" for an unscoped key). ok reports whether the value is used;
// reasons lists what was wrong with it, also when it is used in part.
func apply(k, v, scope, container string, pod PodInfo, o Options, s *Settings) (ok bool, reasons []string) {
	switch k {
	case KeyExclude:
		var b bool
		if b, ok, reasons = parseExclude(v); ok {
			s.Exclude = b
		}
	case KeyParse:
		var p string
		if p, ok, reasons = parseParse(v); ok {
			s.Parse, s.ParseKey = p, ""
			if p != "" {
				s.ParseKey = o.parseKey()
			}
		}
	case KeyMultiline:
		var m *Multiline
		if m, ok, reasons = parseMultiline(v, o); ok {
			s.Multiline = m
		}
	case KeyInclude, KeyDrop:
		var res []*regexp.Regexp
		if res, ok, reasons = parsePatterns(v); ok {
			if k == KeyInclude {
				s.Include = res
			} else {
				s.Drop = res
			}
		}
	case KeyRoute:
		var r string
		if r, ok, reasons = parseRoute(v); ok {
			s.Route = r
		}
	case KeyFiles:
		var specs []FileSpec
		if specs, ok, reasons = parseFiles(v, scope, pod); ok {
			s.Files = nil
			for _, f := range specs {
				if f.Container == container {
					s.Files = append(s.Files, f)
				}
			}
		}
	case KeyRateLimit:
		var r *RateLimit
		if r, ok, reasons = parseRateLimit(v); ok {
			s.RateLimit = r
		}
	case KeySilenceAfter:
		var d time.Duration
		if d, ok, reasons = parseSilenceAfter(v); ok {
			s.SilenceAfter = d
		}
	default:
		return false, []string{"unknown key"}
	}
	return ok, reasons
}

// checkAnnotationKeys appends the Problems of the pod's own `logferry.io/` keys that
// are not `<key>` or `<key>.<container>`.
func checkAnnotationKeys(annotations map[string]string, pod PodInfo, probs []Problem) []Problem {
	var keys []string
	for k := range annotations {
		if strings.HasPrefix(k, Prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if why := checkKey(k[len(Prefix):], pod.Containers, Prefix); why != "" {
			probs = append(probs, Problem{Key: k, Value: annotations[k], Reason: why})
		}
	}
	return probs
}

// checkKey returns why name (a key without the prefix) is not a known key, optionally
// scoped to a container among containers (when that list is set), or "". Suggestions
// are written with prefix.
func checkKey(name string, containers []string, prefix string) string {
	base, scope, scoped := strings.Cut(name, ".")
	switch {
	case !slices.Contains(Keys(), base):
		return "unknown key " + strconv.Quote(name) + keySuggestion(name, prefix)
	case !scoped:
		return ""
	case !validContainerName(scope):
		return "the scope " + strconv.Quote(scope) + " is not a container name (want " +
			strconv.Quote(base+".<container>") + ")"
	case len(containers) > 0 && !slices.Contains(containers, scope):
		return "the pod has no container " + strconv.Quote(scope) + didYouMean(scope, containers)
	}
	return ""
}
