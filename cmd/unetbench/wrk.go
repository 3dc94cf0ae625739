package main

// wrk as the HTTP/1.1 load generator, when installed: it is the standard
// tool and costs less CPU per request than the built-in Go client.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkLua is the script every wrk run gets. init() takes the pipeline
// depth: above 1 it defines request(), whose string carries depth copies
// of the request (wrk.format() includes -H headers), as TechEmpower's
// pipeline.lua does; at depth 1 it defines none, so wrk keeps its static
// request and no Lua runs per request. done() prints the results as one
// machine-readable JSON line, so nothing depends on wrk's human-readable
// report. Numbers that are not finite (no latency recorded) print null.
const wrkLua = `-- written by unetbench
init = function(args)
  local depth = tonumber(args[1]) or 1
  if depth > 1 then
    local r = {}
    for i = 1, depth do
      r[i] = wrk.format()
    end
    local req = table.concat(r)
    request = function()
      return req
    end
  end
end

local function num(v)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then
    return "null"
  end
  return string.format("%.17g", v)
end

done = function(summary, latency, requests)
  local e = summary.errors
  local fields = {
    "\"duration_us\":" .. num(summary.duration),
    "\"requests\":" .. num(summary.requests),
    "\"bytes\":" .. num(summary.bytes),
    "\"connect_errors\":" .. num(e.connect),
    "\"read_errors\":" .. num(e.read),
    "\"write_errors\":" .. num(e.write),
    "\"status_errors\":" .. num(e.status),
    "\"timeouts\":" .. num(e.timeout),
    "\"mean_us\":" .. num(latency.mean),
    "\"max_us\":" .. num(latency.max),
    "\"p50_us\":" .. num(latency:percentile(50)),
    "\"p99_us\":" .. num(latency:percentile(99)),
  }
  io.write("` + wrkResultTag + ` {" .. table.concat(fields, ",") .. "}\n")
end
`

// wrkResultTag starts the line wrkLua's done() prints.
const wrkResultTag = "UNETBENCH_WRK_RESULT"

// wrkGen runs wrk with one thread pinned to the generator CPU.
type wrkGen struct {
	path    string
	version string
	lua     string // wrkLua in the temp dir
	pin     Pinning
	timeout time.Duration
}

// newWrk finds wrk and writes its script into dir.
func newWrk(dir string, pin Pinning) (*wrkGen, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return nil, err
	}
	lua := filepath.Join(dir, "unetbench.lua")
	if err := os.WriteFile(lua, []byte(wrkLua), 0o644); err != nil {
		return nil, err
	}
	// `wrk -v` prints its version and exits non-zero.
	v, _ := exec.Command(path, "-v").CombinedOutput()
	ver, _, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
	ver = strings.TrimSpace(strings.Split(ver, "Copyright")[0])
	return &wrkGen{path: path, version: ver, lua: lua, pin: pin, timeout: 10 * time.Second}, nil
}

func (w *wrkGen) Name() string {
	return fmt.Sprintf("%s (-t 1; pipelining and results via a Lua script: request() and done())", w.version)
}

// wrkArgs builds the command line. One thread however many connections:
// the generator has one core, and more threads would only time-share it.
func wrkArgs(spec LoadSpec, lua string, timeout time.Duration) []string {
	args := []string{"-t", "1", "-c", strconv.Itoa(spec.Conns),
		"-d", wrkSeconds(spec.Duration),
		"--timeout", wrkSeconds(timeout), "-s", lua}
	if spec.Header != "" {
		args = append(args, "-H", spec.Header)
	}
	return append(args, spec.URL(), "--", strconv.Itoa(max(spec.Pipeline, 1)))
}

// Run runs wrk and reads the line its done() hook printed.
func (w *wrkGen) Run(ctx context.Context, spec LoadSpec) (LoadResult, error) {
	argv := w.pin.Wrap(append([]string{w.path}, wrkArgs(spec, w.lua, w.timeout)...), w.pin.GenCPU)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = childAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return LoadResult{}, err
	}
	w.pin.AfterStart(cmd.Process.Pid, w.pin.GenCPU)
	if err := cmd.Wait(); err != nil {
		return LoadResult{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return parseWrk(out.String())
}

// wrkResult is the JSON line of wrkLua's done(). Pointers: null means
// wrk had no value.
type wrkResult struct {
	DurationUs    *float64 `json:"duration_us"`
	Requests      *float64 `json:"requests"`
	Bytes         *float64 `json:"bytes"`
	ConnectErrors float64  `json:"connect_errors"`
	ReadErrors    float64  `json:"read_errors"`
	WriteErrors   float64  `json:"write_errors"`
	StatusErrors  float64  `json:"status_errors"`
	Timeouts      float64  `json:"timeouts"`
	MeanUs        *float64 `json:"mean_us"`
	MaxUs         *float64 `json:"max_us"`
	P50Us         *float64 `json:"p50_us"`
	P99Us         *float64 `json:"p99_us"`
}

// parseWrk finds the result line in wrk's output and converts it.
func parseWrk(out string) (LoadResult, error) {
	var r LoadResult
	var line string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), wrkResultTag+" "); ok {
			line = rest
		}
	}
	if line == "" {
		return r, fmt.Errorf("wrk output has no %s line (did the Lua script run?): %q", wrkResultTag, out)
	}
	var w wrkResult
	if err := json.Unmarshal([]byte(line), &w); err != nil {
		return r, fmt.Errorf("wrk result %q: %v", line, err)
	}
	if w.DurationUs == nil || w.Requests == nil || !(*w.DurationUs > 0) {
		return r, fmt.Errorf("wrk result %q: no duration or request count", line)
	}
	r.Seconds = *w.DurationUs / 1e6
	// wrk counts non-2xx/3xx responses as completed requests; they are
	// errors here, so req/s means successful requests as with the other
	// generators.
	r.Requests = max(int64(*w.Requests)-int64(w.StatusErrors), 0)
	r.ReqPerSec = float64(r.Requests) / r.Seconds
	r.Errors = int64(w.ConnectErrors + w.ReadErrors + w.WriteErrors + w.StatusErrors + w.Timeouts)
	if r.Errors > 0 {
		r.ErrorDetail = fmt.Sprintf("socket errors: connect %.0f, read %.0f, write %.0f, timeout %.0f; non-2xx or 3xx responses: %.0f",
			w.ConnectErrors, w.ReadErrors, w.WriteErrors, w.Timeouts, w.StatusErrors)
	}
	// wrk reports 0 for a percentile it has no data for: that is
	// "unknown", not zero.
	for _, v := range []struct {
		src *float64
		dst **float64
	}{{w.P50Us, &r.P50Us}, {w.P99Us, &r.P99Us}, {w.MeanUs, &r.MeanUs}, {w.MaxUs, &r.MaxUs}} {
		if v.src != nil && *v.src > 0 {
			*v.dst = f64(*v.src)
		}
	}
	return r, nil
}

// parseLatency converts h2load's durations ("160.00us", "1.98ms",
// "2.00s", "1.05m") to microseconds.
func parseLatency(s string) (float64, error) {
	units := []struct {
		suffix string
		us     float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %v", s, err)
			}
			return v * u.us, nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}

// wrkSeconds writes a duration the way wrk parses it: whole seconds only
// ("1.5s" is a usage error), at least one.
func wrkSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", max(int64(d.Seconds()+0.5), 1))
}
