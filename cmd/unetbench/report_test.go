package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeRun is a small result set: two load points and the idle point,
// std/epoll/uring, three repetitions. uring is clearly faster at 256
// conns, epoll is within noise, and one uring run failed.
func fakeRun() *Run {
	p16 := Point{Mode: ModeLoad, Proto: ProtoH1, Conns: 16, Size: 13, Source: SrcMem, Pipeline: 1}
	p256 := Point{Mode: ModeLoad, Proto: ProtoH1, Conns: 256, Size: 13, Source: SrcMem, Pipeline: 1}
	idle := Point{Mode: ModeIdle, Proto: ProtoH1, Conns: 10000, Size: 13, Source: SrcMem, Pipeline: 1}
	r := &Run{
		Meta: Meta{
			Command: "go run ./cmd/unetbench -quick", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			CPUModel: "AMD EPYC", Cores: 2, Kernel: "Linux 6.18.0 x86_64", GoVersion: "go1.26.8 linux/amd64",
			Pinning: "server pinned to CPU 0 with GOMAXPROCS=1", Generator: "wrk 4.1.0", Perf: "perf",
			Backends: []string{"std", "epoll", "uring"}, Reps: 3, IdleReps: 3, Duration: "2s", Warmup: "1s", Elapsed: "1m40s",
		},
		Points: []Point{p16, p256, idle},
		Servers: []*ServerInfo{
			{Backend: "std", Reported: "std", Starts: 4, Stops: []string{"clean exit 5ms after SIGTERM", "clean exit 7ms after SIGTERM"}, Log: "out/server-std.log"},
			{Backend: "epoll", Reported: "epoll", Starts: 4, Log: "out/server-epoll.log"},
			{Backend: "uring", Reported: "uring", Starts: 4, Log: "out/server-uring.log",
				Problems: []string{"log contains \"panic:\" 1 times"}},
		},
	}
	rps := map[string][]float64{"std": {90e3, 91e3, 92e3}, "epoll": {88e3, 93e3, 91e3}, "uring": {110e3, 112e3, 111e3}}
	for rep := 0; rep < 3; rep++ {
		for _, p := range []Point{p16, p256} {
			for _, be := range []string{"std", "epoll", "uring"} {
				s := &Sample{Point: p, Backend: be, Rep: rep, Requests: 100000, Seconds: 1, ReqPerSec: rps[be][rep],
					P50Us: f64(150), P99Us: f64(2100), CPUUserUsPerReq: f64(4.5), CPUSysUsPerReq: f64(6.0),
					CtxPerReq: f64(0.01), PerfSyscallsPerReq: f64(3.0)}
				if be != "std" {
					s.UnetSyscallsPerReq = f64(0.5)
					s.Unet = map[string]float64{"Reads": 100000, "Writes": 100000, "Enters": 50000, "Fallbacks": 2}
				}
				if be == "uring" && p == p16 && rep == 2 {
					s = &Sample{Point: p, Backend: be, Rep: rep, Err: "server exited during the point (signal: killed)"}
				}
				r.Samples = append(r.Samples, s)
			}
		}
		for _, be := range []string{"std", "epoll", "uring"} {
			r.Samples = append(r.Samples, &Sample{Point: idle, Backend: be, Rep: rep, IdleBytesPerConn: f64(19500)})
		}
	}
	return r
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, fakeRun()))
	md := b.String()

	// Header states command, machine, pinning and generator.
	for _, s := range []string{"`go run ./cmd/unetbench -quick`", "AMD EPYC, 2 cores, Linux 6.18.0 x86_64, go1.26.8",
		"Pinning: server pinned to CPU 0", "Load generator: wrk 4.1.0", "Noise rule"} {
		require.Contains(t, md, s)
	}
	// One table per metric with backend and ratio columns.
	require.Contains(t, md, "## Requests per second (higher is better)")
	require.Contains(t, md, "| conns | response | pipeline | std | epoll | uring | epoll/std | uring/std |")
	// 256 conns: std median 91k, uring 111k; ratios 110/90, 112/91, 111/92 all > 1: a win.
	row := lineWith(t, md, "| 256 | 13 B | 1 | 91.0k | 91.0k | 111.0k |")
	require.Contains(t, row, "**1.22 win** [1.21–1.23]")
	// epoll: 88/90, 93/91, 91/92: spread covers 1.0, so "~".
	require.Contains(t, row, "~0.99 [0.98–1.02]")
	// 16 conns: the failed uring rep leaves two pairs.
	row = lineWith(t, md, "| 16 | 13 B | 1 |")
	require.Contains(t, row, "**1.23 win** [1.22–1.23]")

	// Latency and CPU tables; lower is better, equal values are noise.
	require.Contains(t, md, "## Latency p99 (lower is better)")
	require.Contains(t, md, "| 256 | 13 B | 1 | 2.10 ms | 2.10 ms | 2.10 ms | ~1.00 [1.00–1.00] | ~1.00 [1.00–1.00] |")
	require.Contains(t, md, "## Server CPU per request (user+sys, µs)")
	require.Contains(t, md, "| 256 | 13 B | 1 | 10.5 | 10.5 | 10.5 |")
	// unet syscalls: std has none, no ratio columns.
	require.Contains(t, md, "| 256 | 13 B | 1 | - | 0.50 | 0.50 |\n")
	// Idle memory table.
	require.Contains(t, md, "## Server memory per idle keep-alive connection (bytes) (lower is better)")
	require.Contains(t, md, "| 10000 | 19.5 KB | 19.5 KB | 19.5 KB |")
	// Counters, failures and server problems are reported.
	require.Contains(t, md, "## unet counters per request: uring")
	require.Contains(t, md, "Fallbacks at http/1.1 c=256 13 B p1: 6")
	require.Contains(t, md, "**failed**: server exited during the point")
	require.Contains(t, md, "clean exit ×2")
	require.Contains(t, md, "**uring**: log contains")
	require.NotContains(t, md, "NaN")
}

func TestReportWithoutStd(t *testing.T) {
	r := fakeRun()
	r.Meta.Backends = []string{"epoll", "uring"}
	var b bytes.Buffer
	require.NoError(t, WriteReport(&b, r))
	require.Contains(t, b.String(), "| conns | response | pipeline | epoll | uring |\n")
	require.NotContains(t, b.String(), "uring/std")
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
