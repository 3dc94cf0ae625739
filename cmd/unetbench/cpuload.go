package main

// How busy the server's CPU was with other processes during a timed
// window. The server is pinned to its CPU, but nothing keeps other
// processes off it: on a shared machine a compile landing there takes time
// from whichever backend is being measured, and the noise floor says so
// only after the fact. This says when and how much.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuTicks is one CPU's line of /proc/stat, in USER_HZ ticks.
type cpuTicks struct {
	total, idle int64
}

// readCPUTicks reads the "cpuN" line of /proc/stat.
func readCPUTicks(cpu int) (cpuTicks, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTicks{}, err
	}
	return parseCPUTicks(string(b), cpu)
}

// parseCPUTicks finds cpu's line: user nice system idle iowait irq
// softirq steal (guest time is already inside user).
func parseCPUTicks(stat string, cpu int) (cpuTicks, error) {
	name := "cpu" + strconv.Itoa(cpu)
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != name {
			continue
		}
		var t cpuTicks
		for i, s := range f[1:9] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return cpuTicks{}, fmt.Errorf("/proc/stat %s: %v", name, err)
			}
			t.total += v
			if i == 3 || i == 4 { // idle, iowait
				t.idle += v
			}
		}
		return t, nil
	}
	return cpuTicks{}, fmt.Errorf("/proc/stat has no %s line", name)
}

// otherLoadPct is the share of the CPU's time, between two readings,
// that was busy but not with the server's serverTicks (utime+stime).
func otherLoadPct(before, after cpuTicks, serverTicks int64) (float64, bool) {
	total := after.total - before.total
	if total <= 0 {
		return 0, false
	}
	busy := total - (after.idle - before.idle)
	return 100 * float64(max(busy-serverTicks, 0)) / float64(total), true
}
