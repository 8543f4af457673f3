// Package suggest finds what a user probably meant when they wrote an unknown name (a
// configuration key, an annotation, a preset).
package suggest

// Distance is the Levenshtein edit distance between a and b, in bytes. Inputs are
// meant to be short (keys, names); longer ones are cut at 64 bytes, which only matters
// for what is suggested.
func Distance(a, b string) int {
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
