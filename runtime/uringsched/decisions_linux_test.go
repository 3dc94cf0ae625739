//go:build linux

package uringsched

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// rsrcUpdate is struct io_uring_rsrc_update, the argument of
// IORING_REGISTER_RING_FDS.
type rsrcUpdate struct {
	Offset uint32
	Resv   uint32
	Data   uint64
}

// onThread runs fn on a goroutine locked to a thread of its own, which
// exits with it.
func onThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		defer close(done)
		fn()
	}()
	<-done
}

// TestRegisteredRingIsPerThread records why unet does not register its
// ring's fd (IORING_REGISTER_RING_FDS, issue 13): the registration belongs
// to the thread that made it (the kernel keeps it in the task's
// io_uring context), while any goroutine, on any thread, may enter the
// ring: the loop, a Read arming its receive, a cancel. An enter through the
// registered index works on the registering thread and fails on another.
// What it would save is one fdget per io_uring_enter, and the loop makes
// 0.01 to 0.05 enters per request (BENCHMARKS.md, experiment 15).
func TestRegisteredRingIsPerThread(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 8})
	var (
		registered                   int
		onRegister, onOwner, onOther unix.Errno
	)
	// The registering thread exits with its goroutine, and its
	// registration with it; the ring stays usable through its fd.
	onThread(func() {
		upd := rsrcUpdate{Offset: ^uint32(0), Data: uint64(r.Fd())} // -1: any free slot
		registered, onRegister = ioUringRegister(r.Fd(), registerRingFds, &upd, 1)
		if onRegister != 0 {
			return
		}
		index := upd.Offset
		_, onOwner = ioUringEnter(int(index), 0, 0, enterGetEvents|enterRegisteredRing)
		onThread(func() {
			_, onOther = ioUringEnter(int(index), 0, 0, enterGetEvents|enterRegisteredRing)
		})
	})
	require.Zero(t, onRegister, "IORING_REGISTER_RING_FDS")
	require.Equal(t, 1, registered)
	require.Zero(t, onOwner, "an enter through the registered index on the thread that registered it")
	require.Contains(t, []unix.Errno{unix.EINVAL, unix.EBADF}, onOther,
		"an enter through the registered index on another thread must fail: the registration is per thread")
	_, errno := ioUringEnter(r.Fd(), 0, 0, enterGetEvents)
	require.Zero(t, errno, "the ring itself is still usable through its fd")
}

// BenchmarkSendFile measures what a registered file (IOSQE_FIXED_FILE)
// saves per request, against the same send naming the descriptor: the
// kernel's file lookup and reference count, paid once per SQE. Sends go
// out in batches of 64, as the loop submits them, and the peer is drained
// between batches, the same way for both.
//
//	go test -run '^$' -bench SendFile -count 8 ./runtime/uringsched/
func BenchmarkSendFile(b *testing.B) {
	for _, fixed := range []bool{false, true} {
		name := "fd"
		if fixed {
			name = "fixed"
		}
		b.Run(name, func(b *testing.B) {
			r, err := newRing(ringParams{Entries: 128})
			require.NoError(b, err)
			defer r.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			require.NoError(b, err)
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			target, flags := int32(fds[0]), uint8(0)
			if fixed {
				files := []int32{int32(fds[0])}
				require.NoError(b, register(r, registerFiles, &files[0], 1))
				target, flags = 0, sqeFixedFile
			}
			msg, sink := make([]byte, 64), make([]byte, 64<<10)
			const batch = 64
			b.ResetTimer()
			for sent := 0; sent < b.N; sent += batch {
				for range batch {
					e := r.GetSQE()
					e.PrepSend(target, msg, 0, 1)
					e.Flags |= flags
				}
				if _, err := r.Submit(batch, true); err != nil {
					b.Fatal(err)
				}
				r.Reap(func(c *cqe) {
					if c.Res != int32(len(msg)) {
						b.Fatalf("send: %d", c.Res)
					}
				})
				for {
					if _, err := unix.Read(fds[1], sink); err != nil {
						break
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/send")
		})
	}
}

// BenchmarkLockedThreadHandOff measures the price of the other design
// issue 13 asked to weigh: one ring-owner thread (SINGLE_ISSUER with
// DEFER_TASKRUN) that alone submits and reaps, so that every round of the
// loop is a switch to a goroutine locked to its own thread and back. It
// compares a ping-pong between two ordinary goroutines with one between an
// ordinary goroutine and a locked one; run it with -cpu 1,2 for
// GOMAXPROCS 1 and 2.
//
//	go test -run '^$' -bench LockedThreadHandOff -cpu 1,2 -count 8 ./runtime/uringsched/
func BenchmarkLockedThreadHandOff(b *testing.B) {
	for _, locked := range []bool{false, true} {
		name := "goroutine"
		if locked {
			name = "locked-thread"
		}
		b.Run(name, func(b *testing.B) {
			ping, pong := make(chan struct{}), make(chan struct{})
			go func() {
				if locked {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				for range ping {
					pong <- struct{}{}
				}
			}()
			defer close(ping)
			for b.Loop() {
				ping <- struct{}{}
				<-pong
			}
		})
	}
}
