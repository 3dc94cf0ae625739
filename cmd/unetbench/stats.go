package main

import (
	"fmt"
	"math"
	"sort"

	"golang.org/x/perf/benchmath"
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

// pairs lists the repetitions present in both b and base with a positive,
// finite base and a finite b: the repetitions a paired comparison can use.
func pairs(b, base map[int]float64) []int {
	var reps []int
	for r, v := range b {
		d, ok := base[r]
		if !ok || !(d > 0) || math.IsInf(d, 0) || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		reps = append(reps, r)
	}
	sort.Ints(reps)
	return reps
}

// PairRatios divides each value of b by the base value from the same
// repetition. Pairing by repetition cancels drift that affects both runs of
// a pair (they ran back to back); repetitions missing on either side, and
// non-positive bases, are skipped.
func PairRatios(b, base map[int]float64) []float64 {
	var out []float64
	for _, r := range pairs(b, base) {
		out = append(out, b[r]/base[r])
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
	// Noise: the tests do not reject "no difference" at Alpha.
	Noise
	// Win: significantly better than std.
	Win
	// Loss: significantly worse than std.
	Loss
)

// MinPairs is the fewest pairs a verdict needs. With fewer, chance alone
// puts every pair on one side of 1.0 too often (2 pairs: 50%, 3: 25%),
// and the U-test cannot reach Alpha with fewer than 4 per side; 6 pairs
// give the ratio's median a distribution-free 95% interval (min-max,
// 97% confidence) and the U-test a smallest p of 0.002.
const MinPairs = 6

// Alpha is the significance level of every verdict.
const Alpha = 0.05

// confidence is the level of the interval printed around a ratio.
const confidence = 0.95

// Comparison summarises one backend against std at one point and metric.
type Comparison struct {
	Pairs   int
	Median  float64 // median of the per-pair ratios backend/std
	Lo, Hi  float64 // 95% interval of that median (min-max below MinPairs)
	P       float64 // Mann-Whitney U test of the two samples, two-sided
	Verdict Verdict
}

// Compare tests one backend's values b against the baseline's, both by
// repetition. Two tests must agree before anything is called a win or a
// loss, each at Alpha:
//
//   - the Mann-Whitney U test of the two samples (what benchstat uses,
//     golang.org/x/perf/benchmath.AssumeNothing), which makes no
//     assumption about the shape of the distributions;
//   - the distribution-free confidence interval of the median per-pair
//     ratio (benchmath's order-statistic interval, a sign test on the
//     pairs), which must exclude 1.0: pairing cancels drift that moves
//     both runs of a pair.
//
// Below MinPairs pairs there is no verdict at all. higherBetter says which
// side of 1.0 is the win (req/s against latency and CPU).
func Compare(b, base map[int]float64, higherBetter bool) Comparison {
	reps := pairs(b, base)
	c := Comparison{Pairs: len(reps), P: math.NaN()}
	if c.Pairs == 0 {
		c.Median, c.Lo, c.Hi = math.NaN(), math.NaN(), math.NaN()
		return c
	}
	var ratios, xs, ys []float64
	for _, r := range reps {
		ratios = append(ratios, b[r]/base[r])
		xs = append(xs, base[r])
		ys = append(ys, b[r])
	}
	c.Median = Median(ratios)
	if c.Pairs < MinPairs {
		c.Lo, c.Hi = Spread(ratios)
		return c
	}
	th := benchmath.DefaultThresholds
	th.CompareAlpha = Alpha
	rs := benchmath.NewSample(ratios, &th) // NewSample sorts in place: these are copies
	sum := benchmath.AssumeNothing.Summary(rs, confidence)
	c.Lo, c.Hi = sum.Lo, sum.Hi
	u := benchmath.AssumeNothing.Compare(benchmath.NewSample(xs, &th), benchmath.NewSample(ys, &th))
	c.P = u.P
	switch {
	case !(c.P < Alpha) || (c.Lo <= 1 && c.Hi >= 1):
		c.Verdict = Noise
	case (c.Lo > 1) == higherBetter:
		c.Verdict = Win
	default:
		c.Verdict = Loss
	}
	return c
}

// Labelled reports whether the comparison claims a difference.
func (c Comparison) Labelled() bool { return c.Verdict == Win || c.Verdict == Loss }

// String renders the comparison for a table cell, for example
// "**1.12 win** [1.08–1.15] p=0.002", "~1.01 [0.97–1.06] p=0.39" or
// "~ (n<6) 1.05 [0.98–1.10]".
func (c Comparison) String() string {
	switch {
	case c.Pairs == 0:
		return "-"
	case c.Verdict == Insufficient:
		return fmt.Sprintf("~ (n<%d) %.2f [%.2f–%.2f]", MinPairs, c.Median, c.Lo, c.Hi)
	case c.Verdict == Noise:
		return fmt.Sprintf("~%.2f [%.2f–%.2f] p=%s", c.Median, c.Lo, c.Hi, fmtP(c.P))
	case c.Verdict == Win:
		return fmt.Sprintf("**%.2f win** [%.2f–%.2f] p=%s", c.Median, c.Lo, c.Hi, fmtP(c.P))
	default:
		return fmt.Sprintf("**%.2f loss** [%.2f–%.2f] p=%s", c.Median, c.Lo, c.Hi, fmtP(c.P))
	}
}

// fmtP writes a p-value with the precision that matters near Alpha.
func fmtP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}
