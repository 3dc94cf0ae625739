package unet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/runtime/epollsched"
	"github.com/unetio/unet/runtime/uringsched"
	"github.com/unetio/unet/unet"
)

func TestStatsCountsTheBackendInForce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		t.Setenv(unet.EnvBackend, b)
		before := unet.Stats()
		require.Equal(t, b, before.Backend)
		c, s := pair(t, b)
		exchange(t, c, s, "counted")
		after := unet.Stats()
		require.Equal(t, b, after.Backend)
		if b == unet.BackendStd {
			require.Zero(t, after.Snapshot, "the standard library keeps no counters")
			return
		}
		require.Greater(t, after.Accepts, before.Accepts)
		require.Greater(t, after.BytesRead, before.BytesRead)
	})
}

// statsChildEnv makes the test binary run statsChild instead of its
// tests.
const statsChildEnv = "UNET_TEST_STATS_CHILD"

// The child runs from init, before TestMain warms every backend up: it
// needs a process in which no scheduler has started yet.
func init() {
	if os.Getenv(statsChildEnv) != "" {
		os.Exit(statsChild())
	}
}

// statsChildReport is what the child saw, step by step.
type statsChildReport struct {
	Steps []statsStep
}

type statsStep struct {
	What         string
	Stats        unet.Snapshot
	URingRunning bool
	EpollRunning bool
}

// statsChild reads Stats in a fresh process, with UNET_BACKEND unset,
// before and after using epoll explicitly and before and after auto
// chooses, and prints what it saw and which schedulers run.
func statsChild() int {
	var rep statsChildReport
	step := func(what string) {
		_, u := uringsched.Running()
		_, e := epollsched.Running()
		rep.Steps = append(rep.Steps, statsStep{what, unet.Stats(), u, e})
	}
	step("fresh")
	ln, err := (&unet.ListenConfig{Backend: unet.BackendEpoll}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := (&unet.Dialer{Backend: unet.BackendEpoll}).Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.Close()
	ln.Close()
	step("explicit epoll")
	_ = unet.Backend() // resolves auto
	step("auto resolved")
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// TestStatsHasNoSideEffects checks, in a fresh process, that Stats starts
// no scheduler and does not resolve auto: a program that only uses epoll
// must not get an io_uring ring by reading its counters.
func TestStatsHasNoSideEffects(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, unet.EnvBackend+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, statsChildEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s", stderr.String())
	var rep statsChildReport
	require.NoError(t, json.Unmarshal(out, &rep), "child printed %q", out)
	require.Len(t, rep.Steps, 3)

	fresh, epoll, resolved := rep.Steps[0], rep.Steps[1], rep.Steps[2]
	require.Equal(t, unet.Snapshot{Backend: unet.BackendAuto}, fresh.Stats, "auto has not chosen: no backend, no counters")
	require.False(t, fresh.URingRunning, "Stats started io_uring")
	require.False(t, fresh.EpollRunning, "Stats started epoll")

	require.Equal(t, unet.BackendAuto, epoll.Stats.Backend, "using epoll by name does not resolve auto")
	require.False(t, epoll.URingRunning, "Stats started io_uring in a program that uses epoll only")
	require.True(t, epoll.EpollRunning)

	require.Contains(t, []string{unet.BackendURing, unet.BackendEpoll, unet.BackendStd}, resolved.Stats.Backend)
	if resolved.Stats.Backend == unet.BackendEpoll {
		require.Positive(t, resolved.Stats.Accepts, "epoll's counters, once auto chose it")
	}
}

// TestImportHasNoSideEffects checks that importing unet leaves
// http.DefaultServeMux alone: /debug/vars comes only with unetexpvar (or
// expvar itself), which this test binary does not import.
func TestImportHasNoSideEffects(t *testing.T) {
	_, pattern := http.DefaultServeMux.Handler(httptest.NewRequest("GET", "/debug/vars", nil))
	require.Empty(t, pattern, "something registered /debug/vars on http.DefaultServeMux")
	rec := httptest.NewRecorder()
	http.DefaultServeMux.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}
