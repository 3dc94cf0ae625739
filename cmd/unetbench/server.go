package main

// Process control for the example server and the /proc and /debug/vars
// sampling around each measurement window.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildServer compiles the example server once; every backend runs the
// same binary, so differences come from UNET_BACKEND alone.
func buildServer(ctx context.Context, modRoot, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = modRoot
	cmd.Env = childEnv(nil, false)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// ServerOpts is how servers are started.
type ServerOpts struct {
	Bin  string
	File string // -file for /file, or ""
	Pin  Pinning
	Logs string   // directory for server logs
	Env  []string // extra environment for every server (KEY=VALUE)
}

// Server is one running example-server process.
type Server struct {
	Backend  string
	Addr     string
	Reported string // backend named by /debug/vars
	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{}
	waitErr  error
}

// startServer starts the server for one backend on a free loopback port
// and waits until it answers /debug/vars.
func startServer(ctx context.Context, o ServerOpts, backend string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.Logs, "server-"+backend+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "==== %s start %s on %s\n", time.Now().Format(time.RFC3339), backend, addr)
	argv := []string{o.Bin, "-addr", addr}
	if o.File != "" {
		argv = append(argv, "-file", o.File)
	}
	argv = o.Pin.Wrap(argv, o.Pin.ServerCPU)
	// Not CommandContext: on cancellation the server must get SIGTERM and
	// a chance to shut down, which Stop does; Pdeathsig covers our death.
	cmd := exec.Command(argv[0], argv[1:]...)
	base, extra := splitVariant(backend)
	env := append([]string{"UNET_BACKEND=" + base}, o.Env...)
	cmd.Env = childEnv(append(env, extra...), o.Pin.Enabled)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	s := &Server{Backend: backend, Addr: addr, cmd: cmd, log: lf, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	o.Pin.AfterStart(cmd.Process.Pid, o.Pin.ServerCPU)
	if err := s.waitReady(ctx, 15*time.Second); err != nil {
		s.Stop(2 * time.Second)
		return nil, fmt.Errorf("%s server: %v (log %s: %s)", backend, err, logPath, tail(logPath, 600))
	}
	return s, nil
}

// freeAddr finds a free loopback port. The tiny window before the server
// binds it is harmless on a benchmark machine.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /debug/vars until it answers or the process exits.
func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if !s.Alive() {
			return fmt.Errorf("exited during start-up: %v", s.waitErr)
		}
		_, backend, err := s.Vars(ctx)
		if err == nil {
			s.Reported = backend
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %v: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop asks the server to shut down with SIGTERM (the example server then
// runs http.Server.Shutdown) and kills it if it has not exited within
// grace. It says how the process ended: a hung Shutdown is a bug worth
// reporting.
func (s *Server) Stop(grace time.Duration) string {
	defer s.log.Close()
	if !s.Alive() {
		return fmt.Sprintf("had already exited: %v", s.waitErr)
	}
	t0 := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Sprintf("exited after SIGTERM in %v with %v", time.Since(t0).Round(time.Millisecond), s.waitErr)
		}
		return fmt.Sprintf("clean exit %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Sprintf("did not exit %v after SIGTERM: killed", grace)
	}
}

// varsClient fetches /debug/vars without keep-alive, so the benchmark
// leaves no idle connection of its own in the server between points.
var varsClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// Vars reads the "unet" expvar: every numeric counter, and the backend
// name it reports.
func (s *Server) Vars(ctx context.Context) (map[string]float64, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.Addr+"/debug/vars", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := varsClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != 200 {
		return nil, "", fmt.Errorf("/debug/vars: %s", resp.Status)
	}
	return parseVars(body)
}

// parseVars extracts the unet counters from an expvar document. A missing
// "unet" key is not an error: the counters are optional evidence.
func parseVars(body []byte) (map[string]float64, string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("/debug/vars: %v", err)
	}
	raw, ok := doc["unet"]
	if !ok {
		return map[string]float64{}, "", nil
	}
	var u map[string]any
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, "", fmt.Errorf("/debug/vars unet: %v", err)
	}
	out := map[string]float64{}
	backend := ""
	for k, v := range u {
		switch x := v.(type) {
		case float64:
			out[k] = x
		case string:
			if k == "Backend" {
				backend = x
			}
		}
	}
	return out, backend, nil
}

// ProcStat is a snapshot of the server's /proc accounting.
type ProcStat struct {
	UserTicks, SysTicks int64 // utime, stime of the whole process
	CtxSwitches         int64 // voluntary + nonvoluntary over all threads
	RSSKB               int64
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc/<pid>/stat
// whatever the kernel's internal HZ.
const clockTicks = 100

// Sample reads the server's CPU time, context switches and RSS.
func (s *Server) Sample() (ProcStat, error) { return readProc(s.Pid()) }

// readProc reads /proc/<pid>/stat, status and task/*/status.
func readProc(pid int) (ProcStat, error) {
	var ps ProcStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ps, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return ps, errors.New("short /proc stat")
	}
	ps.UserTicks, _ = strconv.ParseInt(f[11], 10, 64)
	ps.SysTicks, _ = strconv.ParseInt(f[12], 10, 64)
	st, err := statusFields(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	ps.RSSKB = st["VmRSS"]
	// Per-thread counts: the process-level status file only shows the
	// main thread's switches.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		st, err := statusFields(t)
		if err != nil {
			continue // thread exited meanwhile
		}
		ps.CtxSwitches += st["voluntary_ctxt_switches"] + st["nonvoluntary_ctxt_switches"]
	}
	return ps, nil
}

// statusFields parses the numeric "Key:\tvalue [kB]" lines of a status file.
func statusFields(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// splitVariant splits a backend spec such as "uring+UNET_URING_SHARDS=2"
// into the backend and the environment its server gets on top, so that
// one interleaved run can compare settings of one backend.
func splitVariant(spec string) (backend string, env []string) {
	backend, rest, _ := strings.Cut(spec, "+")
	if rest != "" {
		env = strings.Split(rest, "+")
	}
	return backend, env
}
