package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	require.True(t, math.IsNaN(Median(nil)))
	require.Equal(t, 5.0, Median([]float64{5}))
	require.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	xs := []float64{3, 1, 2}
	Median(xs)
	require.Equal(t, []float64{3, 1, 2}, xs, "Median must not reorder its input")
}

func TestPairRatios(t *testing.T) {
	b := map[int]float64{0: 110, 1: 90, 2: 50, 3: 7}
	base := map[int]float64{0: 100, 1: 100, 3: 0} // rep 2 missing, rep 3 zero base
	require.Equal(t, []float64{1.1, 0.9}, PairRatios(b, base))
	require.Empty(t, PairRatios(map[int]float64{}, base))
}

func TestSpread(t *testing.T) {
	lo, hi := Spread([]float64{1.2, 0.8, 1.0})
	require.Equal(t, 0.8, lo)
	require.Equal(t, 1.2, hi)
	lo, hi = Spread(nil)
	require.True(t, math.IsNaN(lo) && math.IsNaN(hi))
}

func TestCompareNoiseRule(t *testing.T) {
	cases := []struct {
		name   string
		ratios []float64
		higher bool
		want   Verdict
	}{
		{"all above, higher better", []float64{1.05, 1.10, 1.08}, true, Win},
		{"all above, lower better", []float64{1.05, 1.10}, false, Loss},
		{"all below, lower better", []float64{0.80, 0.90}, false, Win},
		{"all below, higher better", []float64{0.80, 0.90}, true, Loss},
		{"spread covers 1.0", []float64{0.97, 1.06, 1.10}, true, Noise},
		{"touches 1.0 exactly", []float64{1.0, 1.2}, true, Noise},
		{"one pair is never a verdict", []float64{1.5}, true, Insufficient},
		{"no pairs", nil, true, Insufficient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Compare(c.ratios, c.higher).Verdict)
		})
	}
}

func TestComparisonString(t *testing.T) {
	require.Equal(t, "**1.10 win** [1.05–1.20]", Compare([]float64{1.05, 1.10, 1.20}, true).String())
	require.Equal(t, "**1.10 loss** [1.05–1.20]", Compare([]float64{1.05, 1.10, 1.20}, false).String())
	require.Equal(t, "~1.01 [0.97–1.05]", Compare([]float64{0.97, 1.01, 1.05}, true).String())
	require.Equal(t, "1.50 ? (1 pair)", Compare([]float64{1.5}, true).String())
	require.Equal(t, "-", Compare(nil, true).String())
}
