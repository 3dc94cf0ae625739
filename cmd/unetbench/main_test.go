package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// A whole run, as small as it gets: one point, std and its A/A control,
// mechanism and profile windows, the idle point. Every output exists and
// holds what the report promises.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example server under load")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("needs wrk (the built-in generator re-executes the unetbench binary)")
	}
	out := t.TempDir()
	code := run([]string{"unetbench", "-backends", "std", "-conns", "4", "-sizes", "13", "-pipeline", "1", "-pipeline-conns", "4",
		"-file-sizes", "", "-idle", "20", "-idle-reps", "1", "-reps", "2", "-duration", "1s", "-warmup", "0", "-settle", "50ms",
		"-mech-duration", "1s", "-profile", "-profile-duration", "1s", "-unpinned", "-out", out})
	require.Equal(t, 0, code)

	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	for _, s := range []string{"## Noise floor and verdicts", "A/A control `std+UNET_AA=1`", "~ (n<6)",
		"## Requests per second", "## Profiles", "Top Go functions (pprof, flat):"} {
		require.Contains(t, string(md), s)
	}

	js, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	var r Run
	require.NoError(t, json.Unmarshal(js, &r))
	require.Equal(t, []string{"std", controlBackend}, r.Meta.Backends)
	require.Len(t, r.Samples, 6, "two load samples and one idle sample per backend")
	for _, s := range r.Samples {
		require.True(t, s.OK(), "%s %s: %s", s.Backend, s.Point.Label(), s.Err)
	}
	require.Len(t, r.Profiles, 2)
	for _, p := range r.Profiles {
		require.Empty(t, p.PprofErr)
		require.FileExists(t, filepath.Join(out, p.Pprof))
		require.NotEmpty(t, p.Go)
	}
	if _, why := probePerf(t.Context()); why == "" {
		require.Len(t, r.Mechs, 2)
		for _, m := range r.Mechs {
			require.Empty(t, m.Err)
			v, ok := m.perReq(false, "raw_syscalls:sys_enter")
			require.True(t, ok)
			require.Greater(t, v, 1.0, "std makes about 3 syscalls per request")
		}
		require.Contains(t, string(md), "## Mechanisms per request")
	}
	for _, s := range r.Servers {
		require.Equal(t, "ok", s.Contract)
		require.Empty(t, s.Problems)
		// The idle point's own server, then a fresh one per repetition.
		require.Equal(t, 3, s.Starts, s.Backend)
		require.Equal(t, "clean exit ×3", summarizeStops(s.Stops), s.Backend)
	}

	bench, err := os.ReadFile(filepath.Join(out, "results.bench"))
	require.NoError(t, err)
	rd := benchfmt.NewReader(bytes.NewReader(bench), "results.bench")
	n := 0
	for rd.Scan() {
		if _, ok := rd.Result().(*benchfmt.Result); ok {
			n++
		}
	}
	require.Equal(t, 6, n)
	require.FileExists(t, filepath.Join(out, "chart.svg"))
}
