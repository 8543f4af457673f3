package podconfig

import (
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// RawRule is one rule as written in the agent configuration.
type RawRule struct {
	// Namespaces the rule applies to; empty means every namespace.
	Namespaces []string
	// Selector is a label selector in the standard string syntax
	// ("app=web,tier in (a,b),!canary"); empty selects every pod.
	Selector string
	// Values are keyed like the annotations, without the prefix ("multiline",
	// "multiline.app"), with the same value syntax.
	Values map[string]string
	// Where locates the rule for Problems, e.g. "agent.yaml:42"; "" means
	// "rules[<index>]".
	Where string
}

// Rule is a parsed RawRule: it applies to the pods of Namespaces (all when empty) that
// Selector matches (all when nil). A Rule is immutable once built and may be shared
// between goroutines.
type Rule struct {
	Namespaces []string
	Selector   labels.Selector
	Values     map[string]string

	where   string // RawRule.Where
	checked bool   // built by ParseRules: Values hold only keys and values found usable
}

// Matches reports whether the rule applies to pod.
func (r *Rule) Matches(pod PodInfo) bool {
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, pod.Namespace) {
		return false
	}
	return r.Selector == nil || r.Selector.Matches(labels.Set(pod.Labels))
}

// name is how Problems name key of the rule at index i.
func (r *Rule) name(i int, key string) string {
	if r.where != "" {
		return r.where + ": " + key
	}
	return "rules[" + strconv.Itoa(i) + "]: " + key
}

// ParseRules checks and parses rules. A rule whose namespaces or selector are bad is
// left out (it could otherwise apply to more pods than meant); a bad value is reported
// and removed from the rule, so that Resolve falls through to the next source for it.
// A value usable in part (a files list with one bad entry, a multiline value with a bad
// parameter) is kept and reported once here, not again by Resolve. The result keeps
// the order of raw: later rules take precedence.
//
// Values are checked without a pod: a files entry naming a container the pod does not
// have is only found by the caller (the entry then simply matches no container).
func ParseRules(raw []RawRule) ([]Rule, []Problem) {
	var rules []Rule
	var probs []Problem
	for i, rr := range raw {
		where := rr.Where
		if where == "" {
			where = "rules[" + strconv.Itoa(i) + "]"
		}
		r := Rule{where: where, checked: true}
		bad := false
		for _, ns := range rr.Namespaces {
			if !validContainerName(ns) { // namespaces are DNS-1123 labels too
				probs = append(probs, Problem{Key: where + ": namespaces", Value: ns,
					Reason: "not a namespace name; the rule is ignored"})
				bad = true
			}
		}
		if sel := strings.TrimSpace(rr.Selector); sel != "" {
			s, err := labels.Parse(sel)
			if err != nil {
				probs = append(probs, Problem{Key: where + ": selector", Value: rr.Selector,
					Reason: "bad label selector: " + err.Error() + "; the rule is ignored"})
				bad = true
			}
			r.Selector = s
		}
		if bad {
			continue
		}
		r.Namespaces = slices.Clone(rr.Namespaces)
		r.Values = make(map[string]string, len(rr.Values))
		keys := make([]string, 0, len(rr.Values))
		for k := range rr.Values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := rr.Values[k]
			if rest, ok := strings.CutPrefix(k, Prefix); ok {
				probs = append(probs, Problem{Key: where + ": " + k, Value: v,
					Reason: "rule values are keyed without the " + Prefix + " prefix (want " + strconv.Quote(rest) + ")"})
				continue
			}
			if why := checkKey(k, nil, ""); why != "" {
				probs = append(probs, Problem{Key: where + ": " + k, Value: v, Reason: why})
				continue
			}
			base, scope, _ := strings.Cut(k, ".")
			ok, reasons := apply(base, v, scope, scope, PodInfo{}, Options{}, &Settings{})
			for _, why := range reasons {
				probs = append(probs, Problem{Key: where + ": " + k, Value: v, Reason: why})
			}
			if ok {
				r.Values[k] = v
			}
		}
		if len(rr.Values) == 0 {
			probs = append(probs, Problem{Key: where + ": values", Reason: "the rule sets nothing"})
		}
		rules = append(rules, r)
	}
	return rules, probs
}
