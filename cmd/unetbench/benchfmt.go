package main

// results.bench: every measurement in the Go benchmark format
// (golang.org/design/14313-benchmark-format), one line per repetition,
// so benchstat reads it:
//
//	benchstat -col /backend unetbench-out/results.bench
//
// The backend is the last name key; points are the other keys.

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// benchUnits is each unit benchfmt should know the direction of; Unit
// lines tell benchstat which way is better and to assume no distribution.
var benchUnits = []struct{ unit, better string }{
	{"req/s", "higher"}, {"p50-sec", "lower"}, {"p99-sec", "lower"},
	{"cpu-sec/req", "lower"}, {"user-sec/req", "lower"}, {"sys-sec/req", "lower"},
	{"ctxsw/req", "lower"}, {"errors", "lower"}, {"B/idle-conn", "lower"},
}

// WriteBench writes results.bench.
func WriteBench(w io.Writer, run *Run) error {
	bw := bufio.NewWriter(w)
	m := run.Meta
	// Configuration lines: keys are lower case without spaces; values
	// are kept on one line.
	for _, kv := range [][2]string{
		{"goos", "linux"}, {"pkg", "github.com/unetio/unet/cmd/unetbench"}, {"cpu", m.CPUModel},
		{"unetbench-command", m.Command}, {"unetbench-date", m.Date.UTC().Format("2006-01-02T15:04:05Z")},
		{"unetbench-kernel", m.Kernel}, {"unetbench-go", m.GoVersion}, {"unetbench-pinning", m.Pinning},
		{"unetbench-generator", m.Generator}, {"unetbench-window", m.Duration},
	} {
		fmt.Fprintf(bw, "%s: %s\n", kv[0], oneLine(kv[1]))
	}
	for _, u := range benchUnits {
		fmt.Fprintf(bw, "Unit %s better=%s assume=nothing\n", u.unit, u.better)
	}
	fmt.Fprintln(bw)
	for _, s := range run.Samples {
		if !s.OK() {
			continue
		}
		if line := benchLine(s); line != "" {
			fmt.Fprintln(bw, line)
		}
	}
	return bw.Flush()
}

// benchLine is one sample as a benchmark result line, or "" when it holds
// no value.
func benchLine(s *Sample) string {
	var vals []string
	add := func(v float64, ok bool, unit string) {
		if ok {
			vals = append(vals, fmt.Sprintf("%.6g %s", v, unit))
		}
	}
	iters := int64(1)
	if s.Point.Mode == ModeIdle {
		v, ok := opt(s.IdleBytesPerConn)
		add(v, ok, "B/idle-conn")
	} else {
		iters = max(s.Requests, 1)
		add(s.ReqPerSec, s.Requests > 0, "req/s")
		v, ok := MetricByKey("p50_us").Get(s)
		add(v/1e6, ok, "p50-sec")
		v, ok = MetricByKey("p99_us").Get(s)
		add(v/1e6, ok, "p99-sec")
		v, ok = MetricByKey("cpu_us_per_req").Get(s)
		add(v/1e6, ok, "cpu-sec/req")
		v, ok = opt(s.CPUUserUsPerReq)
		add(v/1e6, ok, "user-sec/req")
		v, ok = opt(s.CPUSysUsPerReq)
		add(v/1e6, ok, "sys-sec/req")
		v, ok = opt(s.CtxPerReq)
		add(v, ok, "ctxsw/req")
		add(float64(s.Errors), true, "errors")
	}
	if len(vals) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %d %s", benchName(s.Point, s.Backend), iters, strings.Join(vals, " "))
}

// benchName names a point as sub-benchmark keys. Values may not contain
// spaces or slashes.
func benchName(p Point, backend string) string {
	clean := func(v string) string {
		return strings.NewReplacer(" ", "", "/", "", "\t", "").Replace(v)
	}
	if p.Mode == ModeIdle {
		return fmt.Sprintf("BenchmarkIdle/conns=%d/backend=%s", p.Conns, clean(backend))
	}
	return fmt.Sprintf("BenchmarkHTTP/proto=%s/conns=%d/size=%d/source=%s/pipeline=%d/backend=%s",
		clean(p.Proto), p.Conns, p.Size, p.Source, p.Pipeline, clean(backend))
}
