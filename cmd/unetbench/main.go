// Command unetbench compares unet's backends (std, epoll, uring) on the
// example HTTP server: it builds examples/http once, starts it once per
// backend with UNET_BACKEND set, drives interleaved, repeated load against
// each, and reports medians, per-pair ratios against std with the noise
// rule, server CPU, syscalls and context switches per request, and memory
// per idle connection.
//
//	go run ./cmd/unetbench -quick          # about two minutes
//	go run ./cmd/unetbench                 # the full sweep
//	go run ./cmd/unetbench -backends std,uring -conns 256 -reps 8
//
// Output: -out/results.md, results.json (every repetition), chart.svg,
// and server-<backend>.log.
package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	os.Exit(run())
}

// run does the whole benchmark and returns the exit code. Deferred
// cleanups (temp dir, servers) run before main exits, also on Ctrl-C.
func run() int {
	t0 := time.Now()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
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
	perfPath, perfWhy := "", "disabled (-perf=false)"
	if cfg.perf {
		perfPath, perfWhy = probePerf(ctx)
	}
	perfDesc := "perf stat -e " + perfEvent + " -p <server> for the measured window (all backends), plus unet counters from /debug/vars"
	if perfPath == "" {
		perfDesc = "unet counters from /debug/vars only (perf: " + perfWhy + ")"
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
			Command: commandLine(os.Args), Date: t0, CPUModel: model, Cores: cores,
			Kernel: kernel(), GoVersion: goVersion(ctx, modRoot), Pinning: pin.Describe(),
			Generator: gen.Name(), Perf: perfDesc, Backends: cfg.backends, Reps: cfg.reps,
			IdleReps: cfg.idleReps, Duration: cfg.duration.String(), Warmup: cfg.warmup.String(),
			FileSize: fileSize,
		},
		Points: points,
	}
	if cfg.h2 {
		r.Meta.Notes = append(r.Meta.Notes, "HTTP/2 cleartext (h2c prior knowledge) via h2load; the idle memory point still uses HTTP/1.1")
	}
	b := &bench{cfg: cfg, run: r, pin: pin, gen: gen, perf: perfPath, tmp: tmp, fileSize: fileSize,
		opts:    ServerOpts{Bin: bin, File: file, Pin: pin, Logs: out},
		servers: map[string]*Server{}, infos: map[string]*ServerInfo{}}
	for _, be := range cfg.backends {
		logPath := filepath.Join(out, "server-"+be+".log")
		os.Remove(logPath) // a fresh log per run
		info := &ServerInfo{Backend: be, Log: logPath}
		b.infos[be] = info
		r.Servers = append(r.Servers, info)
	}
	fmt.Fprintf(os.Stderr, "%s\ngenerator: %s\nsyscalls: %s\n%d points x %d backends x %d reps, about %s\n",
		pin.Describe(), gen.Name(), perfDesc, len(points), len(cfg.backends), cfg.reps, b.estimate().Round(time.Second))

	b.idlePhase(ctx)
	b.loadPhase(ctx)
	b.stopAll()
	b.scanLogs()

	r.Meta.Interrupted = ctx.Err() != nil
	r.Meta.Elapsed = time.Since(t0).Round(time.Second).String()
	if err := writeOutputs(out, r); err != nil {
		return fail("writing results: %v", err)
	}
	report, _ := os.ReadFile(filepath.Join(out, "results.md"))
	os.Stdout.Write(report)
	fmt.Fprintf(os.Stderr, "\nwrote %s/{results.md,results.json,chart.svg}\n", out)
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

// writeOutputs writes results.json, results.md and chart.svg.
func writeOutputs(dir string, r *Run) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	for name, write := range map[string]func(*os.File) error{
		"results.md": func(f *os.File) error { return WriteReport(f, r) },
		"chart.svg":  func(f *os.File) error { return WriteChart(f, r) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	return nil
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
