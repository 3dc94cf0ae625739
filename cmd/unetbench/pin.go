//go:build linux

package main

// CPU pinning: the server on one core, the load generator on another, so
// the two do not compete for a core and the server's CPU numbers are its
// own. With GOMAXPROCS=1 the pinned server has exactly one P, matching the
// reference baseline in REFERENCES.md.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Pinning says where processes run and how they are pinned.
type Pinning struct {
	Enabled   bool
	ServerCPU int
	GenCPU    int
	Taskset   string // path of taskset, "" to use sched_setaffinity
	Reason    string // why pinning is off, when it is
}

// choosePinning pins when asked and when at least two CPUs are usable.
// The CPUs are the first two of this process's affinity mask, which is
// CPU 0 and 1 on an unrestricted machine.
func choosePinning(unpinned bool) Pinning {
	if unpinned {
		return Pinning{Reason: "-unpinned"}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return Pinning{Reason: "sched_getaffinity: " + err.Error()}
	}
	var cpus []int
	for c := 0; c < 1024 && len(cpus) < 2; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return Pinning{Reason: "fewer than 2 CPUs"}
	}
	p := Pinning{Enabled: true, ServerCPU: cpus[0], GenCPU: cpus[1]}
	if path, err := exec.LookPath("taskset"); err == nil {
		p.Taskset = path
	}
	return p
}

// Describe is the report's sentence about pinning.
func (p Pinning) Describe() string {
	if !p.Enabled {
		return fmt.Sprintf("not pinned (%s): servers use every core, GOMAXPROCS unset", p.Reason)
	}
	how := "sched_setaffinity on every thread after start"
	if p.Taskset != "" {
		how = "taskset"
	}
	return fmt.Sprintf("server pinned to CPU %d with GOMAXPROCS=1; load generator (and this orchestrator) pinned to CPU %d; via %s",
		p.ServerCPU, p.GenCPU, how)
}

// Wrap prefixes argv with taskset when pinning through it. taskset execs
// the program, so the pid we get is the program's own.
func (p Pinning) Wrap(argv []string, cpu int) []string {
	if !p.Enabled || p.Taskset == "" {
		return argv
	}
	return append([]string{p.Taskset, "-c", strconv.Itoa(cpu)}, argv...)
}

// AfterStart pins a started child when taskset is missing. The child may
// already have started threads, so every task is pinned, twice: threads
// created in between by a still-unpinned thread are caught by the second
// pass, later ones inherit the mask of their (pinned) creator.
func (p Pinning) AfterStart(pid, cpu int) {
	if !p.Enabled || p.Taskset != "" {
		return
	}
	pinAllThreads(pid, cpu)
	time.Sleep(20 * time.Millisecond)
	pinAllThreads(pid, cpu)
}

// pinAllThreads sets the affinity of every thread of pid to one CPU.
func pinAllThreads(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		return unix.SchedSetaffinity(pid, &set)
	}
	var first error
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(t))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// pinSelf moves this orchestrator onto the generator CPU, so its
// sampling and bookkeeping never steal time from the server's core.
// Threads the runtime creates later inherit the mask.
func (p Pinning) pinSelf() error {
	if !p.Enabled {
		return nil
	}
	return pinAllThreads(os.Getpid(), p.GenCPU)
}

// childAttr is the process setup of every child: its own process group,
// so a terminal Ctrl-C reaches only this orchestrator, which then stops
// the children in order (SIGTERM to servers, so a hung Shutdown shows);
// and SIGKILL when this process dies, so no server outlives a crashed run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
