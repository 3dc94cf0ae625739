//go:build linux

// Package fdtest is the conformance table of the descriptor contract,
// runtime.FD: every scheduler runs the same cases (Run), so that what one
// backend does the other does too. The behaviour each case holds is
// internal/poll's and package net's, which unet's own tests compare with
// std end to end.
package fdtest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/runtime"
)

// safety bounds every wait that a bug could make endless.
const safety = 5 * time.Second

// A Case is one behaviour of the contract.
type Case struct {
	Name string
	Run  func(t *testing.T, e *Env)
}

// Env makes descriptors on the scheduler under test.
type Env struct {
	Sched runtime.Scheduler
}

// Run runs every case on s.
func Run(t *testing.T, s runtime.Scheduler) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, &Env{Sched: s}) })
	}
}

// NewFD hands sysfd to the scheduler, closed at the end of the test.
func (e *Env) NewFD(t testing.TB, sysfd int) runtime.FD {
	t.Helper()
	fd, err := e.Sched.NewFD(sysfd)
	require.NoError(t, err)
	t.Cleanup(func() { fd.Close() })
	return fd
}

func socket(t testing.TB, family int) int {
	t.Helper()
	s, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	return s
}

// Listen returns a listener on 127.0.0.1 and its address.
func (e *Env) Listen(t testing.TB, backlog int) (runtime.FD, *unix.SockaddrInet4) {
	t.Helper()
	s := socket(t, unix.AF_INET)
	require.NoError(t, unix.Bind(s, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(s, backlog))
	sa, err := unix.Getsockname(s)
	require.NoError(t, err)
	return e.NewFD(t, s), sa.(*unix.SockaddrInet4)
}

// TCPPair returns the two ends of a loopback TCP connection.
func (e *Env) TCPPair(t testing.TB) (client, server runtime.FD) {
	t.Helper()
	ln, sa := e.Listen(t, 64)
	client = e.NewFD(t, socket(t, unix.AF_INET))
	require.NoError(t, client.Connect(sa))
	ns, _, err := ln.Accept()
	require.NoError(t, err)
	return client, e.NewFD(t, ns)
}

// UnixListen returns a Unix stream listener at a path in a temporary
// directory, with the given backlog.
func (e *Env) UnixListen(t testing.TB, backlog int) (runtime.FD, *unix.SockaddrUnix) {
	t.Helper()
	sa := &unix.SockaddrUnix{Name: filepath.Join(t.TempDir(), "sock")}
	s := socket(t, unix.AF_UNIX)
	require.NoError(t, unix.Bind(s, sa))
	require.NoError(t, unix.Listen(s, backlog))
	return e.NewFD(t, s), sa
}

// Sysfd returns fd's descriptor number.
func Sysfd(t testing.TB, fd runtime.FD) int {
	t.Helper()
	n := -1
	require.NoError(t, fd.RawControl(func(s int) { n = s }))
	return n
}

// queued returns how many bytes the kernel holds for fd to read.
func queued(t testing.TB, fd runtime.FD) int {
	t.Helper()
	var n int
	require.NoError(t, fd.RawControl(func(s int) { n, _ = unix.IoctlGetInt(s, unix.SIOCINQ) }))
	return n
}

// awaitPoll waits, without consuming anything, until the socket reports
// one of events.
func awaitPoll(t testing.TB, fd runtime.FD, events int16) {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(Sysfd(t, fd)), Events: events}}
	n, err := unix.Poll(pfd, int(safety.Milliseconds()))
	require.NoError(t, err)
	require.Equal(t, 1, n, "socket never became ready")
}

// ReadFull reads exactly len(p) bytes.
func ReadFull(fd runtime.FD, p []byte) error {
	for len(p) > 0 {
		n, err := fd.Read(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// goRead starts a Read that is expected to park, and returns its error.
func goRead(fd runtime.FD) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := fd.Read(make([]byte, 16))
		done <- err
	}()
	return done
}

// await returns what an operation sent on done, failing after safety.
func await[T any](t testing.TB, done <-chan T) T {
	t.Helper()
	select {
	case v := <-done:
		return v
	case <-time.After(safety):
		t.Fatal("operation never returned")
		var zero T
		return zero
	}
}

// rawRead reads once through RawRead, waiting for readability.
func rawRead(fd runtime.FD, buf []byte) (string, error) {
	var n int
	var rerr error
	err := fd.RawRead(func(s int) bool {
		n, rerr = unix.Read(s, buf)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	return string(buf[:max(n, 0)]), err
}

// rawWriteAll writes total bytes through RawWrite, waiting for room.
func rawWriteAll(fd runtime.FD, total int) error {
	chunk := make([]byte, 32<<10)
	sent := 0
	var werr error
	err := fd.RawWrite(func(s int) bool {
		for sent < total {
			n, err := unix.Write(s, chunk[:min(len(chunk), total-sent)])
			if err == unix.EAGAIN {
				return false
			}
			if err != nil {
				werr = err
				return true
			}
			sent += n
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return err
}

// shrinkBuffers makes a few hundred KiB fill the path from w to r.
func shrinkBuffers(t testing.TB, w, r runtime.FD) {
	t.Helper()
	require.NoError(t, w.RawControl(func(s int) { require.NoError(t, unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10)) }))
	require.NoError(t, r.RawControl(func(s int) { require.NoError(t, unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10)) }))
}

// drain reads n bytes from fd in the background.
func drain(fd runtime.FD, n int) <-chan error {
	done := make(chan error, 1)
	go func() { done <- ReadFull(fd, make([]byte, n)) }()
	return done
}

// Cases is the table.
var Cases = []Case{
	{"Echo", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		before := e.Sched.Counters().Snapshot()
		n, err := a.Write([]byte("hello"))
		require.NoError(t, err)
		require.Equal(t, 5, n)
		buf := make([]byte, 64)
		require.NoError(t, ReadFull(b, buf[:5]))
		require.Equal(t, "hello", string(buf[:5]))
		require.NoError(t, a.Shutdown(unix.SHUT_WR))
		_, err = b.Read(buf)
		require.Equal(t, io.EOF, err)
		_, err = b.Read(buf)
		require.Equal(t, io.EOF, err, "EOF must stay")
		after := e.Sched.Counters().Snapshot()
		// Reads and Writes count calls, the same on every backend.
		require.GreaterOrEqual(t, after.Writes-before.Writes, uint64(1))
		require.GreaterOrEqual(t, after.Reads-before.Reads, uint64(3))
		require.GreaterOrEqual(t, after.BytesRead-before.BytesRead, uint64(5))
		require.GreaterOrEqual(t, after.IOSyscalls-before.IOSyscalls, uint64(1), "shutdown is a system call")
	}},
	{"ReadWriteAllocFree", func(t *testing.T, e *Env) {
		// The hot path allocates nothing: no closure, op or buffer per
		// Read or Write.
		a, b := e.TCPPair(t)
		buf := make([]byte, 64)
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := a.Write(buf); err != nil {
				t.Fatal(err)
			}
			if err := ReadFull(b, buf); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs)
	}},
	{"ZeroLength", func(t *testing.T, e *Env) {
		a, _ := e.TCPPair(t)
		n, err := a.Read(nil)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = a.Write(nil)
		require.NoError(t, err)
		require.Zero(t, n)
		require.NoError(t, a.SetDeadline(time.Unix(1, 0), runtime.ModeWrite))
		_, err = a.Write(nil)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	}},
	{"LargeTransferBothWays", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		const size = 4 << 20
		rng := rand.New(rand.NewPCG(1, 2))
		up, down := make([]byte, size), make([]byte, size)
		for i := range up {
			up[i], down[i] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		send := func(fd runtime.FD, data []byte, errs chan<- error) {
			r := rand.New(rand.NewPCG(3, 4))
			for len(data) > 0 {
				n := min(len(data), 1+r.IntN(256<<10))
				if _, err := fd.Write(data[:n]); err != nil {
					errs <- err
					return
				}
				data = data[n:]
			}
			errs <- fd.Shutdown(unix.SHUT_WR)
		}
		recv := func(fd runtime.FD, got *[]byte, errs chan<- error) {
			buf := make([]byte, 1+rand.IntN(64<<10))
			for {
				n, err := fd.Read(buf)
				*got = append(*got, buf[:n]...)
				if err != nil {
					if err == io.EOF {
						err = nil
					}
					errs <- err
					return
				}
			}
		}
		errs := make(chan error, 4)
		var gotUp, gotDown []byte
		go send(a, up, errs)
		go send(b, down, errs)
		go recv(b, &gotUp, errs)
		go recv(a, &gotDown, errs)
		for range 4 {
			select {
			case err := <-errs:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("transfer stalled")
			}
		}
		require.True(t, bytes.Equal(up, gotUp), "a to b: got %d bytes", len(gotUp))
		require.True(t, bytes.Equal(down, gotDown), "b to a: got %d bytes", len(gotDown))
	}},
	{"PastDeadlineFailsWithDataBuffered", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		_, err := a.Write([]byte("x"))
		require.NoError(t, err)
		awaitPoll(t, b, unix.POLLIN)
		require.NoError(t, b.SetDeadline(time.Unix(1, 0), runtime.ModeRead))
		n, err := b.Read(make([]byte, 8))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Zero(t, n)
		// Clearing the deadline makes the fd usable again, with nothing lost.
		require.NoError(t, b.SetDeadline(time.Time{}, runtime.ModeRead))
		buf := make([]byte, 8)
		n, err = b.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "x", string(buf[:n]))
	}},
	{"DeadlineWakesParkedRead", func(t *testing.T, e *Env) {
		for _, in := range []time.Duration{30 * time.Millisecond, -time.Second} {
			_, b := e.TCPPair(t)
			done := goRead(b)
			time.Sleep(20 * time.Millisecond) // let it park
			set := time.Now()
			require.NoError(t, b.SetDeadline(set.Add(in), runtime.ModeRead))
			require.ErrorIs(t, await(t, done), os.ErrDeadlineExceeded)
			require.Less(t, time.Since(set), max(in, 0)+time.Second)
		}
	}},
	{"ExpiredDeadlineCleared", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		require.NoError(t, b.SetDeadline(time.Now().Add(10*time.Millisecond), runtime.ModeRead))
		_, err := b.Read(make([]byte, 8))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.NoError(t, b.SetDeadline(time.Time{}, runtime.ModeRead))
		done := make(chan error, 1)
		go func() { done <- ReadFull(b, make([]byte, 3)) }()
		time.Sleep(10 * time.Millisecond)
		_, err = a.Write([]byte("abc"))
		require.NoError(t, err)
		require.NoError(t, await(t, done))
	}},
	{"WriteDeadline", func(t *testing.T, e *Env) {
		a, _ := e.TCPPair(t)
		require.NoError(t, a.SetDeadline(time.Now().Add(200*time.Millisecond), runtime.ModeWrite))
		// Nobody reads, so the buffers fill and Write parks until the deadline.
		n, err := a.Write(make([]byte, 64<<20))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Greater(t, n, 0)
		require.Less(t, n, 64<<20)
	}},
	{"CloseWakesParkedAndFreesNumber", func(t *testing.T, e *Env) {
		_, b := e.TCPPair(t)
		sysfd := Sysfd(t, b)
		rerr := goRead(b)
		werr := make(chan error, 1)
		go func() {
			// The peer never reads: this fills both socket buffers.
			_, err := b.Write(make([]byte, 64<<20))
			werr <- err
		}()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, b.Close())
		// The number is free when Close returns, although parked
		// operations held references.
		_, err := unix.FcntlInt(uintptr(sysfd), unix.F_GETFD, 0)
		require.ErrorIs(t, err, unix.EBADF)
		require.ErrorIs(t, await(t, rerr), net.ErrClosed)
		require.ErrorIs(t, await(t, werr), net.ErrClosed)
		_, err = b.Read(make([]byte, 1))
		require.ErrorIs(t, err, net.ErrClosed)
		require.ErrorIs(t, b.Close(), net.ErrClosed)
		require.ErrorIs(t, b.SetDeadline(time.Time{}, runtime.ModeRead), net.ErrClosed)
		require.ErrorIs(t, b.Shutdown(unix.SHUT_WR), net.ErrClosed)
		require.ErrorIs(t, b.RawControl(func(int) {}), net.ErrClosed)
		_, err = b.Dup()
		require.ErrorIs(t, err, net.ErrClosed)
	}},
	{"PeerCloseEOF", func(t *testing.T, e *Env) {
		// Data and FIN arrive before the first Read.
		a, b := e.TCPPair(t)
		_, err := a.Write([]byte("bye"))
		require.NoError(t, err)
		require.NoError(t, a.Close())
		awaitPoll(t, b, unix.POLLRDHUP)
		time.Sleep(50 * time.Millisecond) // let the scheduler see every event
		require.NoError(t, b.SetDeadline(time.Now().Add(time.Second), runtime.ModeRead))
		buf := make([]byte, 64)
		n, err := b.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "bye", string(buf[:n]))
		_, err = b.Read(buf)
		require.Equal(t, io.EOF, err)
	}},
	{"PeerReset", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		require.NoError(t, a.RawControl(func(s int) {
			require.NoError(t, unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}))
		}))
		done := goRead(b)
		time.Sleep(10 * time.Millisecond)
		require.NoError(t, a.Close())
		require.ErrorIs(t, await(t, done), unix.ECONNRESET)
	}},
	{"ShutdownWrite", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		done := goRead(b)
		require.NoError(t, a.Shutdown(unix.SHUT_WR))
		require.Equal(t, io.EOF, await(t, done))
	}},
	{"AcceptUnblockedByClose", func(t *testing.T, e *Env) {
		ln, _ := e.Listen(t, 64)
		done := make(chan error, 1)
		go func() {
			_, _, err := ln.Accept()
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, ln.Close())
		require.ErrorIs(t, await(t, done), net.ErrClosed)
	}},
	{"AcceptDeadline", func(t *testing.T, e *Env) {
		ln, _ := e.Listen(t, 64)
		require.NoError(t, ln.SetDeadline(time.Now().Add(20*time.Millisecond), runtime.ModeRead))
		_, _, err := ln.Accept()
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	}},
	{"ConnectRefused", func(t *testing.T, e *Env) {
		// A bound socket that does not listen holds the port and refuses.
		s := socket(t, unix.AF_INET)
		defer unix.Close(s)
		require.NoError(t, unix.Bind(s, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
		sa, err := unix.Getsockname(s)
		require.NoError(t, err)
		fd := e.NewFD(t, socket(t, unix.AF_INET))
		require.ErrorIs(t, fd.Connect(sa), unix.ECONNREFUSED)
	}},
	{"ConnectUnixBacklogFull", func(t *testing.T, e *Env) {
		// As net: a non-blocking connect to a Unix listener whose
		// backlog is full fails with EAGAIN; it never "succeeds" with
		// an unconnected socket.
		_, sa := e.UnixListen(t, 0)
		var err error
		for i := 0; i < 64 && err == nil; i++ {
			fd := e.NewFD(t, socket(t, unix.AF_UNIX))
			if err = fd.Connect(sa); err == nil {
				require.NoError(t, fd.RawControl(func(s int) {
					_, perr := unix.Getpeername(s)
					require.NoError(t, perr, "Connect returned nil on an unconnected socket")
				}))
			}
		}
		require.ErrorIs(t, err, unix.EAGAIN)
	}},
	{"RawReadWrite", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		go func() {
			time.Sleep(20 * time.Millisecond) // let RawRead wait
			a.Write([]byte("raw"))
		}()
		got, err := rawRead(b, make([]byte, 8))
		require.NoError(t, err)
		require.Equal(t, "raw", got)
		require.NoError(t, b.RawWrite(func(s int) bool {
			_, err := unix.Write(s, []byte("back"))
			return err != unix.EAGAIN
		}))
		buf := make([]byte, 4)
		require.NoError(t, ReadFull(a, buf))
		require.Equal(t, "back", string(buf))
	}},
	{"RawReadSeesUnreadStream", func(t *testing.T, e *Env) {
		// "AB" arrives, Read takes one byte, "C" arrives: raw code sees
		// "BC" in the socket, as it would on a net conn.
		a, b := e.TCPPair(t)
		_, err := a.Write([]byte("AB"))
		require.NoError(t, err)
		buf := make([]byte, 1)
		require.NoError(t, ReadFull(b, buf))
		require.Equal(t, "A", string(buf))
		_, err = a.Write([]byte("C"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return queued(t, b) >= 2 }, safety, time.Millisecond,
			"the unread bytes are not in the socket")
		require.NoError(t, b.SetDeadline(time.Now().Add(safety), runtime.ModeRead))
		got, err := rawRead(b, make([]byte, 8))
		require.NoError(t, err)
		require.Equal(t, "BC", got)
		// Read goes on after the raw read.
		_, err = a.Write([]byte("D"))
		require.NoError(t, err)
		require.NoError(t, ReadFull(b, buf))
		require.Equal(t, "D", string(buf))
	}},
	{"RawReadWaitsOnReadSide", func(t *testing.T, e *Env) {
		// After a raw write waited for room, and while another one is
		// blocked, a raw read is woken by readability, not its deadline.
		a, b := e.TCPPair(t)
		shrinkBuffers(t, b, a)
		require.NoError(t, b.SetDeadline(time.Now().Add(safety), runtime.ModeRead|runtime.ModeWrite))
		const total = 2 << 20
		w := make(chan error, 1)
		go func() { w <- rawWriteAll(b, total) }()
		time.Sleep(50 * time.Millisecond)
		d := drain(a, total)
		require.NoError(t, await(t, w))
		require.NoError(t, await(t, d))
		for _, blocked := range []bool{false, true} {
			if blocked {
				go func() { w <- rawWriteAll(b, total) }()
				time.Sleep(50 * time.Millisecond)
			}
			r := make(chan string, 1)
			go func() {
				got, err := rawRead(b, make([]byte, 8))
				if err != nil {
					got = err.Error()
				}
				r <- got
			}()
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			_, err := a.Write([]byte("x"))
			require.NoError(t, err)
			require.Equal(t, "x", await(t, r))
			require.Less(t, time.Since(start), time.Second, "the raw read waited on the wrong side")
		}
		d = drain(a, total)
		require.NoError(t, await(t, w))
		require.NoError(t, await(t, d))
	}},
	{"RawDeadlinePassed", func(t *testing.T, e *Env) {
		// As internal/poll: a deadline already past fails raw I/O before
		// the function touches the socket.
		_, b := e.TCPPair(t)
		require.NoError(t, b.SetDeadline(time.Unix(1, 0), runtime.ModeRead|runtime.ModeWrite))
		called := false
		require.ErrorIs(t, b.RawRead(func(int) bool { called = true; return true }), os.ErrDeadlineExceeded)
		require.ErrorIs(t, b.RawWrite(func(int) bool { called = true; return true }), os.ErrDeadlineExceeded)
		require.False(t, called)
	}},
	{"DupSeesUnreadStream", func(t *testing.T, e *Env) {
		a, b := e.TCPPair(t)
		_, err := a.Write([]byte("head"))
		require.NoError(t, err)
		buf := make([]byte, 4)
		require.NoError(t, ReadFull(b, buf))
		_, err = a.Write([]byte("tail"))
		require.NoError(t, err)
		dup, err := b.Dup()
		require.NoError(t, err)
		defer unix.Close(dup)
		// Closing the original with the tail unread must not reset the
		// stream the duplicate still holds.
		require.NoError(t, b.Close())
		pfd := []unix.PollFd{{Fd: int32(dup), Events: unix.POLLIN}}
		_, err = unix.Poll(pfd, int(safety.Milliseconds()))
		require.NoError(t, err)
		n, err := unix.Read(dup, buf)
		require.NoError(t, err)
		require.Equal(t, "tail", string(buf[:n]))
		_, err = unix.Write(dup, []byte("ok"))
		require.NoError(t, err)
		require.NoError(t, ReadFull(a, buf[:2]))
		require.Equal(t, "ok", string(buf[:2]))
	}},
	{"UnixReadAfterRights", func(t *testing.T, e *Env) {
		// The kernel ends a read at a message that carried SCM_RIGHTS
		// with more queued: the next Read must not wait for an edge.
		ln, sa := e.UnixListen(t, 8)
		a := e.NewFD(t, socket(t, unix.AF_UNIX))
		require.NoError(t, a.Connect(sa))
		ns, _, err := ln.Accept()
		require.NoError(t, err)
		b := e.NewFD(t, ns)
		require.NoError(t, a.RawControl(func(s int) {
			require.NoError(t, unix.Sendmsg(s, []byte("hello"), unix.UnixRights(int(os.Stdin.Fd())), nil, 0))
			_, err := unix.Write(s, []byte("world"))
			require.NoError(t, err)
		}))
		require.Eventually(t, func() bool { return queued(t, b) >= 10 }, safety, time.Millisecond)
		time.Sleep(20 * time.Millisecond) // let the scheduler see every event
		require.NoError(t, b.SetDeadline(time.Now().Add(safety), runtime.ModeRead))
		var got []byte
		buf := make([]byte, 64)
		start := time.Now()
		for len(got) < 10 {
			n, err := b.Read(buf)
			require.NoError(t, err)
			got = append(got, buf[:n]...)
		}
		require.Equal(t, "helloworld", string(got))
		require.Less(t, time.Since(start), time.Second)
	}},
	{"UnixAcceptPeerAddr", func(t *testing.T, e *Env) {
		// Peers as x/sys/unix reports them from accept4: a path, an
		// abstract name as "@name", an unnamed peer as "@"; never an
		// earlier peer's address.
		ln, sa := e.UnixListen(t, 8)
		abstract := "@unet-fdtest-" + filepath.Base(t.TempDir())
		path := filepath.Join(t.TempDir(), "client")
		for _, name := range []string{path, "", abstract, ""} {
			c := socket(t, unix.AF_UNIX)
			if name != "" {
				require.NoError(t, unix.Bind(c, &unix.SockaddrUnix{Name: name}))
			}
			err := unix.Connect(c, sa)
			require.NoError(t, err)
			ns, peer, err := ln.Accept()
			require.NoError(t, err)
			want := name
			if want == "" {
				want = "@"
			}
			require.Equal(t, &unix.SockaddrUnix{Name: want}, peer)
			unix.Close(ns)
			unix.Close(c)
		}
	}},
}
