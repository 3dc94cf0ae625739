package main

// Command-line flags and the -quick / full defaults.

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	backends      []string
	reps          int
	quick         bool
	conns         []int
	sizes         []int
	fileSizes     []int
	fileConns     []int
	pipeline      []int
	pipelineConns int
	duration      time.Duration
	warmup        time.Duration
	settle        time.Duration
	out           string
	unpinned      bool
	h2            bool
	idle          int
	idleReps      int
	gen           string
	perf          bool
	mechDuration  time.Duration
	profile       bool
	profDuration  time.Duration
	control       bool
	restart       bool
	serverPkg     string
	serverBin     string
}

// defaults for a full run and for -quick; a flag given explicitly always
// wins over either.
var (
	fullDefaults = map[string]string{
		"conns": "1,16,256,1024,4096,10000", "sizes": "13,4096,65536,1048576",
		"file-sizes": "65536,1048576", "duration": "3s", "reps": "6", "idle-reps": "0",
		"mech-duration": "3s",
	}
	// -quick runs MinPairs short pairs rather than fewer long ones: with
	// fewer than MinPairs pairs no cell could carry a verdict.
	quickDefaults = map[string]string{
		"conns": "16,256,4096", "sizes": "13",
		"file-sizes": "", "duration": "1s", "reps": strconv.Itoa(MinPairs), "idle-reps": "1",
		"mech-duration": "2s",
	}
)

// parseFlags parses args (without the program name).
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("unetbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/unetbench [flags]\n\n"+
			"Builds examples/http once, starts it per backend (UNET_BACKEND), drives\n"+
			"interleaved load against each and writes results.md, results.json,\n"+
			"results.bench and chart.svg to -out, after every measurement. Defaults are\n"+
			"the full sweep; -quick is a 5-minute check. A custom -server/-server-bin must\n"+
			"keep the contract in cmd/unetbench/contract.go (checked at start-up).\n\n")
		fs.PrintDefaults()
	}
	var c config
	backends := fs.String("backends", "std,epoll,uring", "backends to compare, comma-separated (std is the baseline for ratios); a backend may carry\nenvironment for its server, to compare settings: uring+UNET_URING_SHARDS=2")
	fs.BoolVar(&c.quick, "quick", false, "quick check: conns 16,256,4096, size 13, pipeline 1 and 16 at 256, 1s points, 6 reps")
	reps := fs.String("reps", "", fmt.Sprintf("repetitions (pairs) per point (full and quick 6; below %d no verdict, cells say \"~ (n<%d)\")", MinPairs, MinPairs))
	conns := fs.String("conns", "", "connection counts (full "+fullDefaults["conns"]+")")
	sizes := fs.String("sizes", "", "response sizes in bytes from memory: 13 is GET /, others /bytes?n= (full "+fullDefaults["sizes"]+")")
	fileSizes := fs.String("file-sizes", "", "file response sizes via /file (sendfile path); empty for none (full "+fullDefaults["file-sizes"]+", quick none)")
	fileConns := fs.String("file-conns", "16,256", "connection counts for the file sizes")
	pipeline := fs.String("pipeline", "1,16", "pipeline depths run at -pipeline-conns (depth 1 also runs at every -conns)")
	fs.IntVar(&c.pipelineConns, "pipeline-conns", 256, "connection count for the pipeline depths")
	duration := fs.String("duration", "", "measured time per point (full 3s, quick 1s; wrk rounds to whole seconds)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured warm-up before each point (0 for none)")
	fs.DurationVar(&c.settle, "settle", 250*time.Millisecond, "pause between runs so closed connections drain")
	fs.StringVar(&c.out, "out", "unetbench-out", "output directory")
	fs.BoolVar(&c.unpinned, "unpinned", false, "do not pin: servers use all cores, GOMAXPROCS unset")
	fs.BoolVar(&c.h2, "h2", false, "HTTP/2 cleartext (h2c) load with h2load instead of HTTP/1.1")
	fs.IntVar(&c.idle, "idle", 10000, "idle keep-alive connections for the memory-per-connection point (0 to skip)")
	idleReps := fs.String("idle-reps", "", "repetitions of the idle memory point (0 = same as -reps; quick 1)")
	fs.StringVar(&c.gen, "gen", "auto", "HTTP/1.1 load generator: auto (wrk if installed), wrk or builtin")
	fs.BoolVar(&c.perf, "perf", true, "count mechanisms (syscalls, context switches, IPIs, io_uring task work) with perf stat,\nin a window of its own per point and backend after the timed ones, when perf works")
	mechDuration := fs.String("mech-duration", "", "length of each mechanism-count window (full 3s, quick 2s)")
	fs.BoolVar(&c.profile, "profile", false, "after the timed and mechanism windows, profile every backend at every load point:\nperf record -e cpu-clock -g on the server's CPU and the server's pprof CPU profile\n(the server gets "+pprofEnv+"); raw profiles in -out/profiles")
	fs.DurationVar(&c.profDuration, "profile-duration", 4*time.Second, "length of each profile window")
	fs.BoolVar(&c.restart, "restart", true, "start every backend's server afresh for each repetition, so a process that happens to be\nslow or fast for its whole life is noise, not a difference")
	fs.BoolVar(&c.control, "control", true, "add the A/A control "+controlBackend+" when std runs: std against itself shows the run's noise floor")
	fs.StringVar(&c.serverPkg, "server", "./examples/http", "server package to build, relative to the module root (see contract.go)")
	fs.StringVar(&c.serverBin, "server-bin", "", "use this prebuilt server binary instead of building (see contract.go)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	defaults := fullDefaults
	if c.quick {
		defaults = quickDefaults
	}
	pick := func(name, v string) string {
		if set[name] {
			return v
		}
		return defaults[name]
	}

	var err error
	if c.backends, err = parseNames(*backends); err != nil {
		return nil, err
	}
	if c.reps, err = strconv.Atoi(pick("reps", *reps)); err != nil || c.reps < 1 {
		return nil, fmt.Errorf("-reps: want a positive integer")
	}
	if c.idleReps, err = strconv.Atoi(pick("idle-reps", *idleReps)); err != nil || c.idleReps < 0 {
		return nil, fmt.Errorf("-idle-reps: want a non-negative integer")
	}
	if c.idleReps == 0 {
		c.idleReps = c.reps
	}
	lists := []struct {
		name string
		dst  *[]int
		v    string
	}{
		{"conns", &c.conns, pick("conns", *conns)},
		{"sizes", &c.sizes, pick("sizes", *sizes)},
		{"file-sizes", &c.fileSizes, pick("file-sizes", *fileSizes)},
		{"file-conns", &c.fileConns, *fileConns},
		{"pipeline", &c.pipeline, *pipeline},
	}
	for _, l := range lists {
		if *l.dst, err = parseInts(l.v); err != nil {
			return nil, fmt.Errorf("-%s: %v", l.name, err)
		}
	}
	for _, s := range c.sizes {
		if s > 1<<20 {
			return nil, fmt.Errorf("-sizes: the server's /bytes answers at most 1048576 bytes")
		}
	}
	if len(c.sizes) == 0 && len(c.fileSizes) == 0 && c.idle == 0 {
		return nil, fmt.Errorf("nothing to run: -sizes, -file-sizes and -idle are all empty")
	}
	if c.duration, err = time.ParseDuration(pick("duration", *duration)); err != nil || c.duration <= 0 {
		return nil, fmt.Errorf("-duration: want a positive duration")
	}
	if c.mechDuration, err = time.ParseDuration(pick("mech-duration", *mechDuration)); err != nil || c.mechDuration <= 0 {
		return nil, fmt.Errorf("-mech-duration: want a positive duration")
	}
	if c.profDuration <= 0 {
		return nil, fmt.Errorf("-profile-duration: want a positive duration")
	}
	if c.control {
		c.backends = withControl(c.backends)
	}
	switch c.gen {
	case "auto", "wrk", "builtin":
	default:
		return nil, fmt.Errorf("-gen: want auto, wrk or builtin")
	}
	return &c, nil
}

// parseInts parses "1,16,256" (empty means none). Sizes may be written
// with a k/m suffix: 4k, 1m.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		mult := 1
		if n, ok := strings.CutSuffix(f, "k"); ok {
			f, mult = n, 1<<10
		} else if n, ok := strings.CutSuffix(f, "m"); ok {
			f, mult = n, 1<<20
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v*mult)
	}
	return out, nil
}

// parseNames parses the backend list, without duplicates.
func parseNames(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-backends: empty")
	}
	return out, nil
}

// controlBackend is the A/A control: the std server again, with an
// environment variable nothing reads, so it is std in a second process.
// Any win or loss it shows against std is noise by construction.
const controlBackend = baseline + "+UNET_AA=1"

// withControl adds the A/A control right after std, when std runs and
// the control is not already listed.
func withControl(backends []string) []string {
	at := -1
	for i, b := range backends {
		if b == controlBackend {
			return backends
		}
		if b == baseline {
			at = i
		}
	}
	if at < 0 {
		return backends
	}
	out := append([]string(nil), backends[:at+1]...)
	out = append(out, controlBackend)
	return append(out, backends[at+1:]...)
}

// buildPoints expands the sweep: every size at every conns count, the
// pipeline depths at pipeline-conns (depth 1 included there, so the
// pipelined point always has its unpipelined twin), the file sizes at
// file-conns, and the idle memory point.
func buildPoints(c *config) []Point {
	proto := ProtoH1
	if c.h2 {
		proto = ProtoH2
	}
	var out []Point
	seen := map[Point]bool{}
	add := func(p Point) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, s := range c.sizes {
		for _, n := range c.conns {
			add(Point{Mode: ModeLoad, Proto: proto, Conns: n, Size: s, Source: SrcMem, Pipeline: 1})
		}
	}
	if len(c.sizes) > 0 {
		for _, d := range c.pipeline {
			add(Point{Mode: ModeLoad, Proto: proto, Conns: c.pipelineConns, Size: c.sizes[0], Source: SrcMem, Pipeline: d})
		}
	}
	for _, s := range c.fileSizes {
		for _, n := range c.fileConns {
			add(Point{Mode: ModeLoad, Proto: proto, Conns: n, Size: s, Source: SrcFile, Pipeline: 1})
		}
	}
	if c.idle > 0 {
		add(Point{Mode: ModeIdle, Proto: ProtoH1, Conns: c.idle, Size: helloSize, Source: SrcMem, Pipeline: 1})
	}
	return out
}

// backendOrder is the order backends run in for one repetition and
// point: A B C, then C B A, rotating the starting backend every two
// repetitions, so no backend always runs first (cold) or right after the
// same neighbour.
func backendOrder(backends []string, rep, point int) []string {
	n := len(backends)
	out := make([]string, n)
	for i := range out {
		out[i] = backends[(i+rep/2)%n]
	}
	if (rep+point)%2 == 1 {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}
