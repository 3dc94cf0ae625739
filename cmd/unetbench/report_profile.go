package main

// The report's profile section: per point, the CPU shares and the top
// kernel, user and Go functions of every backend side by side.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

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
