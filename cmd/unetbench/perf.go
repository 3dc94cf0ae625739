package main

// Syscall counting with perf: the raw_syscalls:sys_enter tracepoint counts
// every syscall of the server, whatever the backend, so it is the one
// syscall number that compares std with epoll and uring. Hardware
// counters are not needed (and not available under KVM).

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

const perfEvent = "raw_syscalls:sys_enter"

// probePerf checks that perf exists and can count the tracepoint here
// (needs tracefs and perf_event permissions). It returns the perf path, or
// "" and the reason.
func probePerf(ctx context.Context) (string, string) {
	path, err := exec.LookPath("perf")
	if err != nil {
		return "", "perf not installed"
	}
	out, err := exec.CommandContext(ctx, path, "stat", "-x,", "-e", perfEvent, "--", "true").CombinedOutput()
	if err != nil {
		return "", fmt.Sprintf("perf stat failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if _, err := parsePerf(string(out)); err != nil {
		return "", fmt.Sprintf("perf stat -e %s unusable: %v", perfEvent, err)
	}
	return path, ""
}

// perfRun is one perf stat attached to the server for one window.
type perfRun struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

// perfAttachDelay is how long perf gets to attach before the load starts;
// perf prints nothing when attached, so the wait is a fixed one. The idle
// server makes (almost) no syscalls meanwhile.
const perfAttachDelay = 150 * time.Millisecond

// startPerf attaches perf stat to pid (all its threads, and threads they
// create) on the generator's CPU.
func startPerf(perf string, pid int, dir string, pin Pinning) (*perfRun, error) {
	out := filepath.Join(dir, fmt.Sprintf("perf-%d-%d.csv", pid, time.Now().UnixNano()))
	argv := pin.Wrap([]string{perf, "stat", "-x,", "-o", out, "-e", perfEvent, "-p", strconv.Itoa(pid)}, pin.GenCPU)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = childAttr()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &perfRun{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	select {
	case err := <-p.done:
		return nil, fmt.Errorf("perf exited early: %v: %s", err, strings.TrimSpace(stderr.String()))
	case <-time.After(perfAttachDelay):
	}
	return p, nil
}

// Stop ends the count (perf stat prints its totals on SIGINT) and returns
// the number of syscalls.
func (p *perfRun) Stop(ctx context.Context) (float64, error) {
	defer os.Remove(p.out)
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return 0, fmt.Errorf("perf did not stop")
	}
	b, err := os.ReadFile(p.out)
	if err != nil {
		return 0, err
	}
	return parsePerf(string(b))
}

// parsePerf reads the count from perf stat -x, output: a line like
// "1234,,raw_syscalls:sys_enter,2001234,100.00,,".
func parsePerf(out string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || f[2] != perfEvent {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("perf count %q", f[0]) // "<not counted>", "<not supported>"
		}
		return v, nil
	}
	return 0, fmt.Errorf("no %s line in perf output", perfEvent)
}
