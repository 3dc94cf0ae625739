package main

// h2load (nghttp2) for the -h2 mode: cleartext HTTP/2 with prior
// knowledge (h2c). The server must accept h2c for this to measure
// anything; failures are reported, not hidden.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// h2loadGen runs h2load with one thread pinned to the generator CPU.
type h2loadGen struct {
	path    string
	version string
	pin     Pinning
}

// newH2load finds h2load.
func newH2load(pin Pinning) (*h2loadGen, error) {
	path, err := exec.LookPath("h2load")
	if err != nil {
		return nil, err
	}
	v, _ := exec.Command(path, "--version").CombinedOutput()
	return &h2loadGen{path: path, version: strings.TrimSpace(string(v)), pin: pin}, nil
}

func (h *h2loadGen) Name() string {
	return fmt.Sprintf("%s (h2c, -t 1, pipeline = max concurrent streams -m)", h.version)
}

// h2loadArgs builds the command line. Warm-up is a separate run, as for
// wrk, so the same code measures both.
func h2loadArgs(spec LoadSpec) []string {
	args := []string{"-t", "1", "-c", strconv.Itoa(spec.Conns),
		"-m", strconv.Itoa(max(spec.Pipeline, 1)),
		"-D", fmt.Sprintf("%d", max(int(spec.Duration.Seconds()+0.5), 1))}
	if spec.Header != "" {
		args = append(args, "-H", spec.Header)
	}
	return append(args, spec.URL())
}

// Run runs h2load and parses its summary.
func (h *h2loadGen) Run(ctx context.Context, spec LoadSpec) (LoadResult, error) {
	argv := h.pin.Wrap(append([]string{h.path}, h2loadArgs(spec)...), h.pin.GenCPU)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = childAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return LoadResult{}, err
	}
	h.pin.AfterStart(cmd.Process.Pid, h.pin.GenCPU)
	if err := cmd.Wait(); err != nil {
		return LoadResult{}, fmt.Errorf("h2load: %v: %s", err, strings.TrimSpace(out.String()))
	}
	r, err := parseH2load(out.String())
	if err == nil && r.Requests == 0 {
		err = fmt.Errorf("h2load: no request succeeded (does the server accept h2c prior knowledge? net/http needs Server.Protocols with UnencryptedHTTP2)")
	}
	return r, err
}

var (
	h2FinishedRe = regexp.MustCompile(`finished in ([\d.]+\w+), ([\d.]+) req/s`)
	h2RequestsRe = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2StatusRe   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
	h2LatencyRe  = regexp.MustCompile(`time for request:\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)`)
)

// parseH2load reads h2load's summary. h2load prints min/max/mean/sd of
// request time but no percentiles, so P50/P99 stay unknown.
func parseH2load(out string) (LoadResult, error) {
	var r LoadResult
	m := h2FinishedRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load output has no \"finished in\" line: %q", out)
	}
	r.ReqPerSec, _ = strconv.ParseFloat(m[2], 64)
	m = h2RequestsRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("h2load output has no requests line")
	}
	n := make([]int64, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.ParseInt(m[i], 10, 64)
	}
	r.Requests = n[4]
	// failed includes errored and timeout in h2load's accounting.
	r.Errors = n[5]
	if r.ReqPerSec > 0 {
		r.Seconds = float64(n[3]) / r.ReqPerSec
	}
	detail := []string{strings.TrimSpace(m[0])}
	// "succeeded" includes 4xx and 5xx responses: count only 2xx as done.
	if s := h2StatusRe.FindStringSubmatch(out); s != nil {
		ok, _ := strconv.ParseInt(s[1], 10, 64)
		c4, _ := strconv.ParseInt(s[3], 10, 64)
		c5, _ := strconv.ParseInt(s[4], 10, 64)
		if c4+c5 > 0 {
			r.Errors += c4 + c5
			detail = append(detail, strings.TrimSpace(s[0]))
			if r.Requests > 0 {
				r.ReqPerSec *= float64(ok) / float64(r.Requests)
			}
			r.Requests = ok
		}
	}
	if r.Errors > 0 {
		r.ErrorDetail = strings.Join(detail, "; ")
	}
	if m := h2LatencyRe.FindStringSubmatch(out); m != nil && r.Requests > 0 {
		if us, err := parseLatency(m[3]); err == nil {
			r.MeanUs = f64(us)
		}
		if us, err := parseLatency(m[2]); err == nil {
			r.MaxUs = f64(us)
		}
	}
	return r, nil
}
