// Package abstats compares the variants of an A/B experiment: conversion
// rates with Wilson score intervals. It is pure arithmetic: the counts
// come from the funnel rollup (conversation), the words from the caller.
package abstats

import (
	"math"
	"sort"
)

// Z95 is the normal quantile of a two-sided 95 % interval.
const Z95 = 1.959963984540054

// Wilson returns the Wilson score interval, at normal quantile z, of a
// rate of k successes out of n trials: lo <= k/n <= hi, both within [0, 1].
// Unlike the normal ("Wald") interval it stays inside [0, 1] and is not
// empty at k = 0 or k = n, which matters for the small counts of a young
// experiment. n = 0 gives the whole range [0, 1]; k is clamped to [0, n].
func Wilson(k, n int64, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	k = min(max(k, 0), n)
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = max(center-half, 0), min(center+half, 1)
	// exact at the ends, whatever the rounding
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// Count is what one variant did: N conversations went into it, K of them
// converted (reached the outcome compared).
type Count struct {
	Variant string
	N, K    int64
}

// Row is one variant's line of a comparison.
type Row struct {
	Variant string
	N, K    int64
	// Rate is K/N (0 when N is 0); Lo and Hi its Wilson interval.
	Rate, Lo, Hi float64
	// Best is set on the variant whose interval lies wholly above every
	// other variant's: the one that converts better, with the interval's
	// confidence. At most one row has it; none while intervals overlap.
	Best bool
}

// Compare computes each variant's rate and interval at z, in the order
// given, and marks the best variant when the data shows one.
func Compare(counts []Count, z float64) []Row {
	rows := make([]Row, len(counts))
	for i, c := range counts {
		r := Row{Variant: c.Variant, N: c.N, K: min(max(c.K, 0), max(c.N, 0))}
		if r.N > 0 {
			r.Rate = float64(r.K) / float64(r.N)
		}
		r.Lo, r.Hi = Wilson(r.K, r.N, z)
		rows[i] = r
	}
	if len(rows) < 2 {
		return rows
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rows[order[a]].Lo > rows[order[b]].Lo })
	top := order[0]
	for _, i := range order[1:] {
		if rows[i].Hi >= rows[top].Lo {
			return rows
		}
	}
	rows[top].Best = true
	return rows
}
