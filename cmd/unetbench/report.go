package main

// The Markdown report: one table per metric, rows = points, columns =
// backend medians and per-pair ratios against std.

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// baseline is the backend every ratio is taken against.
const baseline = "std"

// unetCounters are the unet counters shown per request, in the order the
// library publishes them; the last four are anomalies shown as totals.
var (
	unetCounters  = []string{"Accepts", "Reads", "Writes", "Parks", "Wakes", "Enters", "EpollWaits", "IOSyscalls", "SQEs", "CQEs", "Reaps", "Events", "Cancels"}
	unetAnomalies = []string{"DeadlineExpiries", "CQOverflows", "BufferExhaustions", "Fallbacks"}
)

// values returns a metric of one backend at one point, by repetition.
func values(run *Run, p Point, backend string, m Metric) map[int]float64 {
	out := map[int]float64{}
	for _, s := range run.Samples {
		if s.Point != p || s.Backend != backend || !s.OK() {
			continue
		}
		if v, ok := m.Get(s); ok {
			out[s.Rep] = v
		}
	}
	return out
}

// mapValues lists a map's values.
func mapValues(m map[int]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// pointsOf lists the run's points of one mode, in sweep order.
func pointsOf(run *Run, mode string) []Point {
	var out []Point
	for _, p := range run.Points {
		if p.Mode == mode {
			out = append(out, p)
		}
	}
	return out
}

// others are the backends compared against std (when std ran).
func others(run *Run) []string {
	var out []string
	hasBase := false
	for _, b := range run.Meta.Backends {
		if b == baseline {
			hasBase = true
		} else {
			out = append(out, b)
		}
	}
	if !hasBase {
		return nil
	}
	return out
}

// WriteReport writes results.md.
func WriteReport(w io.Writer, run *Run) error {
	bw := bufio.NewWriter(w)
	writeHeader(bw, run)
	writeControl(bw, run)
	for _, m := range Metrics {
		writeMetric(bw, run, m)
	}
	writeMechanisms(bw, run)
	writeProfiles(bw, run)
	writeCounters(bw, run)
	writeProblems(bw, run)
	writeServers(bw, run)
	return bw.Flush()
}

// writeHeader states what ran where: command, machine, pinning, generator.
func writeHeader(w io.Writer, run *Run) {
	m := run.Meta
	fmt.Fprintf(w, "# unetbench results\n\n")
	if m.Interrupted {
		fmt.Fprintf(w, "> **Interrupted run: partial results.**\n\n")
	}
	fmt.Fprintf(w, "- Command: `%s`\n", m.Command)
	fmt.Fprintf(w, "- Date: %s (took %s)\n", m.Date.Format("2006-01-02 15:04:05 MST"), m.Elapsed)
	fmt.Fprintf(w, "- Machine: %s, %d cores, %s, %s\n", m.CPUModel, m.Cores, m.Kernel, m.GoVersion)
	fmt.Fprintf(w, "- Pinning: %s\n", m.Pinning)
	fmt.Fprintf(w, "- Load generator: %s\n", m.Generator)
	fmt.Fprintf(w, "- Timed windows: nothing attached to the server; CPU from /proc/<pid>/stat and counters from /debug/vars read before and after\n")
	fmt.Fprintf(w, "- Mechanism counts: %s\n", m.Perf)
	if m.Profile != "" {
		fmt.Fprintf(w, "- Profiles: %s\n", m.Profile)
	}
	fmt.Fprintf(w, "- Backends: %s; %d repetitions per point (%d for idle memory), %s timed after %s warm-up. "+
		"Order within a repetition: the backends in turn, reversed on every other point and repetition, "+
		"and the starting backend rotated every two repetitions\n",
		strings.Join(m.Backends, ", "), m.Reps, m.IdleReps, m.Duration, m.Warmup)
	if m.Restart {
		fmt.Fprintf(w, "- Every backend's server is a fresh process in each repetition (-restart)\n")
	}
	if m.FileSize > 0 {
		fmt.Fprintf(w, "- File points: /file serves a generated %s file through http.ServeFile (ReaderFrom/sendfile path); smaller sizes are Range requests of it\n", sizeLabel(m.FileSize))
	}
	for _, n := range m.Notes {
		fmt.Fprintf(w, "- Note: %s\n", n)
	}
	fmt.Fprintf(w, "\nCells are medians over repetitions. A ratio column is backend/std computed per repetition "+
		"(the two runs of a pair ran close together), shown as the median of those ratios and, in brackets, "+
		"its distribution-free 95%% confidence interval (golang.org/x/perf/benchmath). "+
		"**Noise rule:** a ratio is called a win or a loss only with at least %d pairs and when two tests agree at alpha %.2f: "+
		"the Mann-Whitney U test of the two samples (benchstat's test; p is printed) and the interval of the "+
		"per-pair ratio excluding 1.0. Otherwise it is `~` (no difference shown); with fewer pairs it is `~ (n<%d)` and "+
		"the brackets are the min–max. The A/A control (std against std) shows this run's noise floor: "+
		"any win or loss in its column is a false positive.\n\n", MinPairs, Alpha, MinPairs)
}

// writeMetric writes one metric's table, if any sample has the metric.
func writeMetric(w io.Writer, run *Run, m Metric) {
	points := pointsOf(run, m.Mode)
	if len(points) == 0 {
		return
	}
	backends := run.Meta.Backends
	cmp := others(run)
	if !m.Ratio {
		cmp = nil
	}
	var rows [][]string
	have := false
	for _, p := range points {
		row := pointCells(p)
		base := values(run, p, baseline, m)
		for _, b := range backends {
			v := values(run, p, b, m)
			if len(v) == 0 {
				row = append(row, "-")
				continue
			}
			have = true
			row = append(row, m.Format(Median(mapValues(v))))
		}
		for _, b := range cmp {
			row = append(row, Compare(values(run, p, b, m), base, m.Higher).String())
		}
		rows = append(rows, row)
	}
	if !have {
		return
	}
	better := "lower is better"
	if m.Higher {
		better = "higher is better"
	}
	fmt.Fprintf(w, "## %s (%s)\n\n", m.Title, better)
	head := pointHead(m.Mode)
	head = append(head, backends...)
	for _, b := range cmp {
		head = append(head, b+"/"+baseline)
	}
	writeTable(w, head, rows, true)
	if m.Note != "" {
		fmt.Fprintf(w, "\n%s\n", m.Note)
	}
	if c := run.Meta.Control; c != "" && len(cmp) > 0 {
		var all []float64
		for _, p := range points {
			all = append(all, PairRatios(values(run, p, c, m), values(run, p, baseline, m))...)
		}
		if lo, hi := Spread(all); len(all) > 0 {
			fmt.Fprintf(w, "\nNoise floor of this table: the A/A control's per-pair ratios (%s/%s, %d pairs over all points) span %.2f–%.2f.\n", c, baseline, len(all), lo, hi)
		}
	}
	fmt.Fprintln(w)
}

// pointHead and pointCells are the columns that identify a point.
func pointHead(mode string) []string {
	if mode == ModeIdle {
		return []string{"idle conns"}
	}
	return []string{"conns", "response", "pipeline"}
}

func pointCells(p Point) []string {
	if p.Mode == ModeIdle {
		return []string{strconv.Itoa(p.Conns)}
	}
	return []string{strconv.Itoa(p.Conns), p.Response(), strconv.Itoa(p.Pipeline)}
}

// writeTable writes a Markdown table; with right, every column but the
// first is right-aligned (numbers).
func writeTable(w io.Writer, head []string, rows [][]string, right bool) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
		if i > 0 && right {
			sep[i] = "--:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// writeCounters shows the unet counters per request for each backend that
// publishes them: where the syscalls and wake-ups of a backend go.
func writeCounters(w io.Writer, run *Run) {
	for _, b := range run.Meta.Backends {
		var rows [][]string
		var anomalies []string
		for _, p := range pointsOf(run, ModeLoad) {
			per := map[string][]float64{}
			tot := map[string]float64{}
			for _, s := range run.Samples {
				if s.Point != p || s.Backend != b || !s.OK() || len(s.Unet) == 0 || s.Requests == 0 {
					continue
				}
				for _, k := range unetCounters {
					per[k] = append(per[k], s.Unet[k]/float64(s.Requests))
				}
				for _, k := range unetAnomalies {
					tot[k] += s.Unet[k]
				}
			}
			if len(per) == 0 {
				continue
			}
			row := pointCells(p)
			for _, k := range unetCounters {
				row = append(row, fmtFloat(Median(per[k])))
			}
			rows = append(rows, row)
			for _, k := range unetAnomalies {
				if tot[k] > 0 {
					anomalies = append(anomalies, fmt.Sprintf("%s at %s: %.0f", k, p.Label(), tot[k]))
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "## unet counters per request: %s\n\n", b)
		writeTable(w, append(pointHead(ModeLoad), unetCounters...), rows, true)
		fmt.Fprintf(w, "\nMedians over repetitions of (counter after − before) / requests, from /debug/vars.\n")
		if len(anomalies) > 0 {
			sort.Strings(anomalies)
			fmt.Fprintf(w, "\nNon-zero anomaly counters (totals over all repetitions):\n\n")
			for _, a := range anomalies {
				fmt.Fprintf(w, "- %s\n", a)
			}
		}
		fmt.Fprintln(w)
	}
}

// writeProblems lists failed measurements and client-side errors: a fast
// backend that drops requests is not fast.
func writeProblems(w io.Writer, run *Run) {
	var lines []string
	for _, s := range run.Samples {
		switch {
		case !s.OK():
			lines = append(lines, fmt.Sprintf("- %s, %s, rep %d: **failed**: %s", s.Backend, s.Point.Label(), s.Rep+1, oneLine(s.Err)))
		case s.Errors > 0:
			lines = append(lines, fmt.Sprintf("- %s, %s, rep %d: %d errors (%s)", s.Backend, s.Point.Label(), s.Rep+1, s.Errors, oneLine(s.ErrorDetail)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "## Errors\n\n%s\n\n", strings.Join(lines, "\n"))
}

// writeServers says what each backend's server did: the backend it really
// ran (a silent fallback would make a comparison meaningless), crashes,
// and how it shut down.
func writeServers(w io.Writer, run *Run) {
	if len(run.Servers) == 0 {
		return
	}
	fmt.Fprintf(w, "## Servers\n\n")
	writeTable(w, []string{"backend", "reported by /debug/vars", "starts", "crash/hang restarts", "shutdown", "log"}, serverRows(run), false)
	for _, s := range run.Servers {
		for _, p := range s.Problems {
			fmt.Fprintf(w, "\n- **%s**: %s", s.Backend, oneLine(p))
		}
	}
	fmt.Fprintln(w)
}

func serverRows(run *Run) [][]string {
	var rows [][]string
	for _, s := range run.Servers {
		rep := s.Reported
		if rep == "" {
			rep = "(no unet expvar)"
		}
		rows = append(rows, []string{s.Backend, rep, strconv.Itoa(s.Starts), strconv.Itoa(s.Restarts),
			summarizeStops(s.Stops), "`" + s.Log + "`"})
	}
	return rows
}

// summarizeStops counts identical shutdown outcomes ("clean exit" ×3).
func summarizeStops(stops []string) string {
	if len(stops) == 0 {
		return "-"
	}
	var order []string
	n := map[string]int{}
	for _, s := range stops {
		k := s
		if strings.HasPrefix(s, "clean exit") {
			k = "clean exit"
		}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s ×%d", oneLine(k), n[k])
	}
	return strings.Join(parts, "; ")
}

// oneLine keeps a message inside a table cell or list item.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
