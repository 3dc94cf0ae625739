package epollsched

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// safety bounds every wait that a bug could make endless.
const safety = 5 * time.Second

func sched(t testing.TB) *Scheduler {
	t.Helper()
	s, err := Default()
	require.NoError(t, err)
	return s
}

func newFD(t testing.TB, sysfd int) runtime.FD {
	t.Helper()
	fd, err := sched(t).NewFD(sysfd)
	require.NoError(t, err)
	t.Cleanup(func() { fd.Close() })
	return fd
}

func tcpSocket(t testing.TB) int {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	return s
}

// boundSocket returns a socket bound to a free port on 127.0.0.1.
func boundSocket(t testing.TB) (int, *unix.SockaddrInet4) {
	t.Helper()
	s := tcpSocket(t)
	require.NoError(t, unix.Bind(s, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := unix.Getsockname(s)
	require.NoError(t, err)
	return s, sa.(*unix.SockaddrInet4)
}

func listen(t testing.TB) (runtime.FD, *unix.SockaddrInet4) {
	t.Helper()
	s, sa := boundSocket(t)
	require.NoError(t, unix.Listen(s, 64))
	return newFD(t, s), sa
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server runtime.FD) {
	t.Helper()
	ln, sa := listen(t)
	client = newFD(t, tcpSocket(t))
	require.NoError(t, client.Connect(sa))
	ns, _, err := ln.Accept()
	require.NoError(t, err)
	return client, newFD(t, ns)
}

func sysfdOf(t testing.TB, fd runtime.FD) int {
	t.Helper()
	n := -1
	require.NoError(t, fd.RawControl(func(s int) { n = s }))
	return n
}

// awaitPoll waits, without consuming anything, until the socket reports
// one of events.
func awaitPoll(t testing.TB, fd runtime.FD, events int16) {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(sysfdOf(t, fd)), Events: events}}
	n, err := unix.Poll(pfd, int(safety.Milliseconds()))
	require.NoError(t, err)
	require.Equal(t, 1, n, "socket never became ready")
}

func readFull(fd runtime.FD, p []byte) error {
	for len(p) > 0 {
		n, err := fd.Read(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// readAsync starts a Read that is expected to park, and returns its result.
func readAsync(fd runtime.FD) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := fd.Read(make([]byte, 16))
		done <- err
	}()
	return done
}

func await(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(safety):
		t.Fatal("operation never returned")
		return nil
	}
}

func TestDefaultIsShared(t *testing.T) {
	s := sched(t)
	s2, err := Default()
	require.NoError(t, err)
	require.Same(t, s, s2)
	require.Equal(t, "epoll", s.Name())
}

func TestEcho(t *testing.T) {
	client, server := tcpPair(t)
	before := sched(t).Counters().Snapshot()
	buf := make([]byte, 64)
	for i := range 10 {
		msg := []byte("hello " + string(rune('a'+i)))
		n, err := client.Write(msg)
		require.NoError(t, err)
		require.Equal(t, len(msg), n)
		require.NoError(t, readFull(server, buf[:len(msg)]))
		_, err = server.Write(buf[:len(msg)])
		require.NoError(t, err)
		require.NoError(t, readFull(client, buf[:len(msg)]))
		require.Equal(t, msg, buf[:len(msg)])
	}
	after := sched(t).Counters().Snapshot()
	require.GreaterOrEqual(t, after.Reads-before.Reads, uint64(20))
	require.GreaterOrEqual(t, after.Writes-before.Writes, uint64(20))
	require.Greater(t, after.EpollWaits, uint64(0))
	require.Greater(t, after.Events, uint64(0))
}

func TestZeroLength(t *testing.T) {
	client, _ := tcpPair(t)
	n, err := client.Read(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = client.Write(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, client.SetDeadline(time.Unix(1, 0), runtime.ModeWrite))
	_, err = client.Write(nil)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// TestLargeTransfer sends several MiB each way at once, so that each fd has
// a Read and a Write in flight together and both sides fill their buffers.
func TestLargeTransfer(t *testing.T) {
	client, server := tcpPair(t)
	const size = 6 << 20
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
		buf := make([]byte, 32<<10)
		for {
			n, err := fd.Read(buf)
			*got = append(*got, buf[:n]...)
			if err == io.EOF {
				errs <- nil
				return
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}
	errs := make(chan error, 4)
	var gotUp, gotDown []byte
	go send(client, up, errs)
	go send(server, down, errs)
	go recv(server, &gotUp, errs)
	go recv(client, &gotDown, errs)
	for range 4 {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("transfer stalled")
		}
	}
	require.True(t, bytes.Equal(up, gotUp), "client to server: got %d bytes", len(gotUp))
	require.True(t, bytes.Equal(down, gotDown), "server to client: got %d bytes", len(gotDown))
}

func TestPastDeadlineFailsWithDataBuffered(t *testing.T) {
	client, server := tcpPair(t)
	_, err := client.Write([]byte("x"))
	require.NoError(t, err)
	awaitPoll(t, server, unix.POLLIN)

	require.NoError(t, server.SetDeadline(time.Now().Add(-time.Second), runtime.ModeRead))
	n, err := server.Read(make([]byte, 8))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Zero(t, n)

	// Clearing the deadline makes the fd usable again.
	require.NoError(t, server.SetDeadline(time.Time{}, runtime.ModeRead))
	buf := make([]byte, 8)
	n, err = server.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "x", string(buf[:n]))
}

func TestDeadlineWakesParkedRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Duration
	}{{"future", 30 * time.Millisecond}, {"past", -time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			_, server := tcpPair(t)
			done := readAsync(server)
			time.Sleep(20 * time.Millisecond) // let it park
			set := time.Now()
			require.NoError(t, server.SetDeadline(set.Add(tc.in), runtime.ModeRead))
			require.ErrorIs(t, await(t, done), os.ErrDeadlineExceeded)
			// Generous: shared machines, race detector.
			require.Less(t, time.Since(set), max(tc.in, 0)+time.Second)
		})
	}
}

func TestExpiredDeadlineCleared(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, server.SetDeadline(time.Now().Add(10*time.Millisecond), runtime.ModeRead))
	_, err := server.Read(make([]byte, 8))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)

	require.NoError(t, server.SetDeadline(time.Time{}, runtime.ModeRead))
	done := make(chan error, 1)
	go func() { done <- readFull(server, make([]byte, 3)) }()
	time.Sleep(10 * time.Millisecond)
	_, err = client.Write([]byte("abc"))
	require.NoError(t, err)
	require.NoError(t, await(t, done))
}

func TestWriteDeadline(t *testing.T) {
	client, _ := tcpPair(t)
	big := make([]byte, 64<<20)
	require.NoError(t, client.SetDeadline(time.Now().Add(200*time.Millisecond), runtime.ModeWrite))
	// Nobody reads, so the buffers fill and Write parks until the deadline.
	n, err := client.Write(big)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Greater(t, n, 0)
	require.Less(t, n, 64<<20)
}

func TestCloseUnblocksReadAndFreesNumber(t *testing.T) {
	_, server := tcpPair(t)
	sysfd := sysfdOf(t, server)
	done := readAsync(server)
	time.Sleep(20 * time.Millisecond) // let it park
	require.NoError(t, server.Close())

	// The number is free when Close returns, although the Read held the
	// last reference.
	_, err := unix.FcntlInt(uintptr(sysfd), unix.F_GETFD, 0)
	require.ErrorIs(t, err, unix.EBADF)
	require.ErrorIs(t, await(t, done), net.ErrClosed)

	_, err = server.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, server.Close(), net.ErrClosed)
	require.ErrorIs(t, server.SetDeadline(time.Time{}, runtime.ModeRead), net.ErrClosed)
}

// TestPeerCloseEOF lets data and FIN arrive before the first Read, so that
// its short read leaves no edge to come: the EOF must still be seen.
func TestPeerCloseEOF(t *testing.T) {
	client, server := tcpPair(t)
	_, err := client.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, client.Close())
	awaitPoll(t, server, unix.POLLRDHUP)
	time.Sleep(50 * time.Millisecond) // and let the poller dispatch both edges

	require.NoError(t, server.SetDeadline(time.Now().Add(time.Second), runtime.ModeRead))
	buf := make([]byte, 64)
	n, err := server.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "bye", string(buf[:n]))
	_, err = server.Read(buf)
	require.Equal(t, io.EOF, err)
	_, err = server.Read(buf)
	require.Equal(t, io.EOF, err)
}

// TestUrgentData sends urgent data in the middle of the stream: a read
// stops short at the urgent mark although more data is queued and no edge
// will come for it.
func TestUrgentData(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, client.RawControl(func(s int) {
		require.NoError(t, unix.Sendto(s, []byte("abc"), 0, nil))
		require.NoError(t, unix.Sendto(s, []byte("!"), unix.MSG_OOB, nil))
		require.NoError(t, unix.Sendto(s, []byte("def"), 0, nil))
	}))
	awaitPoll(t, server, unix.POLLPRI)
	time.Sleep(50 * time.Millisecond) // let the poller dispatch every edge

	require.NoError(t, server.SetDeadline(time.Now().Add(time.Second), runtime.ModeRead))
	var got []byte
	buf := make([]byte, 64)
	for len(got) < 6 {
		n, err := server.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
	require.Equal(t, "abcdef", string(got))
}

func TestPeerReset(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, client.RawControl(func(s int) {
		require.NoError(t, unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}))
	}))
	done := readAsync(server)
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, client.Close())
	require.ErrorIs(t, await(t, done), unix.ECONNRESET)
}

func TestShutdownWrite(t *testing.T) {
	client, server := tcpPair(t)
	done := readAsync(server)
	require.NoError(t, client.Shutdown(unix.SHUT_WR))
	require.Equal(t, io.EOF, await(t, done))
}

func TestAcceptUnblockedByClose(t *testing.T) {
	ln, _ := listen(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := ln.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, ln.Close())
	require.ErrorIs(t, await(t, done), net.ErrClosed)
}

func TestAcceptDeadline(t *testing.T) {
	ln, _ := listen(t)
	require.NoError(t, ln.SetDeadline(time.Now().Add(20*time.Millisecond), runtime.ModeRead))
	_, _, err := ln.Accept()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

func TestConnectRefused(t *testing.T) {
	// A bound socket that does not listen holds the port, so nobody else
	// can take it, and refuses connections.
	s, sa := boundSocket(t)
	defer unix.Close(s)
	fd := newFD(t, tcpSocket(t))
	require.ErrorIs(t, fd.Connect(sa), unix.ECONNREFUSED)
}

func TestRawReadWrite(t *testing.T) {
	client, server := tcpPair(t)
	go func() {
		time.Sleep(20 * time.Millisecond) // let RawRead wait
		client.Write([]byte("raw"))
	}()
	buf := make([]byte, 8)
	var n, calls int
	err := server.RawRead(func(s int) bool {
		calls++
		var err error
		n, err = unix.Read(s, buf)
		return err != unix.EAGAIN
	})
	require.NoError(t, err)
	require.Equal(t, "raw", string(buf[:n]))
	require.GreaterOrEqual(t, calls, 2)

	require.NoError(t, server.RawWrite(func(s int) bool {
		_, err := unix.Write(s, []byte("back"))
		return err != unix.EAGAIN
	}))
	require.NoError(t, readFull(client, buf[:4]))
	require.Equal(t, "back", string(buf[:4]))
}

// TestStaleEventDropped feeds dispatch an event of an older generation, as
// if the poller had harvested it before the number was reused.
func TestStaleEventDropped(t *testing.T) {
	_, server := tcpPair(t)
	f := server.(*fd)
	slot, gen := f.key()

	f.readReady.Store(false)
	f.s.dispatch(&unix.EpollEvent{Events: unix.EPOLLIN, Fd: slot, Pad: gen - 1})
	require.False(t, f.readReady.Load())
	f.s.dispatch(&unix.EpollEvent{Events: unix.EPOLLIN, Fd: slot, Pad: gen})
	require.True(t, f.readReady.Load())
}

// TestNumberReuse closes and reopens connections, so that numbers are
// reused while events for the old sockets may be in flight.
func TestNumberReuse(t *testing.T) {
	ln, sa := listen(t)
	buf := make([]byte, 4)
	for range 50 {
		client := newFD(t, tcpSocket(t))
		require.NoError(t, client.Connect(sa))
		ns, _, err := ln.Accept()
		require.NoError(t, err)
		server := newFD(t, ns)
		_, err = client.Write([]byte("ping"))
		require.NoError(t, err)
		require.NoError(t, readFull(server, buf))
		require.Equal(t, "ping", string(buf))
		require.NoError(t, client.Close())
		require.NoError(t, server.Close())
	}
}

func socketPair(t testing.TB) (runtime.FD, runtime.FD) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	return newFD(t, p[0]), newFD(t, p[1])
}

func TestReadWriteAllocs(t *testing.T) {
	a, b := socketPair(t)
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := a.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := readFull(b, buf); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// BenchmarkReadWrite shows the hot path allocation-free; it makes no claim
// about time.
func BenchmarkReadWrite(b *testing.B) {
	x, y := socketPair(b)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := readFull(y, buf); err != nil {
			b.Fatal(err)
		}
	}
}
