// Command unetbench compares unet's backends (std, epoll, uring) on the
// example HTTP server: it builds examples/http once, starts it once per
// backend with UNET_BACKEND set, drives interleaved, repeated load against
// each, and reports medians and per-pair ratios against std with a
// statistical test, server CPU, memory per idle connection and, in windows
// of their own, the mechanisms behind them.
//
//	go run ./cmd/unetbench -quick          # about five minutes
//	go run ./cmd/unetbench                 # the full sweep
//	go run ./cmd/unetbench -backends std,uring -conns 256 -reps 8 -profile
//
// Method. Each point runs on every backend in turn, repetition after
// repetition (the order reversed on alternate points and repetitions, the
// starting backend rotated every two). Timed windows have nothing attached
// to the server: CPU comes from /proc/<pid>/stat and unet's counters from
// /debug/vars, read before and after. Syscalls, context switches,
// inter-processor interrupts and io_uring task work are counted by perf in
// a window of their own per point and backend after the timed ones, and
// -profile adds a perf and pprof profile window after those. A ratio
// against std is called a win or a loss only with at least 6 pairs and
// when the Mann-Whitney U test (golang.org/x/perf/benchmath, as benchstat)
// and the interval of the per-pair ratio both say so at alpha 0.05; an
// A/A control (std+UNET_AA=1, the std server again) runs by default so
// every report shows its noise floor.
//
// Output, rewritten after every measurement so an interrupted run keeps
// what it measured: -out/results.md, results.json (every repetition),
// results.bench (Go benchmark format: benchstat -col /backend
// results.bench), chart.svg (medians with min-max bars), server logs and,
// with -profile, profiles/ (perf.data and pprof files).
//
// Your own server: -server (a package in this module) or -server-bin (any
// binary) replaces examples/http; contract.go documents what it must
// accept and answer, and every server is checked against it at start-up.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == genChildArg {
		os.Exit(genChildMain(os.Args[2:]))
	}
	os.Exit(run(os.Args))
}

// run does the whole benchmark for the command line args (program name
// first) and returns the exit code. Deferred cleanups (temp dir, servers)
// run before main exits, also on Ctrl-C.
func run(args []string) int {
	t0 := time.Now()
	cfg, err := parseFlags(args[1:], os.Stderr)
	if err != nil {
		if err.Error() != "flag: help requested" {
			fmt.Fprintln(os.Stderr, "unetbench:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "unetbench: "+format+"\n", a...)
		return 1
	}
	tmp, err := os.MkdirTemp("", "unetbench-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	out, err := filepath.Abs(cfg.out)
	if err != nil {
		return fail("%v", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail("%v", err)
	}
	nofile, err := raiseNofile()
	if err != nil {
		return fail("raising RLIMIT_NOFILE: %v", err)
	}
	if need := max(cfg.idle, maxInt(cfg.conns), maxInt(cfg.fileConns), cfg.pipelineConns) + 64; uint64(need) > nofile {
		fmt.Fprintf(os.Stderr, "unetbench: warning: RLIMIT_NOFILE hard limit %d is below the %d descriptors the largest point needs\n", nofile, need)
	}

	modRoot, err := moduleRoot(ctx)
	if err != nil && cfg.serverBin == "" {
		return fail("finding the module root (run inside github.com/unetio/unet): %v", err)
	}
	bin := cfg.serverBin
	if bin == "" {
		bin = filepath.Join(tmp, "server")
		fmt.Fprintf(os.Stderr, "building %s ...\n", cfg.serverPkg)
		if err := buildServer(ctx, modRoot, cfg.serverPkg, bin); err != nil {
			return fail("%v", err)
		}
	}

	// Pin only after building: the build may use every core.
	pin := choosePinning(cfg.unpinned)
	if err := pin.pinSelf(); err != nil {
		return fail("pinning this process: %v", err)
	}
	gen, err := chooseGenerator(cfg, tmp, pin)
	if err != nil {
		return fail("%v", err)
	}
	var perf *perfTool
	perfDesc := "no mechanism counts (-perf=false)"
	if cfg.perf {
		var why string
		if perf, why = probePerf(ctx); perf != nil {
			perfDesc = perf.Describe()
		} else {
			perfDesc = "no mechanism counts (perf: " + why + "); unet counters from /debug/vars only"
		}
	}
	profDesc := ""
	if cfg.profile {
		profDesc = fmt.Sprintf("%s per point and backend, after the timed windows: the server's pprof CPU profile (/debug/pprof/profile, server started with %s)", cfg.profDuration, pprofEnv)
		if perf != nil {
			profDesc += " and perf record -e cpu-clock -g on the server's CPU"
		}
	}
	control := ""
	for _, be := range cfg.backends {
		if be == controlBackend {
			control = be
		}
	}

	points := buildPoints(cfg)
	fileSize := maxInt(cfg.fileSizes)
	file := ""
	if fileSize > 0 {
		file = filepath.Join(tmp, "payload.bin")
		if err := writePayload(file, fileSize); err != nil {
			return fail("%v", err)
		}
	}
	model, cores := cpuInfo()
	r := &Run{
		Meta: Meta{
			Command: commandLine(args), Date: t0, CPUModel: model, Cores: cores,
			Kernel: kernel(), GoVersion: goVersion(ctx, modRoot), Pinning: pin.Describe(),
			Generator: gen.Name(), Perf: perfDesc, Control: control, Profile: profDesc,
			MechWindow: cfg.mechDuration.String(), Restart: cfg.restart, Backends: cfg.backends, Reps: cfg.reps,
			IdleReps: cfg.idleReps, Duration: cfg.duration.String(), Warmup: cfg.warmup.String(),
			FileSize: fileSize,
		},
		Points: points,
	}
	if cfg.h2 {
		r.Meta.Notes = append(r.Meta.Notes, "HTTP/2 cleartext (h2c prior knowledge) via h2load; the idle memory point still uses HTTP/1.1")
	}
	var serverEnv []string
	if cfg.profile {
		serverEnv = append(serverEnv, pprofEnv)
	}
	b := &bench{cfg: cfg, run: r, pin: pin, gen: gen, perf: perf, tmp: tmp, out: out, fileSize: fileSize, t0: t0,
		opts:    ServerOpts{Bin: bin, File: file, Pin: pin, Logs: out, Env: serverEnv},
		servers: map[string]*Server{}, infos: map[string]*ServerInfo{}}
	for _, be := range cfg.backends {
		logPath := filepath.Join(out, "server-"+be+".log")
		os.Remove(logPath) // a fresh log per run
		info := &ServerInfo{Backend: be, Log: logPath}
		b.infos[be] = info
		r.Servers = append(r.Servers, info)
	}
	b.progress = newProgress(os.Stderr, time.Now, b.plan())
	fmt.Fprintf(os.Stderr, "%s\ngenerator: %s\nmechanisms: %s\n%d points x %d backends x %d reps, about %s; results saved to %s as they come\n",
		pin.Describe(), gen.Name(), perfDesc, len(points), len(cfg.backends), cfg.reps, b.progress.Planned().Round(time.Second), out)

	b.idlePhase(ctx)
	b.loadPhase(ctx)
	b.mechPhase(ctx)
	b.profilePhase(ctx)
	b.stopAll()
	b.scanLogs()

	r.Meta.Interrupted = ctx.Err() != nil
	r.Meta.Elapsed = time.Since(t0).Round(time.Second).String()
	if err := writeOutputs(out, r); err != nil {
		return fail("writing results: %v", err)
	}
	report, _ := os.ReadFile(filepath.Join(out, "results.md"))
	os.Stdout.Write(report)
	fmt.Fprintf(os.Stderr, "\nwrote %s/{results.md,results.json,results.bench,chart.svg}\n", out)
	if r.Meta.Interrupted {
		return 130
	}
	return 0
}

// chooseGenerator picks h2load for -h2, else wrk when installed (or
// asked for), else the built-in generator.
func chooseGenerator(cfg *config, tmp string, pin Pinning) (Generator, error) {
	if cfg.h2 {
		h, err := newH2load(pin)
		if err != nil {
			return nil, fmt.Errorf("-h2 needs h2load (Debian package nghttp2-client): %v", err)
		}
		return h, nil
	}
	if cfg.gen != "builtin" {
		w, err := newWrk(tmp, pin)
		if err == nil {
			return w, nil
		}
		if cfg.gen == "wrk" {
			return nil, fmt.Errorf("-gen wrk: %v", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &builtinGen{self: self, pin: pin}, nil
}

// writePayload creates the file served at /file.
func writePayload(path string, size int) error {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = 'A' + byte(i%26)
	}
	return os.WriteFile(path, buf, 0o644)
}

// writeOutputs writes results.json, results.md, results.bench and
// chart.svg. Each file is written aside and renamed into place, so a crash
// or Ctrl-C while saving leaves the previous complete version.
func writeOutputs(dir string, r *Run) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"results.json", func(w io.Writer) error { _, err := w.Write(append(js, '\n')); return err }},
		{"results.md", func(w io.Writer) error { return WriteReport(w, r) }},
		{"results.bench", func(w io.Writer) error { return WriteBench(w, r) }},
		{"chart.svg", func(w io.Writer) error { return WriteChart(w, r) }},
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
	}
	return nil
}

// writeAtomic writes path through a temporary file and a rename.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// maxInt is the largest value of xs, 0 for none.
func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// shortErr keeps the first line of an error for progress output.
func shortErr(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
