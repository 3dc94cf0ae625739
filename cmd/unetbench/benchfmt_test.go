package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// results.bench must parse with benchstat's own reader: every good sample
// one result, the backend a name key, the units' direction declared.
func TestWriteBenchParses(t *testing.T) {
	r := fakeRun()
	r.Meta.Command = "go run ./cmd/unetbench -out \"a b\""
	var b bytes.Buffer
	require.NoError(t, WriteBench(&b, r))
	rd := benchfmt.NewReader(bytes.NewReader(b.Bytes()), "results.bench")
	results := map[string]int{}
	n := 0
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			require.Failf(t, "syntax error", "%v", rec)
		case *benchfmt.Result:
			n++
			_, parts := rec.Name.Parts()
			last := string(parts[len(parts)-1])
			require.True(t, strings.HasPrefix(last, "/backend="), "%s", rec.Name.Full())
			results[last]++
			if strings.HasPrefix(string(rec.Name.Full()), "BenchmarkHTTP/") {
				v, ok := rec.Value("req/s")
				require.True(t, ok)
				require.Positive(t, v)
				require.Equal(t, 100000, rec.Iters, "iterations are the requests")
				require.Equal(t, "go run ./cmd/unetbench -out \"a b\"", rec.GetConfig("unetbench-command"))
			}
		}
	}
	require.NoError(t, rd.Err())
	// 2 load points x 6 reps x 4 backends, one failed; idle 6 x 4.
	require.Equal(t, 2*6*4-1+6*4, n)
	require.Equal(t, 2*6+6, results["/backend=std+UNET_AA=1"])
	require.Equal(t, 2*6-1+6, results["/backend=uring"])
	units := rd.Units()
	require.Equal(t, "higher", units[benchfmt.UnitMetadataKey{Unit: "req/s", Key: "better"}].Value)
	require.Equal(t, "lower", units[benchfmt.UnitMetadataKey{Unit: "p99-sec", Key: "better"}].Value)
}

func TestBenchLine(t *testing.T) {
	s := &Sample{Point: Point{Mode: ModeLoad, Proto: ProtoH1, Conns: 16, Size: 13, Source: SrcMem, Pipeline: 1}, Backend: "uring",
		Requests: 2000, ReqPerSec: 1000, P50Us: f64(150), P99Us: f64(2100), CPUUserUsPerReq: f64(4.5), CPUSysUsPerReq: f64(6)}
	require.Equal(t, "BenchmarkHTTP/proto=http1.1/conns=16/size=13/source=mem/pipeline=1/backend=uring 2000 "+
		"1000 req/s 0.00015 p50-sec 0.0021 p99-sec 1.05e-05 cpu-sec/req 4.5e-06 user-sec/req 6e-06 sys-sec/req 0 errors", benchLine(s))
	require.Equal(t, "BenchmarkIdle/conns=10000/backend=std 1 19500 B/idle-conn",
		benchLine(&Sample{Point: Point{Mode: ModeIdle, Conns: 10000}, Backend: "std", IdleBytesPerConn: f64(19500)}))
	require.Empty(t, benchLine(&Sample{Point: Point{Mode: ModeIdle, Conns: 10000}, Backend: "std"}))
}
