package main

// Mechanism windows: per backend and point, one more run of the same load
// with perf counting syscalls, context switches, inter-processor
// interrupts and io_uring task work. They run after every timed window,
// so their cost never shows in req/s, latency or CPU.

import (
	"context"
	"strconv"
	"time"
)

// mechPhase runs one mechanism window per load point and backend.
func (b *bench) mechPhase(ctx context.Context) {
	if b.perf == nil {
		return
	}
	for pi, p := range b.loadPoints() {
		for _, be := range backendOrder(b.cfg.backends, 0, pi) {
			if ctx.Err() != nil {
				return
			}
			m := b.measureMech(ctx, be, p)
			if ctx.Err() != nil {
				return
			}
			b.run.Mechs = append(b.run.Mechs, m)
			b.progress.step("mech", mechLine(m))
			b.save()
		}
	}
}

// measureMech drives the point's load for -mech-duration with perf stat
// attached to the server (per process) and counting system-wide.
func (b *bench) measureMech(ctx context.Context, be string, p Point) *Mech {
	m := &Mech{Point: p, Backend: be, Start: time.Now()}
	srv, err := b.server(ctx, be)
	if err != nil {
		m.Err = "server not running: " + err.Error()
		return m
	}
	defer sleepCtx(ctx, b.cfg.settle)
	var stats []*perfStat
	scopes := [][]string{{"-p", strconv.Itoa(srv.Pid())}, {"-a"}}
	for i, evs := range [][]string{b.perf.server, b.perf.system} {
		if len(evs) == 0 {
			stats = append(stats, nil)
			continue
		}
		ps, err := startPerfStat(b.perf.path, scopes[i], evs, b.tmp, b.pin)
		if err != nil {
			m.Err = "perf: " + err.Error()
		}
		stats = append(stats, ps)
	}
	spec := b.spec(srv, p, b.cfg.mechDuration)
	res, genErr := b.gen.Run(ctx, spec)
	counts := make([]map[string]float64, len(stats))
	for i, ps := range stats {
		if ps == nil {
			continue
		}
		c, err := ps.Stop(ctx)
		if err != nil && m.Err == "" {
			m.Err = "perf: " + err.Error()
		}
		counts[i] = c
	}
	if genErr != nil {
		m.Err = genErr.Error()
		return m
	}
	if res.Requests == 0 {
		m.Err = "no successful request: " + res.ErrorDetail
		return m
	}
	m.Requests, m.Seconds = res.Requests, res.Seconds
	m.Server, m.System = counts[0], counts[1]
	return m
}

// perReq is a mechanism count divided by the window's requests.
func (m *Mech) perReq(system bool, event string) (float64, bool) {
	src := m.Server
	if system {
		src = m.System
	}
	v, ok := src[event]
	if !ok || m.Requests == 0 || m.Err != "" {
		return 0, false
	}
	return v / float64(m.Requests), true
}

// mechLine is the progress line of a mechanism window.
func mechLine(m *Mech) string {
	head := "mechanisms " + m.Backend + " " + m.Point.Label()
	if m.Err != "" {
		return head + " FAILED: " + shortErr(m.Err)
	}
	line := head
	for _, c := range mechColumns {
		if v, ok := m.perReq(c.system, c.event); ok {
			line += ", " + fmtFloat(v) + " " + c.short
		}
	}
	return line
}

// mechColumn is one per-request count of the mechanism table.
type mechColumn struct {
	title, short string
	system       bool
	event        string
}

// mechColumns are the per-request counts, in the order the report shows
// them.
var mechColumns = []mechColumn{
	{"server syscalls", "syscalls", false, "raw_syscalls:sys_enter"},
	{"server context switches", "switches", false, "sched:sched_switch"},
	{"IPIs (all CPUs)", "IPIs", true, "ipi:ipi_send_cpu"},
	{"io_uring task work (all CPUs)", "task-work", true, "io_uring:io_uring_task_add"},
	{"context switches (all CPUs)", "all-switches", true, "sched:sched_switch"},
	{"syscalls (all CPUs)", "all-syscalls", true, "raw_syscalls:sys_enter"},
}
