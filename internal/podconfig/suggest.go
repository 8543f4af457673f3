package podconfig

import (
	"strconv"
	"strings"
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
		d := levenshtein(w, lc)
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

// levenshtein is the edit distance between a and b, in bytes. Inputs are short (keys,
// names); longer ones are cut at 64 bytes, which only matters for what is suggested.
func levenshtein(a, b string) int {
	const limit = 64
	if len(a) > limit {
		a = a[:limit]
	}
	if len(b) > limit {
		b = b[:limit]
	}
	var prev, cur [limit + 1]int
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
