// Package didyoumean finds the known name nearest to a mistyped one, for
// messages such as `unknown flag --selectors (did you mean --selector?)`.
//
// It only compares strings: it knows nothing of flags, commands or files,
// and never decides whether a name is wrong.
package didyoumean

// Nearest returns the candidate nearest to name by edit distance, if one is
// close enough to be a typo of it: within a third of name's length (at
// least one edit, at most three), or a candidate that name starts with or
// that starts with name. Names shorter than three bytes get no
// suggestion. It returns "" when none is close, and the first of equally
// near candidates.
func Nearest(name string, candidates []string) string {
	if len(name) < 3 {
		return ""
	}
	limit := min(max(1, len(name)/3), 3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == "" || c == name {
			continue
		}
		d := Distance(name, c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if c != name && len(c) >= 3 && (hasPrefix(c, name) || hasPrefix(name, c)) {
			return c
		}
	}
	return ""
}

// Distance is the edit distance between a and b, in bytes: the fewest
// insertions, deletions, substitutions and swaps of two neighbours
// ("entyr" for "entry") that turn a into b, each swapped pair edited once
// (optimal string alignment).
func Distance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
