package main

// -profile: per backend and point, where the server's CPU goes. perf
// samples the server's CPU (cpu-clock, which works without hardware
// counters, with call graphs) and sees the kernel, which is where io_uring
// task work, socket wake-ups and interrupts show; Go's pprof CPU profile
// names the Go functions. Both run in a window of their own under the
// point's load, never in a timed one, and the raw profiles stay in
// -out/profiles for `perf report -i` and `go tool pprof`.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pprofEnv asks the server to serve net/http/pprof: the example server
// does only when it is set, so its default build answers nothing there.
const pprofEnv = "UNETBENCH_PPROF=1"

// profilePhase takes one profile per load point and backend.
func (b *bench) profilePhase(ctx context.Context) {
	if !b.cfg.profile {
		return
	}
	for pi, p := range b.loadPoints() {
		for _, be := range backendOrder(b.cfg.backends, 0, pi) {
			if ctx.Err() != nil {
				return
			}
			pr := b.measureProfile(ctx, be, p)
			if ctx.Err() != nil {
				return
			}
			b.run.Profiles = append(b.run.Profiles, pr)
			b.progress.step("profile", profileLine(pr))
			b.save()
		}
	}
}

// slugRe is what a file name keeps of a label.
var slugRe = regexp.MustCompile(`[^A-Za-z0-9_.=-]+`)

func slug(s string) string { return strings.Trim(slugRe.ReplaceAllString(s, "_"), "_") }

// measureProfile drives the load and, from half a second in (connections
// set up), records perf and pprof for -profile-duration.
func (b *bench) measureProfile(ctx context.Context, be string, p Point) *Profile {
	pr := &Profile{Point: p, Backend: be}
	srv, err := b.server(ctx, be)
	if err != nil {
		pr.PerfErr, pr.PprofErr = err.Error(), err.Error()
		return pr
	}
	defer sleepCtx(ctx, b.cfg.settle)
	dir := filepath.Join(b.out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		pr.PerfErr, pr.PprofErr = err.Error(), err.Error()
		return pr
	}
	base := filepath.Join(dir, slug(p.Label())+"-"+slug(be))
	secs := max(int(b.cfg.profDuration.Seconds()+0.5), 1)

	type genOut struct {
		res LoadResult
		err error
	}
	gen := make(chan genOut, 1)
	go func() {
		r, err := b.gen.Run(ctx, b.spec(srv, p, time.Duration(secs+1)*time.Second))
		gen <- genOut{r, err}
	}()
	sleepCtx(ctx, 500*time.Millisecond)
	var wg sync.WaitGroup
	if b.perf != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.perfRecord(ctx, srv, pr, base+".perf.data", secs)
		}()
	} else {
		pr.PerfErr = "perf unavailable"
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.pprofRecord(ctx, srv, pr, base+".pprof", secs)
	}()
	wg.Wait()
	g := <-gen
	if g.err != nil && pr.PerfErr == "" {
		pr.PerfErr = "load: " + g.err.Error()
	}
	pr.Requests = g.res.Requests
	return pr
}

// perfRecord samples the server's CPU (the whole process when unpinned)
// and reduces the recording to the server's kernel and user shares.
func (b *bench) perfRecord(ctx context.Context, srv *Server, pr *Profile, file string, secs int) {
	target := []string{"-p", strconv.Itoa(srv.Pid())}
	if b.pin.Enabled {
		target = []string{"-C", strconv.Itoa(b.pin.ServerCPU)}
	}
	args := append([]string{b.perf.path, "record", "-q", "-e", "cpu-clock", "-g", "-o", file}, target...)
	args = append(args, "--", "sleep", strconv.Itoa(secs))
	argv := b.pin.Wrap(args, b.pin.GenCPU)
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		pr.PerfErr = fmt.Sprintf("perf record: %v: %s", err, shortErr(string(out)))
		return
	}
	pr.PerfData = relOut(b.out, file)
	report := func(extra ...string) (string, error) {
		args := append([]string{"report", "-i", file, "--stdio", "--no-children", "-g", "none", "--percentage", "absolute"}, extra...)
		out, err := exec.CommandContext(ctx, b.perf.path, args...).Output()
		return string(out), err
	}
	syms, err := report("--pid", strconv.Itoa(srv.Pid()), "--sort", "sym")
	if err != nil {
		pr.PerfErr = "perf report: " + err.Error()
		return
	}
	var sh CPUShares
	pr.Kernel, pr.User, sh.ServerKernel, sh.ServerUser = parsePerfSyms(syms)
	if b.pin.Enabled {
		if pids, err := report("--sort", "pid"); err == nil {
			sh.Idle = parsePerfIdle(pids)
			sh.Other = max(100-sh.ServerKernel-sh.ServerUser-sh.Idle, 0)
		}
	}
	pr.Shares = &sh
}

// pprofRecord fetches the server's CPU profile from /debug/pprof/profile
// and reduces it with `go tool pprof -top`.
func (b *bench) pprofRecord(ctx context.Context, srv *Server, pr *Profile, file string, secs int) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", srv.Addr, secs)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		pr.PprofErr = err.Error()
		return
	}
	c := &http.Client{Timeout: time.Duration(secs+10) * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		pr.PprofErr = err.Error()
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		pr.PprofErr = fmt.Sprintf("/debug/pprof/profile: %s %v (the server serves pprof only with %s)", resp.Status, err, pprofEnv)
		return
	}
	if err := os.WriteFile(file, body, 0o644); err != nil {
		pr.PprofErr = err.Error()
		return
	}
	pr.Pprof = relOut(b.out, file)
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=40", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		pr.PprofErr = fmt.Sprintf("go tool pprof: %v: %s", err, shortErr(stderr.String()))
		return
	}
	pr.Go = parsePprofTop(string(out))
}

// relOut names a file relative to the output directory, so results.json
// stays valid when the directory moves.
func relOut(out, file string) string {
	if r, err := filepath.Rel(out, file); err == nil {
		return r
	}
	return file
}

// profileLine is the progress line of a profile window.
func profileLine(pr *Profile) string {
	head := "profile " + pr.Backend + " " + pr.Point.Label()
	var parts []string
	if pr.Shares != nil {
		parts = append(parts, fmt.Sprintf("server %.0f%% kernel / %.0f%% user, idle %.0f%%", pr.Shares.ServerKernel, pr.Shares.ServerUser, pr.Shares.Idle))
	} else if pr.PerfErr != "" {
		parts = append(parts, "perf: "+shortErr(pr.PerfErr))
	}
	if pr.PprofErr != "" {
		parts = append(parts, "pprof: "+shortErr(pr.PprofErr))
	} else if len(pr.Go) > 0 {
		parts = append(parts, fmt.Sprintf("pprof top %s %.1f%%", pr.Go[0].Name, pr.Go[0].Pct))
	}
	return head + ": " + strings.Join(parts, "; ")
}
