package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The perf command lines against the real perf, where it works: the
// probe finds the events, a system-wide count of a short window sees
// context switches, and the report flags the profile uses parse.
func TestPerfLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs perf")
	}
	ctx := context.Background()
	tool, why := probePerf(ctx)
	if tool == nil {
		t.Skip("perf unusable here: " + why)
	}
	require.Contains(t, tool.system, "sched:sched_switch")
	ps, err := startPerfStat(tool.path, []string{"-a"}, tool.system, t.TempDir(), Pinning{})
	require.NoError(t, err)
	require.NoError(t, exec.Command("sleep", "0.1").Run())
	counts, err := ps.Stop(ctx)
	require.NoError(t, err)
	require.Positive(t, counts["sched:sched_switch"])

	data := filepath.Join(t.TempDir(), "perf.data")
	out, err := exec.Command(tool.path, "record", "-q", "-e", "cpu-clock", "-g", "-o", data, "-a", "--", "sleep", "0.3").CombinedOutput()
	if err != nil {
		t.Skipf("perf record: %v: %s", err, out)
	}
	rep, err := exec.Command(tool.path, "report", "-i", data, "--stdio", "--no-children", "-g", "none",
		"--percentage", "absolute", "--sort", "pid").Output()
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\s*[\d.]+%\s+\d+:`, string(rep), "the --sort pid lines parsePerfIdle reads")
	rep, err = exec.Command(tool.path, "report", "-i", data, "--stdio", "--no-children", "-g", "none",
		"--percentage", "absolute", "--sort", "sym").Output()
	require.NoError(t, err)
	k, u, kp, up := parsePerfSyms(string(rep))
	require.NotEmpty(t, append(k, u...), "0.3 s of every CPU has symbols")
	// Each line is rounded to 0.01% and there are many tiny ones.
	require.InDelta(t, 100, kp+up, 3, "unfiltered, the shares add up to the whole recording")
}
