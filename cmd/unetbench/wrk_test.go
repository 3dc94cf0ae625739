package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The line wrkLua's done() printed in a run of wrk 4.1.0 (Debian), after
// wrk's own human-readable report, which is ignored.
const wrkOut = `Running 1s test @ http://127.0.0.1:18089/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   513.72us    1.05ms   8.65ms   87.91%
  32200 requests in 1.10s, 3.99MB read
Requests/sec:  29263.44
` + wrkResultTag + ` {"duration_us":1100000,"requests":32200,"bytes":4183000,"connect_errors":0,"read_errors":0,"write_errors":0,"status_errors":0,"timeouts":0,"mean_us":513.72000000000003,"max_us":8650,"p50_us":106,"p99_us":4320}
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOut)
	require.NoError(t, err)
	require.Equal(t, int64(32200), r.Requests)
	require.InDelta(t, 1.10, r.Seconds, 1e-9)
	require.InDelta(t, 32200/1.1, r.ReqPerSec, 1e-6)
	require.InDelta(t, 106.0, *r.P50Us, 1e-9)
	require.InDelta(t, 4320.0, *r.P99Us, 1e-9)
	require.InDelta(t, 513.72, *r.MeanUs, 1e-9)
	require.InDelta(t, 8650.0, *r.MaxUs, 1e-9)
	require.Zero(t, r.Errors)
	require.Empty(t, r.ErrorDetail)
}

// Every variant the done() line can take: errors of each kind, non-2xx
// responses, a percentile wrk had no data for (0), no latency at all
// (null from a NaN mean), and output without the line.
func TestParseWrkVariants(t *testing.T) {
	line := func(json string) string { return "Running 8s test\n" + wrkResultTag + " " + json + "\n" }
	r, err := parseWrk(line(`{"duration_us":8100000,"requests":436000,"bytes":1,"connect_errors":0,"read_errors":12,"write_errors":0,"status_errors":1000,"timeouts":30,"mean_us":95310,"max_us":1020000,"p50_us":91000,"p99_us":0}`))
	require.NoError(t, err)
	require.Equal(t, int64(1042), r.Errors)
	require.Contains(t, r.ErrorDetail, "timeout 30")
	require.Contains(t, r.ErrorDetail, "non-2xx or 3xx responses: 1000")
	require.Equal(t, int64(435000), r.Requests, "non-2xx responses are not successful requests")
	require.InDelta(t, 435000/8.1, r.ReqPerSec, 1e-6)
	require.InDelta(t, 91000.0, *r.P50Us, 1e-9)
	require.Nil(t, r.P99Us, "0 is wrk's 'no data', not a latency")

	r, err = parseWrk(line(`{"duration_us":1000000,"requests":0,"bytes":0,"connect_errors":4,"read_errors":0,"write_errors":0,"status_errors":0,"timeouts":0,"mean_us":null,"max_us":0,"p50_us":0,"p99_us":0}`))
	require.NoError(t, err)
	require.Zero(t, r.Requests)
	require.Equal(t, int64(4), r.Errors)
	require.Nil(t, r.MeanUs)
	require.Nil(t, r.MaxUs)

	_, err = parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n")
	require.ErrorContains(t, err, "no "+wrkResultTag)
	_, err = parseWrk(line(`{"duration_us":null,"requests":5}`))
	require.Error(t, err)
	_, err = parseWrk(line(`{"duration_us":`))
	require.Error(t, err)
}

// The Lua script against the real wrk, when installed: plain and
// pipelined, the result line parses and counts the requests the server
// saw; a 404 path makes every response an error.
func TestWrkLuaLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk")
	}
	w, err := newWrk(t.TempDir(), Pinning{})
	if err != nil {
		t.Skip("wrk not installed")
	}
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path != "/" {
			http.NotFound(rw, r)
			return
		}
		rw.Write([]byte("Hello, World!"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, depth := range []int{1, 4} {
		served.Store(0)
		res, err := w.Run(context.Background(), LoadSpec{Addr: addr, Path: "/", Conns: 2, Pipeline: depth, Duration: time.Second})
		require.NoError(t, err, "depth %d", depth)
		require.Positive(t, res.Requests, "depth %d", depth)
		require.Zero(t, res.Errors, "depth %d: %s", depth, res.ErrorDetail)
		require.InDelta(t, 1.0, res.Seconds, 0.3)
		require.NotNil(t, res.P50Us, "depth %d: %+v", depth, res)
		if depth == 1 {
			// Pipelined, wrk records one latency per batch and its
			// p99 is sometimes 0 (no data): only depth 1 is sure.
			require.NotNil(t, res.P99Us, "depth %d: %+v", depth, res)
		}
		// wrk stops counting at the deadline with requests in flight.
		require.InDelta(t, float64(served.Load()), float64(res.Requests), float64(2*depth+2))
	}
	res, err := w.Run(context.Background(), LoadSpec{Addr: addr, Path: "/nope", Conns: 1, Pipeline: 1, Duration: time.Second})
	require.NoError(t, err)
	require.Zero(t, res.Requests)
	require.Positive(t, res.Errors)
}

func TestWrkArgs(t *testing.T) {
	spec := LoadSpec{Addr: "127.0.0.1:9", Path: "/file", Header: "Range: bytes=0-4095", Conns: 10000, Pipeline: 16, Duration: 8 * time.Second}
	args := strings.Join(wrkArgs(spec, "/tmp/u.lua", 10*time.Second), " ")
	require.Equal(t, "-t 1 -c 10000 -d 8s --timeout 10s -s /tmp/u.lua -H Range: bytes=0-4095 http://127.0.0.1:9/file -- 16", args)
	spec.Pipeline, spec.Header = 1, ""
	args = strings.Join(wrkArgs(spec, "/tmp/u.lua", 10*time.Second), " ")
	require.Equal(t, "-t 1 -c 10000 -d 8s --timeout 10s -s /tmp/u.lua http://127.0.0.1:9/file -- 1", args)
	require.Contains(t, wrkLua, "wrk.format()")
	require.Equal(t, "1s", wrkSeconds(300*time.Millisecond))
	require.Equal(t, "2s", wrkSeconds(1500*time.Millisecond))
}

func TestParseLatency(t *testing.T) {
	for in, want := range map[string]float64{"160.00us": 160, "1.98ms": 1980, "2.00s": 2e6, "1.50m": 90e6} {
		got, err := parseLatency(in)
		require.NoError(t, err, in)
		require.InDelta(t, want, got, 1e-6, in)
	}
	_, err := parseLatency("12.0xx")
	require.Error(t, err)
}

// Captured from h2load (nghttp2 1.52.0) against a Go h2c server.
const h2loadSample = `starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 1s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 50% of clients started
progress: 100% of clients started
Application protocol: h2c
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 21246.00 req/s, 726.23KB/s
requests: 21246 total, 21246 started, 21246 done, 21246 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 21246 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 726.23KB (743656) total, 159.24KB (163066) headers (space savings 95.83%), 516.97KB (529373) data
                     min         max         mean         sd        +/- sd
time for request:       59us      5.81ms       355us       343us    95.49%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :   10591.30    10652.92    10622.11       43.57   100.00%
`

// h2load against a server without h2c: connections open, nothing completes.
const h2loadNoH2c = `finished in 1.01s, 0.00 req/s, 390B/s
requests: 0 total, 2 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 390B (390) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
`

func TestParseH2load(t *testing.T) {
	r, err := parseH2load(h2loadSample)
	require.NoError(t, err)
	require.Equal(t, int64(21246), r.Requests)
	require.InDelta(t, 21246.0, r.ReqPerSec, 1e-9)
	require.InDelta(t, 1.0, r.Seconds, 1e-9)
	require.InDelta(t, 355.0, *r.MeanUs, 1e-9)
	require.InDelta(t, 5810.0, *r.MaxUs, 1e-9)
	require.Nil(t, r.P50Us, "h2load prints no percentiles")
	require.Zero(t, r.Errors)

	r, err = parseH2load(h2loadNoH2c)
	require.NoError(t, err)
	require.Zero(t, r.Requests)
	require.Nil(t, r.MeanUs)

	bad := strings.Replace(h2loadSample, "0 4xx, 0 5xx", "6 4xx, 0 5xx", 1)
	r, err = parseH2load(bad)
	require.NoError(t, err)
	require.Equal(t, int64(6), r.Errors)
	require.Equal(t, int64(21246), r.Requests) // 2xx count stays as printed

	_, err = parseH2load("connect error\n")
	require.Error(t, err)
}

func TestH2loadArgs(t *testing.T) {
	spec := LoadSpec{Addr: "127.0.0.1:9", Path: "/", Conns: 256, Pipeline: 16, Duration: 2 * time.Second}
	require.Equal(t, "-t 1 -c 256 -m 16 -D 2 http://127.0.0.1:9/", strings.Join(h2loadArgs(spec), " "))
}

func TestParsePerfStat(t *testing.T) {
	out := "# started on Mon\n\n29,,raw_syscalls:sys_enter,594475,100.00,,\n" +
		"<not counted>,,sched:sched_switch,0,0.00,,\n" +
		"<not supported>,,io_uring:io_uring_task_add,0,0.00,,\n" +
		"115,,ipi:ipi_send_cpu,1013314014,100.00,,\n"
	require.Equal(t, map[string]float64{"raw_syscalls:sys_enter": 29, "ipi:ipi_send_cpu": 115}, parsePerfStat(out),
		"an event perf could not count is absent, never zero")
	require.Empty(t, parsePerfStat(""))
}

func TestParseVars(t *testing.T) {
	body := `{"cmdline":["x"],"memstats":{"Alloc":1},"unet":{"Backend":"uring","Reads":10,"Enters":3,"EpollWaits":0,"IOSyscalls":1}}`
	v, backend, err := parseVars([]byte(body))
	require.NoError(t, err)
	require.Equal(t, "uring", backend)
	require.Equal(t, 10.0, v["Reads"])
	v, backend, err = parseVars([]byte(`{"cmdline":[]}`))
	require.NoError(t, err)
	require.Empty(t, backend)
	require.Empty(t, v)

	d, sys := unetDeltas(map[string]float64{"Enters": 3, "EpollWaits": 1, "IOSyscalls": 0, "Reads": 5},
		map[string]float64{"Enters": 13, "EpollWaits": 3, "IOSyscalls": 8, "Reads": 25}, 10)
	require.Equal(t, 20.0, d["Reads"])
	require.InDelta(t, 2.0, *sys, 1e-9)
	d, sys = unetDeltas(map[string]float64{"Enters": 0}, map[string]float64{"Enters": 0}, 10)
	require.Nil(t, d)
	require.Nil(t, sys, "counters that never moved (std) are not a measurement")
}
