package main

// perf stat, for the mechanism windows only. A tracepoint taxes every
// event of the traced process: perf attached to a server slows the backend
// that makes more syscalls (std: 3 per request) more than one that makes
// fewer (uring: 0.01), so perf never runs during a timed window. It counts
// in windows of its own, after the timed ones. Hardware counters are not
// needed (and not available under KVM): these are all tracepoints.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Events counted per process (perf stat -p <server>, all its threads):
// the server's own syscalls and context switches.
var serverEvents = []string{"raw_syscalls:sys_enter", "sched:sched_switch"}

// Events counted system-wide (perf stat -a). Inter-processor interrupts
// and io_uring task work are raised by whichever CPU wakes the server (the
// load generator's, on loopback), so they cannot be counted per process.
// System-wide counts include the generator and anything else running.
var systemEvents = []string{"ipi:ipi_send_cpu", "io_uring:io_uring_task_add", "sched:sched_switch", "raw_syscalls:sys_enter"}

// perfTool is a perf that works here, and which events it can count.
type perfTool struct {
	path   string
	server []string // usable serverEvents
	system []string // usable systemEvents
}

// probePerf checks that perf exists and can count the tracepoints here
// (needs tracefs and perf_event permissions). An event this kernel lacks
// (io_uring tracepoints on an old kernel) is left out, not fatal. It
// returns nil and the reason when perf cannot count at all.
func probePerf(ctx context.Context) (*perfTool, string) {
	path, err := exec.LookPath("perf")
	if err != nil {
		return nil, "perf not installed"
	}
	t := &perfTool{path: path}
	usable := func(scope string, ev string) bool {
		args := []string{"stat", "-x,", "-e", ev}
		if scope != "" {
			args = append(args, scope)
		}
		out, err := exec.CommandContext(ctx, path, append(args, "--", "true")...).CombinedOutput()
		if err != nil {
			return false
		}
		_, ok := parsePerfStat(string(out))[ev]
		return ok
	}
	for _, ev := range serverEvents {
		if usable("", ev) {
			t.server = append(t.server, ev)
		}
	}
	for _, ev := range systemEvents {
		if usable("-a", ev) {
			t.system = append(t.system, ev)
		}
	}
	if len(t.server) == 0 && len(t.system) == 0 {
		return nil, "perf stat cannot count " + strings.Join(append(serverEvents, systemEvents...), ",") + " here"
	}
	return t, ""
}

// Describe says what the mechanism windows count.
func (t *perfTool) Describe() string {
	return fmt.Sprintf("perf stat -p <server> -e %s and perf stat -a -e %s, in a window of their own after the timed ones (nothing is attached during a timed window)",
		strings.Join(t.server, ","), strings.Join(t.system, ","))
}

// perfStat is one running perf stat.
type perfStat struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

// perfAttachDelay is how long perf gets to attach before the load starts;
// perf prints nothing when attached, so the wait is a fixed one.
const perfAttachDelay = 150 * time.Millisecond

// startPerfStat starts perf stat with scope ("-p", pid or "-a") on the
// generator's CPU, so perf's own work stays off the server's core.
func startPerfStat(perf string, scope []string, events []string, dir string, pin Pinning) (*perfStat, error) {
	out := filepath.Join(dir, fmt.Sprintf("perf-%d.csv", time.Now().UnixNano()))
	args := append([]string{perf, "stat", "-x,", "-o", out, "-e", strings.Join(events, ",")}, scope...)
	argv := pin.Wrap(args, pin.GenCPU)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = childAttr()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pin.AfterStart(cmd.Process.Pid, pin.GenCPU)
	p := &perfStat{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	select {
	case err := <-p.done:
		return nil, fmt.Errorf("perf exited early: %v: %s", err, strings.TrimSpace(stderr.String()))
	case <-time.After(perfAttachDelay):
	}
	return p, nil
}

// Stop ends the count (perf stat prints its totals on SIGINT) and returns
// the count of every event.
func (p *perfStat) Stop(ctx context.Context) (map[string]float64, error) {
	defer os.Remove(p.out)
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("perf did not stop")
	}
	b, err := os.ReadFile(p.out)
	if err != nil {
		return nil, err
	}
	m := parsePerfStat(string(b))
	if len(m) == 0 {
		return nil, fmt.Errorf("no count in perf output: %q", strings.TrimSpace(string(b)))
	}
	return m, nil
}

// parsePerfStat reads perf stat -x, output: lines like
// "1234,,raw_syscalls:sys_enter,2001234,100.00,,". An event perf could
// not count ("<not counted>", "<not supported>") is left out: absent
// means unknown, never zero.
func parsePerfStat(out string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[f[2]] += v
	}
	return m
}
