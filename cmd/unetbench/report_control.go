package main

// The report's noise-floor section: what the A/A control (std against
// itself) shows, how busy other processes kept the server's CPU, and how
// many cells each comparison labels.

import (
	"fmt"
	"io"
	"strings"
)

// verdictMetrics are the tables whose labelled cells the A/A summary
// counts: throughput, tail latency and CPU.
var verdictMetrics = []string{"req_per_sec", "p99_us", "cpu_us_per_req"}

// labelledCells counts, for one compared backend, the cells of the
// verdict tables called a win or a loss, and all cells with a verdict.
func labelledCells(run *Run, backend string) (labelled, cells int) {
	for _, key := range verdictMetrics {
		m := MetricByKey(key)
		for _, p := range pointsOf(run, m.Mode) {
			c := Compare(values(run, p, backend, m), values(run, p, baseline, m), m.Higher)
			if c.Verdict == Insufficient {
				continue
			}
			cells++
			if c.Labelled() {
				labelled++
			}
		}
	}
	return labelled, cells
}

// writeControl states the run's noise floor: what the A/A control
// (std against itself) shows, and how many cells each comparison labels.
func writeControl(w io.Writer, run *Run) {
	cmp := others(run)
	if len(cmp) == 0 {
		return
	}
	fmt.Fprintf(w, "## Noise floor and verdicts\n\n")
	if c := run.Meta.Control; c != "" {
		var rows [][]string
		for _, p := range pointsOf(run, ModeLoad) {
			row := pointCells(p)
			for _, key := range verdictMetrics {
				m := MetricByKey(key)
				row = append(row, Compare(values(run, p, c, m), values(run, p, baseline, m), m.Higher).String())
			}
			rows = append(rows, row)
		}
		fmt.Fprintf(w, "A/A control `%s` against `%s` (the same server twice): its interval is this run's noise floor; "+
			"a backend's ratio inside it is not a difference.\n\n", c, baseline)
		writeTable(w, append(pointHead(ModeLoad), "req/s", "p99", "CPU/req"), rows, true)
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "No A/A control in this run (-control=false or no std): the noise floor is unknown.\n\n")
	}
	if lo, med, hi, n := otherLoad(run); n > 0 {
		fmt.Fprintf(w, "Other processes used a median %.0f%% (min %.0f%%, max %.0f%%) of the server's CPU during the %d timed windows "+
			"(/proc/stat busy time of that CPU minus the server's own): time taken from whichever backend was being measured.\n\n", med, lo, hi, n)
	}
	var lines []string
	for _, b := range cmp {
		l, n := labelledCells(run, b)
		line := fmt.Sprintf("- `%s`: %d of %d cells with a verdict labelled win or loss in the req/s, p99 and CPU tables", b, l, n)
		if n == 0 {
			line = fmt.Sprintf("- `%s`: no cell has the %d pairs a verdict needs", b, MinPairs)
		}
		if b == run.Meta.Control && l > 0 {
			line += fmt.Sprintf(" — **the A/A control labelled %d: each is a false positive, from chance (at most about %.1f expected at alpha %.2f per cell) "+
				"or from something systematic between two identical servers (run order, another process busy during one of them); "+
				"read the other columns' verdicts with that in mind**", l, Alpha*float64(n), Alpha)
		}
		lines = append(lines, line)
	}
	fmt.Fprintf(w, "%s\n\n", strings.Join(lines, "\n"))
}

// otherLoad summarises the other processes' share of the server's CPU
// over the timed windows.
func otherLoad(run *Run) (lo, med, hi float64, n int) {
	var xs []float64
	for _, s := range run.Samples {
		if v, ok := opt(s.OtherLoadPct); ok && s.OK() {
			xs = append(xs, v)
		}
	}
	lo, hi = Spread(xs)
	return lo, Median(xs), hi, len(xs)
}
