//go:build !linux

package main

// CPU pinning needs Linux's sched_setaffinity; on other systems unetbench
// builds, and runs its servers and generator unpinned.

import (
	"fmt"
	"runtime"
	"syscall"
)

// Pinning says where processes run; off on this system.
type Pinning struct {
	Enabled   bool
	ServerCPU int
	GenCPU    int
	Taskset   string
	Reason    string // why pinning is off
}

// choosePinning reports that pinning is off: it needs Linux.
func choosePinning(unpinned bool) Pinning {
	if unpinned {
		return Pinning{Reason: "-unpinned"}
	}
	return Pinning{Reason: "CPU pinning needs Linux, this is " + runtime.GOOS}
}

// Describe is the report's sentence about pinning.
func (p Pinning) Describe() string {
	return fmt.Sprintf("not pinned (%s): servers use every core, GOMAXPROCS unset", p.Reason)
}

// Wrap returns argv: nothing pins.
func (p Pinning) Wrap(argv []string, cpu int) []string { return argv }

// AfterStart does nothing: nothing pins.
func (p Pinning) AfterStart(pid, cpu int) {}

// pinSelf does nothing: nothing pins.
func (p Pinning) pinSelf() error { return nil }

// childAttr puts every child in its own process group, so a terminal
// Ctrl-C reaches only this orchestrator. Pdeathsig, which kills the
// children when this process dies, exists only on Linux.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
