package source

// Suggest returns the candidate closest to name by edit distance, or "" when
// none is close enough to be a likely typo (at most a third of the name's
// length, and at most 3 edits).
func Suggest(name string, candidates []string) string {
	best, bestDist := "", 0
	limit := min(3, max(1, len([]rune(name))/3))
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := levenshtein(name, c)
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
