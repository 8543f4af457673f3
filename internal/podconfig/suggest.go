package podconfig

import (
	"strconv"
	"strings"

	"github.com/logferry/logferry/internal/suggest"
)

// didYouMean returns `; did you mean "<candidate>"?` for the candidate closest to word,
// or "" when none is close. Close means: equal after case folding and ignoring '-' and
// '_', a prefix of at least four bytes, or an edit distance of at most a third of the
// candidate's length (at least 1).
func didYouMean(word string, candidates []string) string {
	if s := closest(word, candidates); s != "" {
		return "; did you mean " + strconv.Quote(s) + "?"
	}
	return ""
}

func closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	norm := func(s string) string {
		return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(s))
	}
	best, bestD := "", -1
	for _, c := range candidates {
		if c == word {
			continue
		}
		lc := strings.ToLower(c)
		if norm(w) == norm(lc) || (len(w) >= 4 && strings.HasPrefix(lc, w)) {
			return c
		}
		d := suggest.Distance(w, lc)
		if d <= max(1, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// keySuggestion suggests a known key (written with prefix) for an unknown one:
// a misspelt key, or a known key with a wrong scope separator ("multiline_app" for
// "multiline.app").
func keySuggestion(name, prefix string) string {
	keys := Keys()
	// Longest first, so that "rate-limit-app" is read as rate-limit, not rate.
	for _, k := range []string{KeySilenceAfter, KeyRateLimit, KeyMultiline, KeyExclude, KeyInclude, KeyRoute, KeyParse, KeyFiles, KeyDrop} {
		if rest, ok := strings.CutPrefix(name, k); ok && len(rest) > 1 && strings.ContainsRune("/_-:", rune(rest[0])) && validContainerName(rest[1:]) {
			return "; did you mean " + strconv.Quote(prefix+k+"."+rest[1:]) + "?"
		}
	}
	base, scope, scoped := strings.Cut(name, ".")
	if s := closest(base, keys); s != "" {
		if scoped {
			s += "." + scope
		}
		return "; did you mean " + strconv.Quote(prefix+s) + "?"
	}
	return ""
}
