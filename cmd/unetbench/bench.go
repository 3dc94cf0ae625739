package main

// The measurement loop: interleaved repetitions of every point on every
// backend, and what is sampled around each measured window.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// bench holds the state of one run.
type bench struct {
	cfg      *config
	run      *Run
	pin      Pinning
	gen      Generator
	perf     *perfTool // nil when perf cannot count here
	tmp      string
	out      string // output directory
	fileSize int
	opts     ServerOpts
	servers  map[string]*Server
	infos    map[string]*ServerInfo
	seq      int
	progress *progress
	t0       time.Time
}

// maxFailedStarts bounds how often a backend that fails to start is
// tried again, so it does not eat the whole run in start-up time-outs.
const maxFailedStarts = 3

// idleWait is how long idle connections sit before RSS is read, so the
// server has finished reacting to them (parked goroutines, GC).
const idleWait = 2 * time.Second

// plan is what the run will do and how long each step should take, for
// the progress lines' ETA.
func (b *bench) plan() map[string]planStep {
	var load, idle int
	for _, p := range b.run.Points {
		if p.Mode == ModeLoad {
			load++
		} else {
			idle++
		}
	}
	n := len(b.cfg.backends)
	settle := 2*b.cfg.settle + 300*time.Millisecond
	plan := map[string]planStep{
		"load": {n * load * b.cfg.reps, b.cfg.warmup + b.cfg.duration + settle},
		"idle": {n * idle * b.cfg.idleReps, idleWait + 3*time.Second},
	}
	if b.perf != nil {
		plan["mech"] = planStep{n * load, b.cfg.mechDuration + 2*perfAttachDelay + settle}
	}
	if b.cfg.profile {
		plan["profile"] = planStep{n * load, b.cfg.profDuration + 3*time.Second + settle}
	}
	return plan
}

// server returns the running server of a backend, starting it (again)
// when needed. A server that died since the last point is a crash: it is
// recorded and restarted so the other points still run.
func (b *bench) server(ctx context.Context, be string) (*Server, error) {
	info := b.infos[be]
	if s := b.servers[be]; s != nil {
		if s.Alive() {
			return s, nil
		}
		info.Restarts++
		info.Stops = append(info.Stops, s.Stop(0))
		info.Problems = append(info.Problems, fmt.Sprintf("server crashed during the run (%v); restarted", s.waitErr))
		delete(b.servers, be)
	}
	if info.Failed >= maxFailedStarts {
		return nil, fmt.Errorf("%s server: gave up after %d failed starts", be, info.Failed)
	}
	s, err := b.start(ctx, be)
	if err != nil {
		return nil, err
	}
	b.servers[be] = s
	return s, nil
}

// start starts a server and checks it runs the backend asked for: a
// silent fallback (say uring unavailable, running std) would make every
// ratio meaningless.
func (b *bench) start(ctx context.Context, be string) (*Server, error) {
	info := b.infos[be]
	info.Starts++
	s, err := startServer(ctx, b.opts, be)
	if err != nil {
		if ctx.Err() == nil {
			info.Failed++
			info.Problems = append(info.Problems, "start failed: "+err.Error())
			fmt.Fprintf(os.Stderr, "  %s: %s\n", be, shortErr(err.Error()))
		}
		return nil, err
	}
	if info.Contract == "" {
		if err := checkContract(ctx, s.Addr, b.needs()); err != nil {
			info.Failed++
			info.Stops = append(info.Stops, s.Stop(2*time.Second))
			err = fmt.Errorf("%s server breaks the server contract (see unetbench's doc): %v", be, err)
			info.Problems = append(info.Problems, err.Error())
			fmt.Fprintf(os.Stderr, "  %s\n", shortErr(err.Error()))
			return nil, err
		}
		info.Contract = "ok"
	}
	if info.Reported == "" {
		info.Reported = s.Reported
		base, _ := splitVariant(be)
		if s.Reported != "" && !strings.Contains(strings.ToLower(s.Reported), strings.ToLower(base)) {
			msg := fmt.Sprintf("asked for UNET_BACKEND=%s but /debug/vars reports backend %q", be, s.Reported)
			info.Problems = append(info.Problems, msg)
			fmt.Fprintf(os.Stderr, "  WARNING: %s\n", msg)
		}
	}
	return s, nil
}

// stopServer shuts a server down and records how it ended.
func (b *bench) stopServer(be string, s *Server) {
	b.infos[be].Stops = append(b.infos[be].Stops, s.Stop(12*time.Second))
}

// stopAll shuts every running server down.
func (b *bench) stopAll() {
	for _, be := range b.cfg.backends {
		if s := b.servers[be]; s != nil {
			b.stopServer(be, s)
			delete(b.servers, be)
		}
	}
}

// scanLogs flags panics and fatal errors in the server logs.
func (b *bench) scanLogs() {
	for _, info := range b.run.Servers {
		log, err := os.ReadFile(info.Log)
		if err != nil {
			continue
		}
		for _, sig := range []string{"panic:", "fatal error:", "WARNING: DATA RACE"} {
			if n := strings.Count(string(log), sig); n > 0 {
				info.Problems = append(info.Problems, fmt.Sprintf("log contains %q %d times", sig, n))
			}
		}
	}
}

// loadPoints lists the load points.
func (b *bench) loadPoints() []Point { return pointsOf(b.run, ModeLoad) }

// idlePhase measures memory per idle connection. Each measurement uses a
// freshly started server: a server that already served load has a grown
// heap that new connections would reuse, hiding their cost.
func (b *bench) idlePhase(ctx context.Context) {
	points := pointsOf(b.run, ModeIdle)
	for rep := 0; rep < b.cfg.idleReps && len(points) > 0; rep++ {
		for pi, p := range points {
			for _, be := range backendOrder(b.cfg.backends, rep, pi) {
				if ctx.Err() != nil {
					return
				}
				s := b.measureIdle(ctx, be, p, rep)
				if ctx.Err() != nil {
					return
				}
				b.record(s)
			}
		}
	}
}

// measureIdle opens the idle connections against a fresh server.
func (b *bench) measureIdle(ctx context.Context, be string, p Point, rep int) *Sample {
	smp := b.newSample(be, p, rep)
	smp.Generator = "built-in Go client"
	if b.infos[be].Failed >= maxFailedStarts {
		smp.Err = "server start failed too often"
		return smp
	}
	srv, err := b.start(ctx, be)
	if err != nil {
		smp.Err = err.Error()
		return smp
	}
	defer b.stopServer(be, srv)
	before, err := srv.Sample()
	if err != nil {
		smp.Err = err.Error()
		return smp
	}
	conns, err := openIdle(ctx, srv.Addr, p.Conns)
	if err != nil {
		smp.Err = "opening idle connections: " + err.Error()
		return smp
	}
	defer closeAll(conns)
	select {
	case <-ctx.Done():
		return smp
	case <-time.After(idleWait):
	}
	after, err := srv.Sample()
	if err != nil {
		smp.Err = err.Error()
		return smp
	}
	smp.IdleRSSBeforeKB, smp.IdleRSSAfterKB = before.RSSKB, after.RSSKB
	smp.IdleBytesPerConn = f64(float64(after.RSSKB-before.RSSKB) * 1024 / float64(len(conns)))
	return smp
}

// loadPhase runs every load point on every backend, repetition by
// repetition, so even an interrupted run holds complete sweeps, and the
// two runs of each pair are close in time.
func (b *bench) loadPhase(ctx context.Context) {
	points := b.loadPoints()
	if len(points) == 0 {
		return
	}
	for _, be := range b.cfg.backends {
		if ctx.Err() != nil {
			return
		}
		b.server(ctx, be) // start all up front; failures are retried per point
	}
	for rep := 0; rep < b.cfg.reps; rep++ {
		if rep > 0 && b.cfg.restart {
			// A fresh process per backend and repetition: a server
			// process can be slower or faster than an identical one for
			// its whole life (seen as A/A "wins" with one process per
			// backend), and only new processes turn that into noise the
			// test sees instead of a difference it reports.
			b.stopAll()
		}
		for pi, p := range points {
			for _, be := range backendOrder(b.cfg.backends, rep, pi) {
				if ctx.Err() != nil {
					return
				}
				s := b.measureLoad(ctx, be, p, rep)
				if ctx.Err() != nil {
					return // an interrupted window is not a measurement
				}
				b.record(s)
			}
		}
	}
}

// newSample starts a sample record.
func (b *bench) newSample(be string, p Point, rep int) *Sample {
	b.seq++
	return &Sample{Point: p, Backend: be, Rep: rep, Seq: b.seq, Start: time.Now(), Generator: b.gen.Name()}
}

// measureLoad runs one point on one backend: warm-up, then the timed
// window with /proc and /debug/vars read around it and nothing attached.
func (b *bench) measureLoad(ctx context.Context, be string, p Point, rep int) *Sample {
	smp := b.newSample(be, p, rep)
	srv, err := b.server(ctx, be)
	if err != nil {
		smp.Err = "server not running: " + err.Error()
		return smp
	}
	spec := b.spec(srv, p, b.cfg.warmup)
	if b.cfg.warmup > 0 {
		if _, err := b.gen.Run(ctx, spec); err != nil {
			smp.Err = "warm-up: " + err.Error()
			if !b.died(srv, smp) {
				b.checkResponsive(ctx, srv, p)
			}
			return smp
		}
		sleepCtx(ctx, b.cfg.settle)
	}
	spec.Duration = b.cfg.duration

	// The timed window: nothing is attached to the server. /proc and
	// /debug/vars are read before and after it, not during.
	vars0, _, varsErr := srv.Vars(ctx)
	cpu0, cpuErr := readCPUTicks(b.pin.ServerCPU)
	proc0, procErr := srv.Sample()
	res, genErr := b.gen.Run(ctx, spec)
	proc1, procErr1 := srv.Sample()
	cpu1, cpuErr1 := readCPUTicks(b.pin.ServerCPU)
	vars1, _, varsErr1 := srv.Vars(ctx)
	defer sleepCtx(ctx, b.cfg.settle)

	if genErr != nil {
		smp.Err = genErr.Error()
		if !b.died(srv, smp) {
			b.checkResponsive(ctx, srv, p)
		}
		return smp
	}
	fillLoad(smp, res)
	if b.died(srv, smp) {
		return smp
	}
	if res.Requests == 0 {
		smp.Err = "no successful request: " + res.ErrorDetail
		b.checkResponsive(ctx, srv, p)
		return smp
	}
	req := float64(res.Requests)
	if procErr == nil && procErr1 == nil {
		smp.CPUUserUsPerReq = f64(float64(proc1.UserTicks-proc0.UserTicks) / clockTicks * 1e6 / req)
		smp.CPUSysUsPerReq = f64(float64(proc1.SysTicks-proc0.SysTicks) / clockTicks * 1e6 / req)
		smp.CtxPerReq = f64(float64(proc1.CtxSwitches-proc0.CtxSwitches) / req)
		server := proc1.UserTicks - proc0.UserTicks + proc1.SysTicks - proc0.SysTicks
		if v, ok := otherLoadPct(cpu0, cpu1, server); ok && b.pin.Enabled && cpuErr == nil && cpuErr1 == nil {
			smp.OtherLoadPct = f64(v)
		}
	}
	if varsErr == nil && varsErr1 == nil {
		smp.Unet, smp.UnetSyscallsPerReq = unetDeltas(vars0, vars1, req)
	}
	return smp
}

// spec is the load of a point against a server for d.
func (b *bench) spec(srv *Server, p Point, d time.Duration) LoadSpec {
	return LoadSpec{Addr: srv.Addr, Path: p.Path(), Header: p.Header(b.fileSize),
		Conns: p.Conns, Pipeline: p.Pipeline, Duration: d}
}

// fillLoad copies a generator result into a sample.
func fillLoad(smp *Sample, res LoadResult) {
	smp.Requests, smp.Seconds, smp.ReqPerSec = res.Requests, res.Seconds, res.ReqPerSec
	smp.P50Us, smp.P99Us, smp.MeanUs, smp.MaxUs = res.P50Us, res.P99Us, res.MeanUs, res.MaxUs
	smp.Errors, smp.ErrorDetail = res.Errors, res.ErrorDetail
}

// unetDeltas subtracts the counters and computes the scheduler's
// syscalls per request (Enters + EpollWaits + IOSyscalls). A backend
// whose counters did not move (std) gets no syscall figure: zero would
// read as "no syscalls" rather than "not counted".
func unetDeltas(before, after map[string]float64, req float64) (map[string]float64, *float64) {
	d := map[string]float64{}
	moved := false
	for k, v := range after {
		d[k] = v - before[k]
		if d[k] != 0 {
			moved = true
		}
	}
	if !moved {
		return nil, nil
	}
	_, a := after["Enters"]
	_, e := after["EpollWaits"]
	_, i := after["IOSyscalls"]
	if !a && !e && !i {
		return d, nil
	}
	return d, f64((d["Enters"] + d["EpollWaits"] + d["IOSyscalls"]) / req)
}

// checkResponsive replaces a server that no longer answers after a failed
// point (a deadlocked scheduler): otherwise every later point of that
// backend would fail too, each after a full time-out.
func (b *bench) checkResponsive(ctx context.Context, srv *Server, p Point) {
	if ctx.Err() != nil {
		return
	}
	if _, _, err := srv.Vars(ctx); err == nil {
		return
	}
	info := b.infos[srv.Backend]
	info.Problems = append(info.Problems, fmt.Sprintf("server stopped answering /debug/vars after %s; replaced", p.Label()))
	fmt.Fprintf(os.Stderr, "  %s: server unresponsive after %s, restarting it\n", srv.Backend, p.Label())
	info.Restarts++
	info.Stops = append(info.Stops, srv.Stop(3*time.Second))
	delete(b.servers, srv.Backend)
}

// died marks a sample failed when its server exited under load.
func (b *bench) died(srv *Server, smp *Sample) bool {
	time.Sleep(10 * time.Millisecond) // let a crash be reaped
	if srv.Alive() {
		return false
	}
	msg := fmt.Sprintf("server exited during the point (%v): %s", srv.waitErr, tail(b.infos[srv.Backend].Log, 400))
	if smp.Err != "" {
		msg = smp.Err + "; " + msg
	}
	smp.Err = msg
	return true
}

// record stores a sample, prints a progress line and saves the results
// so far: a crash at minute 40 keeps 40 minutes of results.
func (b *bench) record(s *Sample) {
	b.run.Samples = append(b.run.Samples, s)
	kind := "load"
	if s.Point.Mode == ModeIdle {
		kind = "idle"
	}
	b.progress.step(kind, sampleLine(s))
	b.save()
}

// save writes every output file from the results so far.
func (b *bench) save() {
	b.run.Meta.Elapsed = time.Since(b.t0).Round(time.Second).String()
	if err := writeOutputs(b.out, b.run); err != nil {
		fmt.Fprintf(os.Stderr, "unetbench: saving results: %v\n", err)
	}
}

// sampleLine is the progress line of a timed or idle sample.
func sampleLine(s *Sample) string {
	head := fmt.Sprintf("rep %d %-6s %-32s", s.Rep+1, s.Backend, s.Point.Label())
	switch {
	case !s.OK():
		return fmt.Sprintf("%s FAILED: %s", head, shortErr(s.Err))
	case s.Point.Mode == ModeIdle:
		return fmt.Sprintf("%s %s per idle conn (RSS %d -> %d kB)", head, fmtBytes(*s.IdleBytesPerConn), s.IdleRSSBeforeKB, s.IdleRSSAfterKB)
	}
	line := fmt.Sprintf("%s %9s req/s", head, fmtCount(s.ReqPerSec))
	if v, ok := MetricByKey("p99_us").Get(s); ok {
		line += ", p99 " + fmtMicros(v)
	}
	if v, ok := MetricByKey("cpu_us_per_req").Get(s); ok {
		line += fmt.Sprintf(", cpu %s µs/req", fmtFloat(v))
	}
	if v, ok := opt(s.OtherLoadPct); ok && v >= 5 {
		line += fmt.Sprintf(", other processes %.0f%% of the server's CPU", v)
	}
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d ERRORS", s.Errors)
	}
	return line
}

// sleepCtx sleeps unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
