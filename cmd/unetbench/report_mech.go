package main

// The report's mechanism table: per-request counts from the mechanism
// windows next to the CPU split of the timed windows.

import (
	"fmt"
	"io"
	"strings"
)

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
