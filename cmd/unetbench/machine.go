package main

// Facts about the machine and the run that the report header states, so a
// result can be traced to where and how it was produced.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// cpuInfo returns the CPU model name and the number of processors listed
// in /proc/cpuinfo.
func cpuInfo() (model string, cores int) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown", runtime.NumCPU()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "processor":
			cores++
		}
	}
	if model == "" {
		model = "unknown"
	}
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	return model, cores
}

// kernel is `uname -srm`.
func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
}

// goVersion is the toolchain that builds the server (`go env GOVERSION`),
// which can differ from the one running this tool under GOTOOLCHAIN.
func goVersion(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = dir
	if b, err := cmd.Output(); err == nil {
		return strings.TrimSpace(string(b)) + " " + runtime.GOOS + "/" + runtime.GOARCH
	}
	return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// moduleRoot finds the directory of the main module's go.mod, so the
// server builds the same way from any working directory inside it.
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", os.ErrNotExist
	}
	return filepath.Dir(gomod), nil
}

// commandLine reproduces how the tool was invoked. Under `go run` the
// binary lives in a temporary build directory, so it is written as
// `go run ./cmd/unetbench`.
func commandLine(args []string) string {
	name := args[0]
	if strings.Contains(name, "go-build") || strings.HasPrefix(name, os.TempDir()) {
		name = "go run ./cmd/unetbench"
	}
	parts := []string{name}
	for _, a := range args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\*?;&|<>()") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// raiseNofile lifts the soft RLIMIT_NOFILE to the hard limit: 10 000
// connections need as many descriptors on each side. syscall.Setrlimit
// (not x/sys/unix) is used on purpose: it also tells os/exec not to
// restore the original soft limit in children, so the server, wrk and
// h2load inherit the raised one.
func raiseNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
