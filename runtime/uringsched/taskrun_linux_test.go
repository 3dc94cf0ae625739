package uringsched

import (
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// With COOP_TASKRUN a completion waits as task work on the thread that
// submitted its request, until that thread enters or leaves the kernel.
// These tests submit a receive from a thread of their choosing, put the
// thread in each state a Go thread can be in, and hold the time until the
// data reaches a Read on another goroutine to a bound.

// completionBound is the longest a completion may wait for its thread: a
// sleeping thread is woken at once (measured: under 2 ms), one running
// user code is preempted by sysmon's signal within about 10 ms, and with
// one P the reader itself waits for the spinner's preemption (measured:
// up to 35 ms on an idle machine, 60 ms under -race); CI runs packages in
// parallel on two cores, which stretches every wait. A completion
// stranded until its thread's next system call would take spinTime.
const (
	completionBound = 250 * time.Millisecond
	spinTime        = 600 * time.Millisecond
)

// armFromThisThread arms f's multishot receive with an io_uring_enter from
// the calling thread, as checkAndArm does, so that its task work is
// queued to this thread.
func armFromThisThread(f *fd) {
	f.qmu.Lock()
	f.state = recvArmed
	limit := f.s.pool.reserve(64<<10, f.s.cfg.maxReadAhead)
	f.budget = limit
	f.qmu.Unlock()
	f.recvMulti.start()
	f.inflight.Add(1)
	f.s.submitNow(func(e *sqe) { f.prepRecv(e, limit, f.recvMulti.userData()) })
}

// spinFor busy-waits in user code, with no system call.
func spinFor(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		for range 1000 {
		}
	}
}

func TestCompletionNeverStranded(t *testing.T) {
	states := []struct {
		name string
		// hold keeps the arming thread in its state until release is
		// closed; it runs on the locked thread after arming.
		hold func(release <-chan struct{})
		// exits: the goroutine returns still locked, so its thread ends.
		exits bool
	}{
		{"futex", func(release <-chan struct{}) { <-release }, false},
		{"epoll_wait", func(release <-chan struct{}) {
			epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
			if err != nil {
				panic(err)
			}
			defer unix.Close(epfd)
			events := make([]unix.EpollEvent, 1)
			deadline := time.Now().Add(2 * completionBound)
			for time.Now().Before(deadline) {
				unix.EpollWait(epfd, events, int(time.Until(deadline).Milliseconds())+1)
			}
			<-release
		}, false},
		{"spinning", func(release <-chan struct{}) {
			spinFor(spinTime)
			<-release
		}, false},
		{"exited", func(<-chan struct{}) {}, true},
	}
	for _, procs := range []int{1, 2, 8} {
		for _, st := range states {
			t.Run(fmt.Sprintf("%s/GOMAXPROCS=%d", st.name, procs), func(t *testing.T) {
				if st.name == "spinning" && testing.Short() {
					t.Skip("timing under -race and load: run without -short")
				}
				defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(procs))
				s := testScheduler(t, defaultConfig)
				require.True(t, s.coop(), "the ring runs without COOP_TASKRUN: %v", s.Refused())
				a, b := tcpPair(t, s)
				f := b.(*fd)

				armed, release := make(chan struct{}), make(chan struct{})
				defer close(release)
				go func() {
					goruntime.LockOSThread()
					if !st.exits {
						defer goruntime.UnlockOSThread()
					}
					armFromThisThread(f)
					close(armed)
					st.hold(release)
				}()
				<-armed
				time.Sleep(5 * time.Millisecond) // into its state

				start := time.Now()
				_, err := a.Write([]byte("ping"))
				require.NoError(t, err)
				require.NoError(t, b.SetDeadline(time.Now().Add(5*time.Second), unetrt.ModeRead))
				buf := make([]byte, 8)
				n, err := b.Read(buf)
				took := time.Since(start)
				require.NoError(t, err)
				require.Equal(t, "ping", string(buf[:n]))
				t.Logf("the completion took %v", took)
				require.Less(t, took, completionBound, "a completion waited for its thread")
			})
		}
	}
}

// TestCoopTaskrunRefused: a kernel that refuses COOP_TASKRUN (before 5.19)
// gets the ring without it, and says so.
func TestCoopTaskrunRefused(t *testing.T) {
	old := testHookCoopTaskrun
	testHookCoopTaskrun = func() error { return fmt.Errorf("io_uring_setup: %w", unix.EINVAL) }
	defer func() { testHookCoopTaskrun = old }()
	s := testScheduler(t, defaultConfig)
	require.False(t, s.coop())
	require.Len(t, s.Refused(), 1)
	require.Contains(t, s.Refused()[0], "COOP_TASKRUN")
	a, b := tcpPair(t, s)
	_, err := a.Write([]byte("x"))
	require.NoError(t, err)
	_, err = b.Read(make([]byte, 1))
	require.NoError(t, err)
}
