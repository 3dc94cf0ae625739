package uringsched

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// TestCapUnderSubmitLock: a completion that caps a slow reader's queue
// may be dispatched by a reap inside submitLocked, with sqMu held (EBUSY,
// EAGAIN or a full queue). Its cancel must not take sqMu again.
func TestCapUnderSubmitLock(t *testing.T) {
	s := testScheduler(t, defaultConfig)
	_, b := tcpPair(t, s)
	f := b.(*fd)
	f.qmu.Lock()
	f.state, f.qbytes = recvArmed, s.cfg.maxQueued+1
	f.qmu.Unlock()
	defer func() {
		f.qmu.Lock()
		f.state, f.qbytes = recvIdle, 0
		f.qmu.Unlock()
	}()

	done := make(chan struct{})
	s.sqMu.Lock()
	go func() {
		defer close(done)
		// As a reap under sqMu would: a completion that keeps the
		// receive armed while the queue is over its cap.
		f.onRecv(-int32(unix.ECANCELED), 0, true)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the dispatcher took sqMu, which its caller holds")
	}
	s.sqMu.Unlock()
	require.True(t, s.pendingCancels.Load(), "the cancel was not queued")
	cancels := s.counters.Cancels.Load()
	s.flush()
	require.False(t, s.pendingCancels.Load())
	require.Equal(t, cancels+1, s.counters.Cancels.Load())
}

// TestEnterPanicReleasesLocks: an unexpected io_uring_enter error panics
// in the goroutine that submits; net/http recovers handler panics, so the
// panic must leave no lock held and other conns must go on.
func TestEnterPanicReleasesLocks(t *testing.T) {
	s := testScheduler(t, defaultConfig)
	a, b := tcpPair(t, s)
	c, d := tcpPair(t, s)

	old := testHookEnter
	fail := make(chan struct{}, 1)
	fail <- struct{}{}
	testHookEnter = func() error {
		select {
		case <-fail:
			return unix.EINVAL
		default:
			return nil
		}
	}
	defer func() { testHookEnter = old }()

	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		// submitNow enters the kernel itself, whatever the loop does.
		s.submitNow(func(e *sqe) { e.PrepNop(0) })
	}()
	select {
	case p := <-panicked:
		require.NotNil(t, p)
		require.Contains(t, fmt.Sprint(p), "io_uring_enter")
	case <-time.After(5 * time.Second):
		t.Fatal("no panic")
	}

	for _, pr := range [][2]unetrt.FD{{a, b}, {c, d}} {
		done := make(chan error, 1)
		go func() {
			if _, err := pr[0].Write([]byte("ok")); err != nil {
				done <- err
				return
			}
			buf := make([]byte, 2)
			_, err := pr[1].Read(buf)
			done <- err
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("the ring stayed locked after a recovered panic")
		}
	}
}

// TestMultishotProbe: start finds out whether the kernel limits a
// multishot receive; on Linux 6.16 and later it must.
func TestMultishotProbe(t *testing.T) {
	s := testScheduler(t, defaultConfig)
	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	if major > 6 || major == 6 && minor >= 16 {
		require.True(t, s.mshotLimit, "Linux %d.%d limits multishot receives", major, minor)
	}
	require.Equal(t, s.pool.circulating.Load(), s.pool.free.Load(), "the probe kept a provided buffer")

	old := testHookProbeRecv
	testHookProbeRecv = func() error { return errors.New("kernel lacks multishot receive (IORING_RECV_MULTISHOT, Linux 6.0+)") }
	defer func() { testHookProbeRecv = old }()
	_, err := start(defaultConfig, new(unetrt.Counters))
	require.ErrorContains(t, err, "multishot receive")
}

// TestStartRetriedAfterShortage: a start that fails for want of
// descriptors is tried again by the next caller, as epoll's is, rather
// than disabling uring for the life of the process.
func TestStartRetriedAfterShortage(t *testing.T) {
	var l unetrt.Lazy[*Scheduler]
	old := testHookSetup
	testHookSetup = func() error { return os.NewSyscallError("io_uring_setup", unix.EMFILE) }
	_, err := l.Get(startDefault)
	testHookSetup = old
	require.ErrorIs(t, err, unix.EMFILE)
	_, running := l.Peek()
	require.False(t, running)
	s, err := l.Get(startDefault)
	require.NoError(t, err)
	t.Cleanup(s.stop)
	got, running := l.Peek()
	require.True(t, running)
	require.Same(t, s, got)
}

// TestConfigFromEnvRejectsInvalid: a UNET_URING_* variable that is set
// but invalid fails the start with an error that names it.
func TestConfigFromEnvRejectsInvalid(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"UNET_URING_SQ", "many"},
		{"UNET_URING_SQ", "0"},
		{"UNET_URING_CQ", "-1"},
		{"UNET_URING_BUFS", "1000"},
		{"UNET_URING_BUFS", "65536"},
		{"UNET_URING_BUFSIZE", "4k"},
		{"UNET_URING_BUFS_INITIAL", ""},
		{"UNET_URING_SHARDS", "100"},
		{"UNET_URING_RECV", "multi"},
		{"UNET_URING_ROUND", "poll"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := configFromEnv()
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tc.name+"="), "error %q does not name %s", err, tc.name)
		})
	}
	t.Run("valid", func(t *testing.T) {
		t.Setenv("UNET_URING_BUFS", "1024")
		t.Setenv("UNET_URING_RECV", "single")
		c, err := configFromEnv()
		require.NoError(t, err)
		require.EqualValues(t, 1024, c.bufCount)
		require.False(t, c.multishotRecv)
	})
}

// TestOneShotReceivesWaitForNetpoll: UNET_URING_RECV=single brings the
// loop's network-poll rounds with it, which its conns need not to starve
// (experiment 22), unless UNET_URING_ROUND says otherwise.
func TestOneShotReceivesWaitForNetpoll(t *testing.T) {
	for _, tc := range []struct {
		recv, round string
		want        bool
	}{
		{"", "", false},
		{"single", "", true},
		{"single", "yield", false},
		{"multishot", "netpoll", true},
	} {
		t.Run(tc.recv+"/"+tc.round, func(t *testing.T) {
			setOrUnset(t, "UNET_URING_RECV", tc.recv)
			setOrUnset(t, "UNET_URING_ROUND", tc.round)
			c, err := configFromEnv()
			require.NoError(t, err)
			require.Equal(t, tc.want, c.roundByNetpoll)
		})
	}
}

// setOrUnset sets the variable for the test, or unsets it if value is
// empty; either way it is restored when the test ends.
func setOrUnset(t *testing.T, name, value string) {
	t.Setenv(name, value)
	if value == "" {
		require.NoError(t, os.Unsetenv(name))
	}
}
