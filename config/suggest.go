package config

import "strings"

// suggest returns the keyword among candidates closest to word by
// optimal-string-alignment (Damerau-Levenshtein) distance, if it is close
// enough to be a plausible typo: distance at most 2, or at most a third of
// the word's length for long words, or candidates sharing a long prefix
// (advert_interval -> advert_int). It returns "" otherwise.
func suggest(word string, candidates []string) string {
	if len(word) > 64 {
		return "" // no keyword is that long; spare the quadratic distance
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if len(c) == len(word) && strings.EqualFold(c, word) {
			return c
		}
	}
	for _, c := range candidates {
		d := osaDistance(word, c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := 2
	if l := len(word) / 3; l > limit {
		limit = l
	}
	if bestD <= limit {
		return best
	}
	// A keyword that is a prefix of the word, or the other way round
	// (advert_interval / advert_int, virtual_ipaddr / virtual_ipaddress).
	for _, c := range candidates {
		if len(c) >= 5 && len(word) >= 5 && (hasPrefix(word, c) || hasPrefix(c, word)) {
			return c
		}
	}
	return ""
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// osaDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes.
func osaDistance(a, b string) int {
	if a == b {
		return 0
	}
	// Three rolling rows.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
