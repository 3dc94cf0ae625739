package unet

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	unetrt "github.com/unetio/unet/runtime"
)

// captureLogs routes unet's logs, Debug and up, to a buffer for the rest
// of the test and returns a function that decodes what was logged.
func captureLogs(t *testing.T) func() []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	SetLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { SetLogger(nil) })
	return func() []map[string]any {
		var out []map[string]any
		for line := range strings.Lines(buf.String()) {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
			require.NotContains(t, rec["msg"], "unet:", "messages carry no prefix")
			out = append(out, rec)
		}
		return out
	}
}

// fakeSched stands for a scheduler that started.
type fakeSched struct{ name string }

func (f fakeSched) Name() string               { return f.name }
func (fakeSched) NewFD(int) (unetrt.FD, error) { return nil, errors.New("fake") }
func (fakeSched) Counters() *unetrt.Counters   { return new(unetrt.Counters) }
func started(name string) func() (unetrt.Scheduler, error) {
	return func() (unetrt.Scheduler, error) { return fakeSched{name}, nil }
}
func refused(err error) func() (unetrt.Scheduler, error) {
	return func() (unetrt.Scheduler, error) { return nil, err }
}

func TestAutoLogsItsChoice(t *testing.T) {
	errURing := errors.New("io_uring_setup: operation not permitted")
	errEpoll := errors.New("epoll_create1: too many open files")
	tests := []struct {
		name         string
		uring, epoll func() (unetrt.Scheduler, error)
		want         BackendName
		level        string
		err          []string // what the "err" attribute must contain
	}{
		{"uring", started(BackendURing), started(BackendEpoll), BackendURing, "INFO", nil},
		{"epoll fallback", refused(errURing), started(BackendEpoll), BackendEpoll, "WARN", []string{errURing.Error()}},
		{"std fallback", refused(errURing), refused(errEpoll), BackendStd, "WARN", []string{errURing.Error(), errEpoll.Error()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := captureLogs(t)
			got := probeAuto(tc.uring, tc.epoll)
			require.Equal(t, tc.want, got.name)
			recs := logs()
			require.Len(t, recs, 1)
			require.Equal(t, tc.level, recs[0]["level"])
			require.Equal(t, tc.want, recs[0]["backend"])
			if tc.err == nil {
				require.NotContains(t, recs[0], "err")
				return
			}
			for _, e := range tc.err {
				require.Contains(t, recs[0]["err"], e)
			}
		})
	}
}

func TestExplicitBackendLoggedOnceAtDebug(t *testing.T) {
	for _, b := range []BackendName{BackendStd, BackendEpoll, BackendURing} {
		t.Run(b, func(t *testing.T) {
			// The warm-up of the other tests used every backend already:
			// give this one a fresh Once.
			saved := explicitLogged[b]
			explicitLogged[b] = new(sync.Once)
			t.Cleanup(func() { explicitLogged[b] = saved })
			logs := captureLogs(t)
			for range 2 {
				_, err := scheduler(b)
				require.NoError(t, err)
			}
			recs := logs()
			require.Len(t, recs, 1, "logged once, not per use")
			require.Equal(t, "DEBUG", recs[0]["level"])
			require.Equal(t, b, recs[0]["backend"])
			require.Equal(t, "named in ListenConfig.Backend or Dialer.Backend", recs[0]["reason"])

			t.Setenv(EnvBackend, b)
			explicitLogged[b] = new(sync.Once)
			_, err := scheduler("")
			require.NoError(t, err)
			recs = logs()
			require.Len(t, recs, 2)
			require.Equal(t, "named in "+EnvBackend, recs[1]["reason"])
		})
	}
}

func TestSetLoggerNilRestoresDefault(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	SetLogger(l)
	require.Same(t, l, logger())
	SetLogger(nil)
	require.Same(t, slog.Default(), logger())
}

// TestAutoRetriesAfterShortage: io_uring refused for want of descriptors
// is not auto's final word: the next use tries io_uring again, and the
// passing refusal is logged once, not per use.
func TestAutoRetriesAfterShortage(t *testing.T) {
	autoMu.Lock()
	defer autoMu.Unlock()
	saved := transientLogged
	transientLogged = false
	t.Cleanup(func() { transientLogged = saved })
	logs := captureLogs(t)
	short := refused(os.NewSyscallError("io_uring_setup", syscall.EMFILE))
	for range 2 {
		got := probeAuto(short, started(BackendEpoll))
		require.Equal(t, BackendEpoll, got.name)
		require.False(t, got.final, "a shortage must not settle auto's choice")
	}
	got := probeAuto(started(BackendURing), started(BackendEpoll))
	require.Equal(t, BackendURing, got.name)
	require.True(t, got.final)
	recs := logs()
	require.Len(t, recs, 2, "the shortage logged once, then the choice")
	require.Equal(t, "WARN", recs[0]["level"])
	require.Equal(t, true, recs[0]["retry"])
	require.Equal(t, "INFO", recs[1]["level"])

	got = probeAuto(refused(errors.New("io_uring_setup: operation not permitted")), started(BackendEpoll))
	require.True(t, got.final, "a refusal for good settles it")
}
