package main

import (
	"fmt"
	"time"
)

// Point is one cell of the sweep: what load is driven against a server.
// Every backend runs every point, so the point is the unit a ratio
// against std is computed for.
type Point struct {
	Mode     string `json:"mode"`     // "load" (drive requests) or "idle" (memory per idle conn)
	Proto    string `json:"proto"`    // "http/1.1" or "h2c"
	Conns    int    `json:"conns"`    // concurrent connections
	Size     int    `json:"size"`     // response body bytes
	Source   string `json:"source"`   // "mem": / or /bytes?n=; "file": /file (sendfile / ReaderFrom path)
	Pipeline int    `json:"pipeline"` // requests in flight per connection (h2: streams)
}

// Modes and sources of a Point.
const (
	ModeLoad  = "load"
	ModeIdle  = "idle"
	SrcMem    = "mem"
	SrcFile   = "file"
	ProtoH1   = "http/1.1"
	ProtoH2   = "h2c"
	helloSize = 13 // GET / answers "Hello, World!"
)

// Path is the request path the point fetches.
func (p Point) Path() string {
	switch {
	case p.Source == SrcFile:
		return "/file"
	case p.Size == helloSize:
		return "/"
	default:
		return fmt.Sprintf("/bytes?n=%d", p.Size)
	}
}

// Header is the extra request header the point needs, if any. The server
// takes a single -file, so smaller file sizes are served as a Range of the
// one generated file: http.ServeContent still copies it with io.CopyN, which
// reaches the same ReaderFrom (sendfile) path as a whole-file response.
func (p Point) Header(fileSize int) string {
	if p.Source == SrcFile && p.Size < fileSize {
		return fmt.Sprintf("Range: bytes=0-%d", p.Size-1)
	}
	return ""
}

// Label is a short human name, also used as the point's identity.
func (p Point) Label() string {
	if p.Mode == ModeIdle {
		return fmt.Sprintf("idle %d conns", p.Conns)
	}
	s := fmt.Sprintf("%s c=%d %s p%d", p.Proto, p.Conns, p.Response(), p.Pipeline)
	return s
}

// Response describes the response body: size and where it comes from.
func (p Point) Response() string {
	if p.Mode == ModeIdle {
		return "13 B (one request)"
	}
	if p.Source == SrcFile {
		return sizeLabel(p.Size) + " file"
	}
	return sizeLabel(p.Size)
}

// sizeLabel writes byte counts the way people read them.
func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// Sample is one measurement: one backend at one point in one repetition.
// Optional metrics are pointers so results.json says null rather than a
// misleading zero when a source was unavailable.
type Sample struct {
	Point     Point     `json:"point"`
	Backend   string    `json:"backend"`
	Rep       int       `json:"rep"`
	Seq       int       `json:"seq"` // position in the run, to spot drift
	Start     time.Time `json:"start"`
	Generator string    `json:"generator,omitempty"`
	Err       string    `json:"error,omitempty"`

	Requests    int64    `json:"requests,omitempty"`
	Seconds     float64  `json:"seconds,omitempty"`
	ReqPerSec   float64  `json:"req_per_sec,omitempty"`
	P50Us       *float64 `json:"p50_us,omitempty"`
	P99Us       *float64 `json:"p99_us,omitempty"`
	MeanUs      *float64 `json:"mean_us,omitempty"`
	MaxUs       *float64 `json:"max_us,omitempty"`
	Errors      int64    `json:"errors,omitempty"` // socket errors, timeouts, non-2xx
	ErrorDetail string   `json:"error_detail,omitempty"`

	CPUUserUsPerReq    *float64           `json:"cpu_user_us_per_req,omitempty"`
	CPUSysUsPerReq     *float64           `json:"cpu_sys_us_per_req,omitempty"`
	CtxPerReq          *float64           `json:"ctx_switches_per_req,omitempty"`
	OtherLoadPct       *float64           `json:"other_load_pct,omitempty"` // others' share of the server's CPU
	UnetSyscallsPerReq *float64           `json:"unet_syscalls_per_req,omitempty"`
	Unet               map[string]float64 `json:"unet_deltas,omitempty"` // counter deltas over the window

	IdleRSSBeforeKB  int64    `json:"idle_rss_before_kb,omitempty"`
	IdleRSSAfterKB   int64    `json:"idle_rss_after_kb,omitempty"`
	IdleBytesPerConn *float64 `json:"idle_bytes_per_conn,omitempty"`
}

// OK reports whether the sample holds a measurement.
func (s *Sample) OK() bool { return s.Err == "" }

// ServerInfo records what happened to one backend's server processes.
type ServerInfo struct {
	Backend  string   `json:"backend"`
	Reported string   `json:"reported_backend"`   // what /debug/vars said it runs
	Contract string   `json:"contract,omitempty"` // "ok" once checkContract passed
	Starts   int      `json:"starts"`
	Failed   int      `json:"failed_starts"`
	Restarts int      `json:"restarts"` // after a crash or hang mid-run
	Stops    []string `json:"stops"`    // how each process ended
	Log      string   `json:"log"`
	Problems []string `json:"problems,omitempty"` // panics, start failures, backend mismatch
}

// Meta describes the run: everything the report header states.
type Meta struct {
	Command     string    `json:"command"`
	Date        time.Time `json:"date"`
	CPUModel    string    `json:"cpu_model"`
	Cores       int       `json:"cores"`
	Kernel      string    `json:"kernel"`
	GoVersion   string    `json:"go_version"`
	Pinning     string    `json:"pinning"`
	Generator   string    `json:"generator"`
	Perf        string    `json:"perf"`    // how mechanisms are counted
	Control     string    `json:"control"` // the A/A control backend, or ""
	Profile     string    `json:"profile"` // how profiles are taken, or ""
	MechWindow  string    `json:"mech_window,omitempty"`
	Restart     bool      `json:"restart_per_rep,omitempty"` // fresh server processes every repetition
	Backends    []string  `json:"backends"`
	Reps        int       `json:"reps"`
	IdleReps    int       `json:"idle_reps"`
	Duration    string    `json:"duration"`
	Warmup      string    `json:"warmup"`
	FileSize    int       `json:"file_size,omitempty"`
	Elapsed     string    `json:"elapsed"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Notes       []string  `json:"notes,omitempty"`
}

// Run is the whole result set, as written to results.json.
type Run struct {
	Meta     Meta          `json:"meta"`
	Points   []Point       `json:"points"`
	Servers  []*ServerInfo `json:"servers"`
	Samples  []*Sample     `json:"samples"`
	Mechs    []*Mech       `json:"mechanisms,omitempty"`
	Profiles []*Profile    `json:"profiles,omitempty"`
}

// Mech is one mechanism-count window: one backend at one point, under the
// same load as the timed windows but with perf counting, so nothing it
// costs lands in a timed window. Counts are raw event totals; the report
// divides them by Requests.
type Mech struct {
	Point    Point              `json:"point"`
	Backend  string             `json:"backend"`
	Start    time.Time          `json:"start"`
	Requests int64              `json:"requests,omitempty"`
	Seconds  float64            `json:"seconds,omitempty"`
	Server   map[string]float64 `json:"server_events,omitempty"` // perf stat -p <server>
	System   map[string]float64 `json:"system_events,omitempty"` // perf stat -a
	Err      string             `json:"error,omitempty"`
}

// Profile is one -profile window: where the server's CPU went, from perf
// (kernel and user, sampled on the server's CPU) and from Go's pprof.
type Profile struct {
	Point    Point       `json:"point"`
	Backend  string      `json:"backend"`
	Requests int64       `json:"requests,omitempty"`
	PerfData string      `json:"perf_data,omitempty"` // raw perf.data, in the output directory
	Shares   *CPUShares  `json:"cpu_shares,omitempty"`
	Kernel   []FuncShare `json:"kernel_top,omitempty"` // perf [k] symbols of the server
	User     []FuncShare `json:"user_top,omitempty"`   // perf [.] symbols of the server
	PerfErr  string      `json:"perf_error,omitempty"`
	Pprof    string      `json:"pprof,omitempty"` // raw CPU profile, in the output directory
	Go       []FuncShare `json:"pprof_top,omitempty"`
	PprofErr string      `json:"pprof_error,omitempty"`
}

// CPUShares splits the samples of the server's CPU, in percent.
type CPUShares struct {
	ServerKernel float64 `json:"server_kernel"`
	ServerUser   float64 `json:"server_user"`
	Idle         float64 `json:"idle"`
	Other        float64 `json:"other"` // other processes that ran on that CPU
}

// FuncShare is one function's share of samples, in percent.
type FuncShare struct {
	Name string  `json:"name"`
	Pct  float64 `json:"pct"`
}

// f64 makes an optional metric value.
func f64(v float64) *float64 { return &v }
