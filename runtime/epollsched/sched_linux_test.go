package epollsched

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/unetio/unet/runtime"
	"github.com/unetio/unet/runtime/fdtest"
	"golang.org/x/sys/unix"
)

func sched(t testing.TB) *Scheduler {
	t.Helper()
	s, err := Default()
	require.NoError(t, err)
	return s
}

// env makes descriptors on the default scheduler with the shared table's
// helpers.
func env(t testing.TB) *fdtest.Env { return &fdtest.Env{Sched: sched(t)} }

func tcpPair(t testing.TB) (client, server runtime.FD) {
	t.Helper()
	return env(t).TCPPair(t)
}

var readFull = fdtest.ReadFull

// TestConformance runs the descriptor contract's shared table.
func TestConformance(t *testing.T) { fdtest.Run(t, sched(t)) }

// TestUrgentData sends urgent data in the middle of the stream: a read
// stops short at the urgent mark although more data is queued and no edge
// will come for it, so the poller's EPOLLPRI must end the short-read
// shortcut. (Not in fdtest's table: at the mark, tcp_recvmsg returns
// EAGAIN to a reader with a signal pending, which an io_uring receive
// running as task work often has; on every backend, std's included, the
// rest then waits for the next segment.)
func TestUrgentData(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, client.RawControl(func(s int) {
		require.NoError(t, unix.Sendto(s, []byte("abc"), 0, nil))
		require.NoError(t, unix.Sendto(s, []byte("!"), unix.MSG_OOB, nil))
		require.NoError(t, unix.Sendto(s, []byte("def"), 0, nil))
	}))
	pfd := []unix.PollFd{{Fd: int32(fdtest.Sysfd(t, server)), Events: unix.POLLPRI}}
	_, err := unix.Poll(pfd, 5000)
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // let the poller dispatch every edge

	require.NoError(t, server.SetDeadline(time.Now().Add(time.Second), runtime.ModeRead))
	var got []byte
	buf := make([]byte, 64)
	for len(got) < 6 {
		n, err := server.Read(buf)
		require.NoError(t, err, "after %q", got)
		got = append(got, buf[:n]...)
	}
	require.Equal(t, "abcdef", string(got))
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
	ln, sa := env(t).Listen(t, 64)
	buf := make([]byte, 4)
	for range 50 {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		client := env(t).NewFD(t, s)
		require.NoError(t, client.Connect(sa))
		ns, _, err := ln.Accept()
		require.NoError(t, err)
		server := env(t).NewFD(t, ns)
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
	return env(t).NewFD(t, p[0]), env(t).NewFD(t, p[1])
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
