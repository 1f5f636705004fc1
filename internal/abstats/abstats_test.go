package abstats

import (
	"fmt"
	"math"
	"testing"
)

// TestWilson checks intervals against published values (Newcombe 1998,
// table I, method 3, and the usual textbook cases) and the edge cases.
func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   int64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662}, // Newcombe 1998, 81/263
		{15, 148, 0.0624, 0.1605}, // Newcombe 1998, 15/148
		{0, 20, 0, 0.1611},        // Newcombe 1998, 0/20
		{1, 29, 0.0061, 0.1718},   // Newcombe 1998, 1/29
		{29, 29, 0.8830, 1},       // all converted: hi is 1, lo below it
		{50, 100, 0.4038, 0.5962}, // the symmetric case
		{5000, 10000, 0.4902, 0.5098},
		{0, 0, 0, 1},      // nothing seen: anything is possible
		{7, 5, 0.5655, 1}, // k > n is clamped to n
		{-3, 5, 0, 0.4345},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d", tt.k, tt.n), func(t *testing.T) {
			lo, hi := Wilson(tt.k, tt.n, Z95)
			if math.Abs(lo-tt.lo) > 0.00005 || math.Abs(hi-tt.hi) > 0.00005 {
				t.Errorf("Wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
			}
			if tt.n > 0 && tt.k >= 0 && tt.k <= tt.n {
				if p := float64(tt.k) / float64(tt.n); p < lo || p > hi {
					t.Errorf("the rate %.4f is outside [%.4f, %.4f]", p, lo, hi)
				}
			}
		})
	}
	// A higher z gives a wider interval.
	lo90, hi90 := Wilson(30, 100, 1.6449)
	lo99, hi99 := Wilson(30, 100, 2.5758)
	if !(lo99 < lo90 && hi99 > hi90) {
		t.Errorf("99%% [%f, %f] is not wider than 90%% [%f, %f]", lo99, hi99, lo90, hi90)
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		counts []Count
		best   string // "" for none
		rates  []float64
	}{
		{"clear winner", []Count{{"a", 1000, 100}, {"b", 1000, 200}}, "b", []float64{0.1, 0.2}},
		{"overlapping", []Count{{"a", 100, 10}, {"b", 100, 14}}, "", []float64{0.1, 0.14}},
		{"three, one ahead of both", []Count{{"a", 2000, 200}, {"b", 2000, 400}, {"c", 2000, 210}}, "b", []float64{0.1, 0.2, 0.105}},
		{"three, top two overlap", []Count{{"a", 2000, 200}, {"b", 2000, 400}, {"c", 2000, 390}}, "", []float64{0.1, 0.2, 0.195}},
		{"a variant nobody saw", []Count{{"a", 500, 50}, {"b", 0, 0}}, "", []float64{0.1, 0}},
		{"one variant", []Count{{"a", 500, 50}}, "", []float64{0.1}},
		{"the first can win too", []Count{{"a", 1000, 300}, {"b", 1000, 100}}, "a", []float64{0.3, 0.1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := Compare(tt.counts, Z95)
			if len(rows) != len(tt.counts) {
				t.Fatalf("%d rows for %d counts", len(rows), len(tt.counts))
			}
			best := ""
			for i, r := range rows {
				if r.Variant != tt.counts[i].Variant {
					t.Errorf("row %d is %s, want the input's order", i, r.Variant)
				}
				if math.Abs(r.Rate-tt.rates[i]) > 1e-9 {
					t.Errorf("%s: rate %f, want %f", r.Variant, r.Rate, tt.rates[i])
				}
				if r.Lo > r.Rate || r.Hi < r.Rate {
					t.Errorf("%s: rate %f outside [%f, %f]", r.Variant, r.Rate, r.Lo, r.Hi)
				}
				if r.Best {
					if best != "" {
						t.Errorf("two best rows: %s and %s", best, r.Variant)
					}
					best = r.Variant
				}
			}
			if best != tt.best {
				t.Errorf("best = %q, want %q (rows %+v)", best, tt.best, rows)
			}
		})
	}
}
