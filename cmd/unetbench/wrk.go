package main

// wrk as the HTTP/1.1 load generator, when installed: it is the standard
// tool and costs less CPU per request than the built-in Go client.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pipelineLua is TechEmpower's pipeline.lua: each write carries `depth`
// copies of the request (wrk.format() includes -H headers), so wrk keeps
// depth requests in flight per connection.
const pipelineLua = `-- written by unetbench: send args[1] requests per write
init = function(args)
  local depth = tonumber(args[1]) or 1
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
`

// wrkGen runs wrk with one thread pinned to the generator CPU.
type wrkGen struct {
	path    string
	version string
	lua     string // pipeline.lua in the temp dir
	pin     Pinning
	timeout time.Duration
}

// newWrk finds wrk and writes the pipelining script into dir.
func newWrk(dir string, pin Pinning) (*wrkGen, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return nil, err
	}
	lua := filepath.Join(dir, "pipeline.lua")
	if err := os.WriteFile(lua, []byte(pipelineLua), 0o644); err != nil {
		return nil, err
	}
	// `wrk -v` prints its version and exits non-zero.
	v, _ := exec.Command(path, "-v").CombinedOutput()
	ver, _, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
	ver = strings.TrimSpace(strings.Split(ver, "Copyright")[0])
	return &wrkGen{path: path, version: ver, lua: lua, pin: pin, timeout: 10 * time.Second}, nil
}

func (w *wrkGen) Name() string {
	return fmt.Sprintf("%s (-t 1 --latency, pipelining via pipeline.lua)", w.version)
}

// wrkArgs builds the command line. One thread however many connections:
// the generator has one core, and more threads would only time-share it.
func wrkArgs(spec LoadSpec, lua string, timeout time.Duration) []string {
	args := []string{"-t", "1", "-c", strconv.Itoa(spec.Conns),
		"-d", wrkSeconds(spec.Duration),
		"--timeout", wrkSeconds(timeout), "--latency"}
	if spec.Header != "" {
		args = append(args, "-H", spec.Header)
	}
	if spec.Pipeline > 1 {
		args = append(args, "-s", lua)
	}
	args = append(args, spec.URL())
	if spec.Pipeline > 1 {
		args = append(args, "--", strconv.Itoa(spec.Pipeline))
	}
	return args
}

// Run runs wrk and parses its report.
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

var (
	wrkReqRe    = regexp.MustCompile(`(\d+) requests in ([\d.]+\w+),`)
	wrkRPSRe    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPctRe    = regexp.MustCompile(`^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$`)
	wrkLatRe    = regexp.MustCompile(`^\s+Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)`)
	wrkSockRe   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk --latency output: requests, Requests/sec, the 50%
// and 99% latency lines, average and max latency, and errors.
func parseWrk(out string) (LoadResult, error) {
	var r LoadResult
	m := wrkRPSRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output has no Requests/sec: %q", out)
	}
	r.ReqPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkReqRe.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
		if us, err := parseLatency(m[2]); err == nil {
			r.Seconds = us / 1e6
		}
	}
	pct := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkPctRe.FindStringSubmatch(line); m != nil {
			if us, err := parseLatency(m[2]); err == nil {
				pct[m[1]] = us
			}
		}
		if m := wrkLatRe.FindStringSubmatch(line); m != nil {
			if us, err := parseLatency(m[1]); err == nil {
				r.MeanUs = f64(us)
			}
			if us, err := parseLatency(m[3]); err == nil {
				r.MaxUs = f64(us)
			}
		}
	}
	// wrk prints 0.00us for a percentile it has no data for (seen with
	// few pipelined batches): that is "unknown", not zero.
	if v, ok := pct["50"]; ok && v > 0 {
		r.P50Us = f64(v)
	}
	if v, ok := pct["99"]; ok && v > 0 {
		r.P99Us = f64(v)
	}
	var detail []string
	if m := wrkSockRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
		detail = append(detail, strings.TrimSpace(m[0]))
	}
	if m := wrkNon2xxRe.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.Errors += n
		// wrk counts non-2xx responses in Requests/sec; take them out so
		// req/s means successful requests, as with the other generators.
		if r.Requests > 0 {
			r.ReqPerSec *= float64(max(r.Requests-n, 0)) / float64(r.Requests)
			r.Requests = max(r.Requests-n, 0)
		}
		detail = append(detail, strings.TrimSpace(m[0]))
	}
	if r.Errors > 0 {
		r.ErrorDetail = strings.Join(detail, "; ")
	}
	return r, nil
}

// parseLatency converts wrk's and h2load's durations ("160.00us",
// "1.98ms", "2.00s", "1.05m") to microseconds.
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
