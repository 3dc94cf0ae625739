package main

// The report's sections beyond the metric tables: the A/A control's noise
// floor, per-request mechanism counts next to the CPU split, and the
// profile tables.

import (
	"fmt"
	"io"
	"strconv"
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

// writeMechanisms tabulates the per-request mechanism counts of the
// mechanism windows next to the kernel/user CPU split of the timed ones.
func writeMechanisms(w io.Writer, run *Run) {
	if len(run.Mechs) == 0 {
		return
	}
	user, sys := MetricByKey("cpu_user_us_per_req"), MetricByKey("cpu_sys_us_per_req")
	head := append(pointHead(ModeLoad), "backend", "user µs/req", "kernel µs/req", "kernel share")
	for _, c := range mechColumns {
		head = append(head, c.title)
	}
	var rows [][]string
	for _, p := range pointsOf(run, ModeLoad) {
		for _, be := range run.Meta.Backends {
			row := append(pointCells(p), be)
			u, k := Median(mapValues(values(run, p, be, user))), Median(mapValues(values(run, p, be, sys)))
			if u+k > 0 {
				row = append(row, fmtFloat(u), fmtFloat(k), fmt.Sprintf("%.0f%%", 100*k/(u+k)))
			} else {
				row = append(row, "-", "-", "-")
			}
			m := mechOf(run, p, be)
			for _, c := range mechColumns {
				if v, ok := m.perReq(c.system, c.event); ok {
					row = append(row, fmtFloat(v))
				} else {
					row = append(row, "-")
				}
			}
			rows = append(rows, row)
		}
	}
	fmt.Fprintf(w, "## Mechanisms per request\n\n")
	writeTable(w, head, rows, true)
	fmt.Fprintf(w, "\nCPU split: medians of the timed windows (/proc/<pid>/stat utime, stime). "+
		"Counts: one window of %s per point and backend, after all timed windows, divided by the requests served in it; "+
		"\"server\" columns count the server process (perf stat -p), \"all CPUs\" columns everything on the machine (perf stat -a), "+
		"including the load generator and any other process. IPIs and io_uring task work are raised by the CPU that wakes the "+
		"server, so they can only be counted machine-wide.\n", run.Meta.MechWindow)
	var failed []string
	for _, m := range run.Mechs {
		if m.Err != "" {
			failed = append(failed, fmt.Sprintf("- %s, %s: %s", m.Backend, m.Point.Label(), oneLine(m.Err)))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed mechanism windows:\n\n%s\n", strings.Join(failed, "\n"))
	}
	fmt.Fprintln(w)
}

// mechOf finds the mechanism window of a backend at a point (a zero Mech,
// which has no counts, when there is none).
func mechOf(run *Run, p Point, be string) *Mech {
	for _, m := range run.Mechs {
		if m.Point == p && m.Backend == be {
			return m
		}
	}
	return &Mech{}
}

// writeProfiles writes, per point, the CPU shares and the top functions
// of each backend side by side: kernel and user from perf, Go from pprof.
func writeProfiles(w io.Writer, run *Run) {
	if len(run.Profiles) == 0 {
		return
	}
	fmt.Fprintf(w, "## Profiles\n\nWhere the server's CPU went under each point's load (%s). perf samples the server's CPU "+
		"(cpu-clock): shares are of all samples on that CPU, so kernel + user + idle + other is 100%%; time spent with "+
		"interrupts off is charged where they are re-enabled (read `_raw_spin_unlock_irqrestore` as the wake-up under that lock). "+
		"pprof's flat shares are of the Go process's CPU time and include the kernel time of its syscalls. "+
		"Raw profiles: `perf report -i <file>`, `go tool pprof <file>`.\n\n", run.Meta.Profile)
	for _, p := range pointsOf(run, ModeLoad) {
		var prs []*Profile
		for _, be := range run.Meta.Backends {
			for _, pr := range run.Profiles {
				if pr.Point == p && pr.Backend == be {
					prs = append(prs, pr)
				}
			}
		}
		if len(prs) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", p.Label())
		head := []string{""}
		for _, pr := range prs {
			head = append(head, pr.Backend)
		}
		share := func(name string, get func(*CPUShares) float64) []string {
			row := []string{name}
			for _, pr := range prs {
				if pr.Shares == nil {
					row = append(row, "-")
				} else {
					row = append(row, fmt.Sprintf("%.1f%%", get(pr.Shares)))
				}
			}
			return row
		}
		rows := [][]string{
			share("server, kernel", func(s *CPUShares) float64 { return s.ServerKernel }),
			share("server, user", func(s *CPUShares) float64 { return s.ServerUser }),
			share("idle", func(s *CPUShares) float64 { return s.Idle }),
			share("other processes", func(s *CPUShares) float64 { return s.Other }),
			// Other processes dilute the shares above; the server's own
			// split compares backends whatever else ran on the CPU.
			share("kernel share of the server's own time", func(s *CPUShares) float64 {
				if s.ServerKernel+s.ServerUser == 0 {
					return 0
				}
				return 100 * s.ServerKernel / (s.ServerKernel + s.ServerUser)
			}),
		}
		files := []string{"raw profiles"}
		for _, pr := range prs {
			var f []string
			for _, x := range []string{pr.PerfData, pr.Pprof} {
				if x != "" {
					f = append(f, "`"+x+"`")
				}
			}
			for _, e := range []string{pr.PerfErr, pr.PprofErr} {
				if e != "" {
					f = append(f, "error: "+oneLine(e))
				}
			}
			files = append(files, strings.Join(f, "<br>"))
		}
		writeTable(w, head, append(rows, files), true)
		fmt.Fprintln(w)
		for _, sec := range []struct {
			title string
			get   func(*Profile) []FuncShare
		}{
			{"kernel functions (perf, [k])", func(pr *Profile) []FuncShare { return pr.Kernel }},
			{"user functions (perf, [.])", func(pr *Profile) []FuncShare { return pr.User }},
			{"Go functions (pprof, flat)", func(pr *Profile) []FuncShare { return pr.Go }},
		} {
			writeTopTable(w, sec.title, head, prs, sec.get)
		}
	}
}

// writeTopTable writes one side-by-side ranking of functions.
func writeTopTable(w io.Writer, title string, head []string, prs []*Profile, get func(*Profile) []FuncShare) {
	n := 0
	for _, pr := range prs {
		n = max(n, len(get(pr)))
	}
	if n == 0 {
		return
	}
	var rows [][]string
	for i := range n {
		row := []string{strconv.Itoa(i + 1)}
		for _, pr := range prs {
			fs := get(pr)
			if i < len(fs) {
				row = append(row, fmt.Sprintf("%.1f%% `%s`", fs[i].Pct, shortSym(fs[i].Name)))
			} else {
				row = append(row, "")
			}
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(w, "Top %s:\n\n", title)
	h := append([]string{"#"}, head[1:]...)
	writeTable(w, h, rows, false)
	fmt.Fprintln(w)
}

// shortSym keeps a symbol readable in a table cell.
func shortSym(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 60 {
		s = s[:59] + "…"
	}
	return s
}
