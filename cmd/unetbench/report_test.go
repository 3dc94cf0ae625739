package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeRun is a small result set: two load points and the idle point,
// std, its A/A control, epoll and uring, six repetitions. uring is
// clearly faster, epoll and the control are within noise, and one uring
// run failed (leaving five pairs at 16 conns). Mechanism windows and
// profiles are filled in for std and uring at 256 conns.
func fakeRun() *Run {
	p16 := Point{Mode: ModeLoad, Proto: ProtoH1, Conns: 16, Size: 13, Source: SrcMem, Pipeline: 1}
	p256 := Point{Mode: ModeLoad, Proto: ProtoH1, Conns: 256, Size: 13, Source: SrcMem, Pipeline: 1}
	idle := Point{Mode: ModeIdle, Proto: ProtoH1, Conns: 10000, Size: 13, Source: SrcMem, Pipeline: 1}
	backends := []string{"std", controlBackend, "epoll", "uring"}
	r := &Run{
		Meta: Meta{
			Command: "go run ./cmd/unetbench -quick", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			CPUModel: "AMD EPYC", Cores: 2, Kernel: "Linux 6.18.0 x86_64", GoVersion: "go1.26.8 linux/amd64",
			Pinning: "server pinned to CPU 0 with GOMAXPROCS=1", Generator: "wrk 4.1.0", Perf: "perf",
			Control: controlBackend, MechWindow: "2s",
			Backends: backends, Reps: 6, IdleReps: 6, Duration: "2s", Warmup: "1s", Elapsed: "1m40s",
		},
		Points: []Point{p16, p256, idle},
		Servers: []*ServerInfo{
			{Backend: "std", Reported: "std", Starts: 4, Stops: []string{"clean exit 5ms after SIGTERM", "clean exit 7ms after SIGTERM"}, Log: "out/server-std.log"},
			{Backend: controlBackend, Reported: "std", Starts: 4, Log: "out/server-std+UNET_AA=1.log"},
			{Backend: "epoll", Reported: "epoll", Starts: 4, Log: "out/server-epoll.log"},
			{Backend: "uring", Reported: "uring", Starts: 4, Log: "out/server-uring.log",
				Problems: []string{"log contains \"panic:\" 1 times"}},
		},
	}
	rps := map[string][]float64{
		"std":          {90e3, 91e3, 92e3, 90e3, 91e3, 92e3},
		controlBackend: {91e3, 90e3, 92e3, 91e3, 90e3, 92e3},
		"epoll":        {88e3, 93e3, 91e3, 89e3, 94e3, 90e3},
		"uring":        {110e3, 112e3, 111e3, 110e3, 112e3, 111e3},
	}
	for rep := 0; rep < 6; rep++ {
		for _, p := range []Point{p16, p256} {
			for _, be := range backends {
				s := &Sample{Point: p, Backend: be, Rep: rep, Requests: 100000, Seconds: 1, ReqPerSec: rps[be][rep],
					P50Us: f64(150), P99Us: f64(2100), CPUUserUsPerReq: f64(4.5), CPUSysUsPerReq: f64(6.0),
					CtxPerReq: f64(0.01)}
				if be == "epoll" || be == "uring" {
					s.UnetSyscallsPerReq = f64(0.5)
					s.Unet = map[string]float64{"Reads": 100000, "Writes": 100000, "Enters": 50000, "Fallbacks": 2}
				}
				if be == "uring" && p == p16 && rep == 2 {
					s = &Sample{Point: p, Backend: be, Rep: rep, Err: "server exited during the point (signal: killed)"}
				}
				r.Samples = append(r.Samples, s)
			}
		}
		for _, be := range backends {
			r.Samples = append(r.Samples, &Sample{Point: idle, Backend: be, Rep: rep, IdleBytesPerConn: f64(19500)})
		}
	}
	r.Mechs = []*Mech{
		{Point: p256, Backend: "std", Requests: 1000, Server: map[string]float64{"raw_syscalls:sys_enter": 3000, "sched:sched_switch": 20},
			System: map[string]float64{"ipi:ipi_send_cpu": 150, "io_uring:io_uring_task_add": 0, "sched:sched_switch": 400, "raw_syscalls:sys_enter": 9000}},
		{Point: p256, Backend: "uring", Requests: 2000, Server: map[string]float64{"raw_syscalls:sys_enter": 20, "sched:sched_switch": 10},
			System: map[string]float64{"ipi:ipi_send_cpu": 760, "io_uring:io_uring_task_add": 1600}},
		{Point: p16, Backend: "uring", Err: "perf: perf did not stop"},
	}
	r.Profiles = []*Profile{
		{Point: p256, Backend: "std", PerfData: "profiles/a-std.perf.data", Pprof: "profiles/a-std.pprof",
			Shares: &CPUShares{ServerKernel: 48, ServerUser: 38, Idle: 10, Other: 4},
			Kernel: []FuncShare{{"_raw_spin_unlock_irqrestore", 9.5}, {"tcp_sendmsg_locked", 3}},
			User:   []FuncShare{{"runtime.mallocgc", 2.5}},
			Go:     []FuncShare{{"internal/runtime/syscall.Syscall6", 40.1}}},
		{Point: p256, Backend: "uring", PprofErr: "/debug/pprof/profile: 404 Not Found",
			Shares: &CPUShares{ServerKernel: 65, ServerUser: 23, Idle: 12},
			Kernel: []FuncShare{{"irqentry_exit_to_user_mode", 13.5}}},
	}
	return r
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, fakeRun()))
	md := b.String()

	// Header states command, machine, pinning, generator and method.
	for _, s := range []string{"`go run ./cmd/unetbench -quick`", "AMD EPYC, 2 cores, Linux 6.18.0 x86_64, go1.26.8",
		"Pinning: server pinned to CPU 0", "Load generator: wrk 4.1.0", "Noise rule", "Mann-Whitney",
		"Timed windows: nothing attached to the server"} {
		require.Contains(t, md, s)
	}
	// One table per metric with backend and ratio columns.
	require.Contains(t, md, "## Requests per second (higher is better)")
	require.Contains(t, md, "| conns | response | pipeline | std | std+UNET_AA=1 | epoll | uring | std+UNET_AA=1/std | epoll/std | uring/std |")
	// 256 conns: std median 91k, uring 111k; six pairs all far above: a win.
	row := lineWith(t, md, "| 256 | 13 B | 1 | 91.0k | 91.0k | 90.5k | 111.0k |")
	require.Contains(t, row, "| **1.22 win** [1.21–1.23] p=0.002 |")
	// epoll: ratios straddle 1.0, so "~".
	require.Contains(t, row, "| ~0.99 [0.98–1.03] p=")
	// 16 conns: the failed uring rep leaves five pairs: no verdict.
	row = lineWith(t, md, "| 16 | 13 B | 1 | 91.0k |")
	require.Contains(t, row, "~ (n<6) 1.22 [1.21–1.23]")

	// Latency and CPU tables; lower is better, equal values are noise.
	require.Contains(t, md, "## Latency p99 (lower is better)")
	require.Contains(t, md, "| 256 | 13 B | 1 | 2.10 ms | 2.10 ms | 2.10 ms | 2.10 ms | ~1.00 [1.00–1.00] p=1.000 |")
	require.Contains(t, md, "## Server CPU per request (user+sys, µs)")
	require.Contains(t, md, "| 256 | 13 B | 1 | 10.5 | 10.5 | 10.5 | 10.5 |")
	// unet syscalls: std has none, no ratio columns.
	require.Contains(t, md, "| 256 | 13 B | 1 | - | - | 0.50 | 0.50 |\n")
	// Idle memory table.
	require.Contains(t, md, "## Server memory per idle keep-alive connection (bytes) (lower is better)")
	require.Contains(t, md, "| 10000 | 19.5 KB | 19.5 KB | 19.5 KB | 19.5 KB |")
	// Counters, failures and server problems are reported.
	require.Contains(t, md, "## unet counters per request: uring")
	require.Contains(t, md, "Fallbacks at http/1.1 c=256 13 B p1: 12")
	// The A/A noise floor under each ratio table: 91/90 .. 90/91 over
	// both points.
	require.Contains(t, md, "Noise floor of this table: the A/A control's per-pair ratios (std+UNET_AA=1/std, 12 pairs over all points) span 0.99–1.01.")
	require.Contains(t, md, "**failed**: server exited during the point")
	require.Contains(t, md, "clean exit ×2")
	require.Contains(t, md, "**uring**: log contains")
	require.NotContains(t, md, "NaN")
}

func TestReportControl(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, fakeRun()))
	md := b.String()
	require.Contains(t, md, "## Noise floor and verdicts")
	require.Contains(t, md, "A/A control `std+UNET_AA=1` against `std`")
	require.Contains(t, md, "| conns | response | pipeline | req/s | p99 | CPU/req |")
	// The control: 3 tables x 2 points, none labelled. uring: req/s at
	// 256 is a win, 16 has too few pairs; its p99 and CPU are equal.
	require.Contains(t, md, "- `std+UNET_AA=1`: 0 of 6 cells with a verdict labelled")
	require.Contains(t, md, "- `uring`: 1 of 3 cells with a verdict labelled")
	require.NotContains(t, md, "the A/A control labelled")

	// A control that labels a cell is called out.
	r := fakeRun()
	for _, s := range r.Samples {
		if s.Backend == controlBackend && s.Point.Conns == 256 {
			s.ReqPerSec *= 1.3
		}
	}
	b.Reset()
	require.NoError(t, WriteReport(&b, r))
	require.Contains(t, b.String(), "**the A/A control labelled 1:")

	r = fakeRun()
	r.Meta.Control = ""
	b.Reset()
	require.NoError(t, WriteReport(&b, r))
	require.Contains(t, b.String(), "No A/A control in this run")
}

func TestReportMechanisms(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, fakeRun()))
	md := b.String()
	require.Contains(t, md, "## Mechanisms per request")
	require.Contains(t, md, "| conns | response | pipeline | backend | user µs/req | kernel µs/req | kernel share | server syscalls | server context switches | IPIs (all CPUs) | io_uring task work (all CPUs) | context switches (all CPUs) | syscalls (all CPUs) |")
	// std at 256: 3000 syscalls / 1000 requests, 150 IPIs.
	require.Contains(t, md, "| 256 | 13 B | 1 | std | 4.50 | 6.00 | 57% | 3.00 | 0.020 | 0.15 | 0.000 | 0.40 | 9.00 |")
	// uring: 1600 task-work additions / 2000 requests; uncounted events are "-".
	require.Contains(t, md, "| 256 | 13 B | 1 | uring | 4.50 | 6.00 | 57% | 0.010 | 0.005 | 0.38 | 0.80 | - | - |")
	require.Contains(t, md, "- uring, http/1.1 c=16 13 B p1: perf: perf did not stop")
}

func TestReportProfiles(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, fakeRun()))
	md := b.String()
	require.Contains(t, md, "## Profiles")
	require.Contains(t, md, "### http/1.1 c=256 13 B p1")
	require.Contains(t, md, "| server, kernel | 48.0% | 65.0% |")
	require.Contains(t, md, "| idle | 10.0% | 12.0% |")
	require.Contains(t, md, "| kernel share of the server's own time | 55.8% | 73.9% |")
	require.Contains(t, md, "`profiles/a-std.perf.data`<br>`profiles/a-std.pprof` | error: /debug/pprof/profile: 404 Not Found |")
	require.Contains(t, md, "| 1 | 9.5% `_raw_spin_unlock_irqrestore` | 13.5% `irqentry_exit_to_user_mode` |")
	require.Contains(t, md, "| 2 | 3.0% `tcp_sendmsg_locked` |  |")
	require.Contains(t, md, "Top Go functions (pprof, flat):")
	require.Contains(t, md, "| 1 | 40.1% `internal/runtime/syscall.Syscall6` |  |")
	require.NotContains(t, md, "### http/1.1 c=16", "no profile at 16 conns, no section")
}

func TestReportWithoutStd(t *testing.T) {
	r := fakeRun()
	r.Meta.Backends = []string{"epoll", "uring"}
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, r))
	require.Contains(t, b.String(), "| conns | response | pipeline | epoll | uring |\n")
	require.NotContains(t, b.String(), "uring/std")
	require.NotContains(t, b.String(), "Noise floor")
}

// lineWith returns the single line of s that starts with prefix.
func lineWith(t *testing.T, s, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	require.Failf(t, "no line", "no line starts with %q in:\n%s", prefix, s)
	return ""
}

func TestPointPaths(t *testing.T) {
	require.Equal(t, "/", Point{Mode: ModeLoad, Size: 13, Source: SrcMem}.Path())
	require.Equal(t, "/bytes?n=4096", Point{Mode: ModeLoad, Size: 4096, Source: SrcMem}.Path())
	fp := Point{Mode: ModeLoad, Size: 65536, Source: SrcFile}
	require.Equal(t, "/file", fp.Path())
	require.Equal(t, "Range: bytes=0-65535", fp.Header(1<<20))
	require.Empty(t, fp.Header(65536))
	require.Equal(t, "64 KiB file", fp.Response())
	require.Equal(t, "1 MiB", sizeLabel(1<<20))
	require.Equal(t, "13 B", sizeLabel(13))
}
