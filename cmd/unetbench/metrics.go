package main

import (
	"fmt"
	"math"
)

// Metric is one number the report tabulates per point and backend.
type Metric struct {
	Key    string // results.json / chart name
	Title  string
	Mode   string // which points it applies to (ModeLoad or ModeIdle)
	Higher bool   // higher is better (decides win/loss)
	Ratio  bool   // a ratio against std is meaningful
	Note   string // how it was measured, printed under the table
	Get    func(*Sample) (float64, bool)
	Format func(float64) string
}

// opt reads an optional value.
func opt(p *float64) (float64, bool) {
	if p == nil || math.IsNaN(*p) {
		return 0, false
	}
	return *p, true
}

// Metrics lists every table of the report, in order.
var Metrics = []Metric{
	{
		Key: "req_per_sec", Title: "Requests per second", Mode: ModeLoad, Higher: true, Ratio: true,
		Note:   "Completed responses divided by the measured window (warm-up excluded).",
		Get:    func(s *Sample) (float64, bool) { return s.ReqPerSec, s.Requests > 0 },
		Format: fmtCount,
	},
	{
		Key: "p50_us", Title: "Latency p50", Mode: ModeLoad, Ratio: true,
		Note:   "wrk with pipelining records one latency per batch (from the write to the batch's last response); the built-in generator records every response. With -h2 (h2load, no percentiles) this is the mean.",
		Get:    func(s *Sample) (float64, bool) { v, ok := opt(s.P50Us); return orMean(v, ok, s) },
		Format: fmtMicros,
	},
	{
		Key: "p99_us", Title: "Latency p99", Mode: ModeLoad, Ratio: true,
		Note:   "With -h2 (h2load, no percentiles) this is the max.",
		Get:    func(s *Sample) (float64, bool) { v, ok := opt(s.P99Us); return orMax(v, ok, s) },
		Format: fmtMicros,
	},
	{
		Key: "cpu_us_per_req", Title: "Server CPU per request (user+sys, µs)", Mode: ModeLoad, Ratio: true,
		Note: "utime+stime of the server process from /proc/<pid>/stat (100 Hz ticks), before/after the timed window, divided by completed requests. Reading /proc attaches nothing to the server.",
		Get: func(s *Sample) (float64, bool) {
			u, ok1 := opt(s.CPUUserUsPerReq)
			k, ok2 := opt(s.CPUSysUsPerReq)
			return u + k, ok1 && ok2
		},
		Format: fmtFloat,
	},
	{
		Key: "cpu_user_us_per_req", Title: "Server user CPU per request (µs)", Mode: ModeLoad, Ratio: true,
		Get:    func(s *Sample) (float64, bool) { return opt(s.CPUUserUsPerReq) },
		Format: fmtFloat,
	},
	{
		Key: "cpu_sys_us_per_req", Title: "Server kernel CPU per request (µs)", Mode: ModeLoad, Ratio: true,
		Get:    func(s *Sample) (float64, bool) { return opt(s.CPUSysUsPerReq) },
		Format: fmtFloat,
	},
	{
		Key: "unet_syscalls_per_req", Title: "Scheduler syscalls per request (unet counters)", Mode: ModeLoad,
		Note:   "Enters+EpollWaits+IOSyscalls from /debug/vars \"unet\", before/after the window. std has no such counters.",
		Get:    func(s *Sample) (float64, bool) { return opt(s.UnetSyscallsPerReq) },
		Format: fmtFloat,
	},
	{
		Key: "ctx_per_req", Title: "Context switches per request", Mode: ModeLoad, Ratio: true,
		Note:   "voluntary+nonvoluntary_ctxt_switches summed over /proc/<pid>/task/*/status.",
		Get:    func(s *Sample) (float64, bool) { return opt(s.CtxPerReq) },
		Format: fmtFloat,
	},
	{
		Key: "idle_bytes_per_conn", Title: "Server memory per idle keep-alive connection (bytes)", Mode: ModeIdle, Ratio: true,
		Note:   "Fresh server; VmRSS 2 s after N connections each made one request and stayed open, minus VmRSS before, divided by N. Opened by the built-in Go client.",
		Get:    func(s *Sample) (float64, bool) { return opt(s.IdleBytesPerConn) },
		Format: fmtBytes,
	},
}

// orMean falls back to the mean latency when no p50 exists (h2load).
func orMean(v float64, ok bool, s *Sample) (float64, bool) {
	if ok {
		return v, true
	}
	return opt(s.MeanUs)
}

// orMax falls back to the max latency when no p99 exists (h2load).
func orMax(v float64, ok bool, s *Sample) (float64, bool) {
	if ok {
		return v, true
	}
	return opt(s.MaxUs)
}

// MetricByKey finds a metric definition.
func MetricByKey(key string) Metric {
	for _, m := range Metrics {
		if m.Key == key {
			return m
		}
	}
	panic("unknown metric " + key)
}

// fmtCount writes 91600 as "91.6k".
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// fmtMicros writes a latency given in microseconds with a fitting unit.
func fmtMicros(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2f ms", us/1e3)
	default:
		return fmt.Sprintf("%.0f µs", us)
	}
}

// fmtFloat keeps three significant digits for small per-request numbers.
func fmtFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// fmtBytes writes a byte count, in KB above 10 000.
func fmtBytes(v float64) string {
	if math.Abs(v) >= 1e4 {
		return fmt.Sprintf("%.1f KB", v/1e3)
	}
	return fmt.Sprintf("%.0f B", v)
}
