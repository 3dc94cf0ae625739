package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Captured from wrk 4.1.0 (Debian) against a Go net/http server.
const wrkSample = `Running 1s test @ http://127.0.0.1:18089/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   513.72us    1.05ms   8.65ms   87.91%
    Req/Sec    29.49k     4.04k   33.07k    72.73%
  Latency Distribution
     50%  106.00us
     75%  196.00us
     90%    1.98ms
     99%    4.32ms
  32200 requests in 1.10s, 3.99MB read
Requests/sec:  29263.44
Transfer/sec:      3.63MB
`

// Assembled from captured wrk lines: socket errors, non-2xx responses,
// and the 0.00us percentile wrk prints when it has too little data (seen
// with pipelining).
const wrkErrorSample = `Running 8s test @ http://127.0.0.1:18089/x
  1 threads and 4096 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    95.31ms   20.11ms   1.02s    93.00%
    Req/Sec    54.50k     3.03k   58.64k    72.28%
  Latency Distribution
     50%   91.00ms
     75%   99.00ms
     90%  110.00ms
     99%    0.00us
  436000 requests in 8.10s, 56.55MB read
  Socket errors: connect 0, read 12, write 0, timeout 30
  Non-2xx or 3xx responses: 1000
Requests/sec:  53827.16
Transfer/sec:      6.98MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	require.NoError(t, err)
	require.Equal(t, int64(32200), r.Requests)
	require.InDelta(t, 1.10, r.Seconds, 1e-9)
	require.InDelta(t, 29263.44, r.ReqPerSec, 1e-9)
	require.InDelta(t, 106.0, *r.P50Us, 1e-9)
	require.InDelta(t, 4320.0, *r.P99Us, 1e-9)
	require.InDelta(t, 513.72, *r.MeanUs, 1e-9)
	require.InDelta(t, 8650.0, *r.MaxUs, 1e-9)
	require.Zero(t, r.Errors)
	require.Empty(t, r.ErrorDetail)
}

func TestParseWrkErrors(t *testing.T) {
	r, err := parseWrk(wrkErrorSample)
	require.NoError(t, err)
	require.Equal(t, int64(1042), r.Errors)
	require.Contains(t, r.ErrorDetail, "timeout 30")
	require.Contains(t, r.ErrorDetail, "Non-2xx")
	// non-2xx responses are not successful requests
	require.Equal(t, int64(435000), r.Requests)
	require.InDelta(t, 53827.16*435000/436000, r.ReqPerSec, 1e-6)
	require.InDelta(t, 91000.0, *r.P50Us, 1e-9)
	require.Nil(t, r.P99Us, "0.00us is wrk's 'no data', not a latency")
	require.InDelta(t, 1.02e6, *r.MaxUs, 1e-6)
}

func TestParseWrkGarbage(t *testing.T) {
	_, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n")
	require.Error(t, err)
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

func TestWrkArgs(t *testing.T) {
	spec := LoadSpec{Addr: "127.0.0.1:9", Path: "/file", Header: "Range: bytes=0-4095", Conns: 10000, Pipeline: 16, Duration: 8 * time.Second}
	args := strings.Join(wrkArgs(spec, "/tmp/p.lua", 10*time.Second), " ")
	require.Equal(t, "-t 1 -c 10000 -d 8s --timeout 10s --latency -H Range: bytes=0-4095 -s /tmp/p.lua http://127.0.0.1:9/file -- 16", args)
	spec.Pipeline, spec.Header = 1, ""
	args = strings.Join(wrkArgs(spec, "/tmp/p.lua", 10*time.Second), " ")
	require.NotContains(t, args, "-s ")
	require.Contains(t, pipelineLua, "wrk.format()")
	require.Equal(t, "1s", wrkSeconds(300*time.Millisecond))
	require.Equal(t, "2s", wrkSeconds(1500*time.Millisecond))
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

func TestParsePerf(t *testing.T) {
	v, err := parsePerf("# started on Mon\n\n29,,raw_syscalls:sys_enter,594475,100.00,,\n")
	require.NoError(t, err)
	require.Equal(t, 29.0, v)
	_, err = parsePerf("<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n")
	require.Error(t, err)
	_, err = parsePerf("")
	require.Error(t, err)
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
