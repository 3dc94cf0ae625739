package main

import (
	"fmt"
	"math"
	"sort"
)

// Median returns the median of xs, NaN when xs is empty. The median, not
// the mean, because one disturbed repetition (another process compiling on
// a shared machine) should not move the summary.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// PairRatios divides each value of b by the base value from the same
// repetition. Pairing by repetition cancels drift that affects both runs of
// a pair (they ran back to back); repetitions missing on either side, and
// non-positive bases, are skipped.
func PairRatios(b, base map[int]float64) []float64 {
	reps := make([]int, 0, len(b))
	for r := range b {
		reps = append(reps, r)
	}
	sort.Ints(reps)
	var out []float64
	for _, r := range reps {
		d, ok := base[r]
		if !ok || !(d > 0) || math.IsNaN(b[r]) || math.IsInf(b[r], 0) {
			continue
		}
		out = append(out, b[r]/d)
	}
	return out
}

// Spread returns the smallest and largest value of xs (NaN, NaN if empty).
func Spread(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

// Verdict is what a comparison against std may claim.
type Verdict int

const (
	// Insufficient: fewer than MinPairs pairs, nothing may be claimed.
	Insufficient Verdict = iota
	// Noise: the pairs disagree on the side of 1.0, so no claim.
	Noise
	// Win: every pair is better than std.
	Win
	// Loss: every pair is worse than std.
	Loss
)

// MinPairs is the fewest pairs a verdict needs: one pair cannot show
// whether its difference is larger than the run-to-run noise (3-4% CV on
// the reference machine).
const MinPairs = 2

// Comparison summarises the per-pair ratios of one backend against std.
type Comparison struct {
	Pairs   int
	Median  float64
	Min     float64
	Max     float64
	Verdict Verdict
}

// Compare applies the noise rule: a ratio is a win or a loss only when at
// least MinPairs pairs exist and all of them fall on the same side of 1.0;
// if the min-max spread of the pairs covers 1.0 it is "~" (within noise).
// higherBetter says which side of 1.0 is the win (req/s vs. latency/CPU).
func Compare(ratios []float64, higherBetter bool) Comparison {
	c := Comparison{Pairs: len(ratios), Median: Median(ratios)}
	c.Min, c.Max = Spread(ratios)
	switch {
	case c.Pairs < MinPairs:
		c.Verdict = Insufficient
	case c.Min <= 1 && c.Max >= 1:
		c.Verdict = Noise
	case (c.Min > 1) == higherBetter:
		c.Verdict = Win
	default:
		c.Verdict = Loss
	}
	return c
}

// String renders the comparison for a table cell, for example
// "1.12 win [1.08–1.15]", "~1.01 [0.97–1.06]" or "1.05 ? (1 pair)".
func (c Comparison) String() string {
	switch {
	case c.Pairs == 0:
		return "-"
	case c.Verdict == Insufficient:
		return fmt.Sprintf("%.2f ? (%d pair)", c.Median, c.Pairs)
	case c.Verdict == Noise:
		return fmt.Sprintf("~%.2f [%.2f–%.2f]", c.Median, c.Min, c.Max)
	case c.Verdict == Win:
		return fmt.Sprintf("**%.2f win** [%.2f–%.2f]", c.Median, c.Min, c.Max)
	default:
		return fmt.Sprintf("**%.2f loss** [%.2f–%.2f]", c.Median, c.Min, c.Max)
	}
}
