//go:build linux

package uringsched

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// newTestRing sets up a ring that the test closes when it ends.
func newTestRing(t *testing.T, p ringParams) *ring {
	t.Helper()
	r, err := newRing(p)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// pinned returns n bytes that stay in place for the kernel: mapped memory,
// not a Go slice that might live on a goroutine stack and move with it.
func pinned(t *testing.T, n int) []byte {
	t.Helper()
	b, err := mmapAnon(n)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

// socketpair returns a connected pair of non-blocking Unix stream sockets.
func socketpair(t *testing.T) (int32, int32) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return int32(fds[0]), int32(fds[1])
}

// reapN submits what is pending and reaps until n CQEs have arrived,
// polling rather than blocking so that a bug fails the test instead of
// hanging it.
func reapN(t *testing.T, r *ring, n int) []cqe {
	t.Helper()
	var got []cqe
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		_, err := r.Submit(0, true)
		require.NoError(t, err)
		r.Reap(func(c *cqe) { got = append(got, *c) })
		if len(got) < n {
			require.True(t, time.Now().Before(deadline), "got %d of %d CQEs: %+v", len(got), n, got)
			time.Sleep(time.Millisecond)
		}
	}
	require.Len(t, got, n, "more CQEs than expected: %+v", got)
	return got
}

// byUserData indexes CQEs by their user data, which must be unique.
func byUserData(t *testing.T, cqes []cqe) map[uint64]cqe {
	t.Helper()
	m := make(map[uint64]cqe)
	for _, c := range cqes {
		_, dup := m[c.UserData]
		require.False(t, dup, "two CQEs for user data %d", c.UserData)
		m[c.UserData] = c
	}
	return m
}

func TestABILayout(t *testing.T) {
	// Sizes and offsets from include/uapi/linux/io_uring.h.
	require.EqualValues(t, 64, unsafe.Sizeof(sqe{}))
	require.EqualValues(t, 8, unsafe.Offsetof(sqe{}.Off))
	require.EqualValues(t, 16, unsafe.Offsetof(sqe{}.Addr))
	require.EqualValues(t, 24, unsafe.Offsetof(sqe{}.Len))
	require.EqualValues(t, 28, unsafe.Offsetof(sqe{}.OpFlags))
	require.EqualValues(t, 32, unsafe.Offsetof(sqe{}.UserData))
	require.EqualValues(t, 40, unsafe.Offsetof(sqe{}.BufIndex))
	require.EqualValues(t, 42, unsafe.Offsetof(sqe{}.Personality))
	require.EqualValues(t, 44, unsafe.Offsetof(sqe{}.SpliceFdIn))
	require.EqualValues(t, 48, unsafe.Offsetof(sqe{}.Addr3))
	require.EqualValues(t, 16, unsafe.Sizeof(cqe{}))
	require.EqualValues(t, 8, unsafe.Offsetof(cqe{}.Res))
	require.EqualValues(t, 40, unsafe.Sizeof(sqringOffsets{}))
	require.EqualValues(t, 40, unsafe.Sizeof(cqringOffsets{}))
	require.EqualValues(t, 120, unsafe.Sizeof(ioUringParams{}))
	require.EqualValues(t, 40, unsafe.Offsetof(ioUringParams{}.SQOff))
	require.EqualValues(t, 8, unsafe.Sizeof(ioUringProbeOp{}))
	require.EqualValues(t, 16, unsafe.Offsetof(ioUringProbe{}.Ops))
	require.EqualValues(t, 16, unsafe.Sizeof(ioUringBuf{}))
	require.EqualValues(t, 14, unsafe.Offsetof(ioUringBuf{}.Resv)) // the ring's tail
	require.EqualValues(t, 40, unsafe.Sizeof(ioUringBufReg{}))
}

func TestRingSetupClose(t *testing.T) {
	r, err := newRing(ringParams{Entries: 8})
	require.NoError(t, err)
	require.Positive(t, r.Fd())
	require.EqualValues(t, featNoDrop|featSingleMmap|featFastPoll, r.Features()&(featNoDrop|featSingleMmap|featFastPoll))
	require.EqualValues(t, setupSubmitAll|setupClamp, r.flags&(setupSubmitAll|setupClamp))
	require.NotZero(t, r.flags&setupNoSQArray, "Linux 6.6+ takes IORING_SETUP_NO_SQARRAY")
	require.Len(t, r.sqes, 8)
	require.Len(t, r.cqes, 16) // the kernel's default: twice the SQ
	require.Zero(t, r.Pending())
	require.Zero(t, r.CQReady())
	require.False(t, r.NeedsEnter())
	require.False(t, r.Overflowed())
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")

	r = newTestRing(t, ringParams{Entries: 4, CQEntries: 64})
	require.Len(t, r.cqes, 64)

	_, err = newRing(ringParams{Entries: 4, Flags: setupCQE32})
	require.Error(t, err)
}

func TestNop(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	const ud = 0xdeadbeefcafef00d
	r.GetSQE().PrepNop(ud)
	require.EqualValues(t, 1, r.Pending())
	n, err := r.Submit(1, false)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, r.Pending())
	require.EqualValues(t, 1, r.CQReady())
	c := reapN(t, r, 1)[0]
	require.Equal(t, cqe{UserData: ud}, c)
	require.Zero(t, r.CQReady())
}

func TestProbe(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	ops, err := probeOps(r)
	require.NoError(t, err)
	for _, op := range []int{opNop, opRecv, opSend, opAccept, opConnect, opPollAdd, opAsyncCancel, opSendZC, opPipe} {
		require.True(t, ops[op], "opcode %d", op)
	}
	require.False(t, ops[opLast])
}

func TestSQFull(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	for i := range 4 {
		e := r.GetSQE()
		require.NotNil(t, e)
		e.PrepNop(uint64(i + 1))
	}
	require.Nil(t, r.GetSQE())
	require.EqualValues(t, 4, r.Pending())
	n, err := r.Submit(0, false)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Zero(t, r.Pending())
	// Submitted SQEs free their slots even before their CQEs are reaped.
	e := r.GetSQE()
	require.NotNil(t, e)
	e.PrepNop(5)
	got := byUserData(t, reapN(t, r, 5))
	for i := range 5 {
		require.Contains(t, got, uint64(i+1))
	}
}

func TestSendRecv(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	a, b := socketpair(t)
	mem := pinned(t, 128)
	out, in := mem[:4], mem[64:]
	copy(out, "ping")
	r.GetSQE().PrepRecv(a, in, 0, 1)
	r.GetSQE().PrepSend(b, out, unix.MSG_NOSIGNAL, 2)
	got := byUserData(t, reapN(t, r, 2))
	require.EqualValues(t, 4, got[1].Res)
	require.EqualValues(t, 4, got[2].Res)
	require.Equal(t, "ping", string(in[:4]))
}

func TestRecvMultishot(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	const group = 1
	br, err := newBufRing(r, group, 4, 16, 4)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, br.Close()) })
	require.EqualValues(t, group, br.Group())
	require.EqualValues(t, 4, br.Entries())
	require.EqualValues(t, 16, br.BufSize())
	a, b := socketpair(t)

	r.GetSQE().PrepRecvMultishot(a, group, 0, 0, 42)
	var bids []uint16
	for i := range 4 {
		msg := fmt.Sprintf("msg-%d", i)
		_, err := unix.Write(int(b), []byte(msg))
		require.NoError(t, err)
		c := reapN(t, r, 1)[0]
		require.EqualValues(t, 42, c.UserData)
		require.EqualValues(t, len(msg), c.Res)
		require.NotZero(t, c.Flags&cqeFBuffer)
		require.NotZero(t, c.Flags&cqeFMore, "the receive stays armed")
		bid := uint16(c.Flags >> cqeBufferShift)
		require.Equal(t, msg, string(br.Buf(bid, int(c.Res))))
		require.NotContains(t, bids, bid)
		bids = append(bids, bid)
	}

	// Every buffer is out: the next chunk ends the receive.
	_, err = unix.Write(int(b), []byte("msg-4"))
	require.NoError(t, err)
	c := reapN(t, r, 1)[0]
	require.EqualValues(t, -int32(unix.ENOBUFS), c.Res)
	require.Zero(t, c.Flags&cqeFMore)

	// Recycled buffers (the ring's tail wraps here) serve a new receive,
	// which finds the chunk still queued in the socket.
	for _, bid := range bids {
		br.Recycle(bid)
	}
	br.Publish()
	r.GetSQE().PrepRecvMultishot(a, group, 0, 0, 43)
	c = reapN(t, r, 1)[0]
	require.EqualValues(t, 5, c.Res)
	require.NotZero(t, c.Flags&cqeFMore)
	require.Equal(t, "msg-4", string(br.Buf(uint16(c.Flags>>cqeBufferShift), 5)))

	r.GetSQE().PrepCancel(43, 0, 44)
	got := byUserData(t, reapN(t, r, 2))
	require.EqualValues(t, -int32(unix.ECANCELED), got[43].Res)
	require.Zero(t, got[43].Flags&cqeFMore)
	require.Zero(t, got[44].Res)
}

// TestBufRingGrow: a ring that starts with some of its buffers gives the
// kernel only those, and Grow hands out the rest, each once.
func TestBufRingGrow(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	const group = 2
	br, err := newBufRing(r, group, 4, 16, 2)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, br.Close()) })
	require.EqualValues(t, 2, br.Given())
	a, b := socketpair(t)

	recvAll := func(ud uint64, msgs ...string) []uint16 {
		t.Helper()
		r.GetSQE().PrepRecvMultishot(a, group, 0, 0, ud)
		var bids []uint16
		for _, msg := range msgs {
			_, err := unix.Write(int(b), []byte(msg))
			require.NoError(t, err)
			c := reapN(t, r, 1)[0]
			require.EqualValues(t, len(msg), c.Res)
			bid := uint16(c.Flags >> cqeBufferShift)
			require.Equal(t, msg, string(br.Buf(bid, int(c.Res))))
			bids = append(bids, bid)
		}
		// One more chunk finds the ring empty and ends the receive.
		_, err := unix.Write(int(b), []byte("more"))
		require.NoError(t, err)
		c := reapN(t, r, 1)[0]
		require.EqualValues(t, -int32(unix.ENOBUFS), c.Res)
		_, err = unix.Read(int(a), make([]byte, 4))
		require.NoError(t, err)
		return bids
	}
	require.ElementsMatch(t, []uint16{0, 1}, recvAll(10, "a", "b"))
	require.EqualValues(t, 2, br.Grow(8), "Grow gives no more than the ring holds")
	br.Publish()
	require.EqualValues(t, 4, br.Given())
	require.Zero(t, br.Grow(1))
	require.ElementsMatch(t, []uint16{2, 3}, recvAll(11, "c", "d"))
}

func TestCancel(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	a, _ := socketpair(t)
	buf := pinned(t, 64)
	r.GetSQE().PrepRecv(a, buf, 0, 7)
	_, err := r.Submit(0, false)
	require.NoError(t, err)
	r.GetSQE().PrepCancel(7, 0, 8)
	got := byUserData(t, reapN(t, r, 2))
	require.EqualValues(t, -int32(unix.ECANCELED), got[7].Res)
	require.Zero(t, got[8].Res)

	r.GetSQE().PrepCancel(7, 0, 9)
	require.EqualValues(t, -int32(unix.ENOENT), reapN(t, r, 1)[0].Res, "nothing left to cancel")
}

func TestCancelFd(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	a, _ := socketpair(t)
	buf := pinned(t, 64)
	r.GetSQE().PrepPollAdd(a, unix.POLLIN, 1)
	r.GetSQE().PrepRecv(a, buf, 0, 2)
	_, err := r.Submit(0, false)
	require.NoError(t, err)
	r.GetSQE().PrepCancelFd(a, asyncCancelAll, 3)
	got := byUserData(t, reapN(t, r, 3))
	require.EqualValues(t, -int32(unix.ECANCELED), got[1].Res)
	require.EqualValues(t, -int32(unix.ECANCELED), got[2].Res)
	require.EqualValues(t, 2, got[3].Res, "the cancel counts what it cancelled")
}

func TestPollAdd(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	a, b := socketpair(t)
	r.GetSQE().PrepPollAdd(a, unix.POLLIN, 1)
	_, err := r.Submit(0, false)
	require.NoError(t, err)
	_, err = unix.Write(int(b), []byte("x"))
	require.NoError(t, err)
	c := reapN(t, r, 1)[0]
	require.NotZero(t, c.Res&unix.POLLIN)
}

// testTimeout is a global so that it never lives on a stack, which can move.
var testTimeout = unix.Timespec{Nsec: int64(time.Millisecond)}

func TestTimeout(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	r.GetSQE().PrepTimeout(&testTimeout, 0, 0, 1)
	require.EqualValues(t, -int32(unix.ETIME), reapN(t, r, 1)[0].Res)
}

func TestSplice(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4})
	a, b := socketpair(t)
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	_, err := unix.Write(int(b), []byte("abc"))
	require.NoError(t, err)
	r.GetSQE().PrepSplice(a, -1, int32(p[1]), -1, 3, 0, 1)
	require.EqualValues(t, 3, reapN(t, r, 1)[0].Res)
	got := make([]byte, 8)
	n, err := unix.Read(p[0], got)
	require.NoError(t, err)
	require.Equal(t, "abc", string(got[:n]))
}

// TestTCP covers accept, connect, zero-copy send, shutdown and close over
// loopback TCP, which (unlike Unix sockets) supports zero-copy sends.
func TestTCP(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 8})
	socket := func() int32 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		return int32(fd)
	}
	ln, cl := socket(), socket()
	t.Cleanup(func() { unix.Close(int(ln)) })
	require.NoError(t, unix.Bind(int(ln), &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(int(ln), 8))
	sa, err := unix.Getsockname(int(ln))
	require.NoError(t, err)

	// Everything the kernel reads or writes after Submit lives in
	// mapped memory.
	mem := pinned(t, 512)
	peer := (*unix.RawSockaddrAny)(unsafe.Pointer(&mem[0]))
	peerLen := (*uint32)(unsafe.Pointer(&mem[128]))
	*peerLen = unix.SizeofSockaddrAny
	dst := (*unix.RawSockaddrInet4)(unsafe.Pointer(&mem[136]))
	dst.Family = unix.AF_INET
	dst.Addr = [4]byte{127, 0, 0, 1}
	port := sa.(*unix.SockaddrInet4).Port
	nport := (*[2]byte)(unsafe.Pointer(&dst.Port)) // network byte order
	nport[0], nport[1] = byte(port>>8), byte(port)
	buf := mem[256:]

	r.GetSQE().PrepAccept(ln, peer, peerLen, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 1)
	r.GetSQE().PrepConnect(cl, (*unix.RawSockaddrAny)(unsafe.Pointer(dst)), unix.SizeofSockaddrInet4, 2)
	got := byUserData(t, reapN(t, r, 2))
	require.GreaterOrEqual(t, got[1].Res, int32(0), "accept: %v", unix.Errno(-got[1].Res))
	require.Zero(t, got[2].Res, "connect: %v", unix.Errno(-got[2].Res))
	srv := got[1].Res
	require.EqualValues(t, unix.AF_INET, peer.Addr.Family)
	require.EqualValues(t, unix.SizeofSockaddrInet4, *peerLen)

	// A zero-copy send posts its result, then a notification once the
	// kernel let go of the buffer.
	copy(buf, "hello")
	r.GetSQE().PrepSendZC(cl, buf[:5], 0, 3)
	zc := reapN(t, r, 2)
	require.EqualValues(t, cqe{UserData: 3, Res: 5, Flags: cqeFMore}, zc[0])
	require.EqualValues(t, 3, zc[1].UserData)
	require.NotZero(t, zc[1].Flags&cqeFNotif)

	in := buf[64:]
	r.GetSQE().PrepRecv(srv, in[:64], 0, 4)
	require.EqualValues(t, 5, reapN(t, r, 1)[0].Res)
	require.Equal(t, "hello", string(in[:5]))

	r.GetSQE().PrepShutdown(cl, unix.SHUT_WR, 5)
	require.Zero(t, reapN(t, r, 1)[0].Res)
	r.GetSQE().PrepRecv(srv, in[:64], 0, 6)
	require.Zero(t, reapN(t, r, 1)[0].Res, "EOF after the peer's shutdown")

	r.GetSQE().PrepClose(srv, 7)
	r.GetSQE().PrepClose(cl, 8)
	got = byUserData(t, reapN(t, r, 2))
	require.Zero(t, got[7].Res)
	require.Zero(t, got[8].Res)
}

func TestCQOverflow(t *testing.T) {
	r := newTestRing(t, ringParams{Entries: 4, CQEntries: 8})
	require.NotZero(t, r.Features()&featNoDrop)
	const total = 40
	for sent := 0; sent < total; {
		if e := r.GetSQE(); e != nil {
			sent++
			e.PrepNop(uint64(sent))
			continue
		}
		_, err := r.Submit(0, false)
		require.NoError(t, err)
	}
	_, err := r.Submit(0, false)
	require.NoError(t, err)
	require.Zero(t, r.Pending())
	require.EqualValues(t, 8, r.CQReady(), "the CQ is full")
	require.True(t, r.NeedsEnter())
	require.True(t, r.Overflowed())

	// With IORING_FEAT_NODROP the kernel kept what did not fit. Submit,
	// with nothing to submit and getEvents unset, still enters with
	// GETEVENTS because NeedsEnter says so, and the kernel flushes.
	seen := make(map[uint64]int)
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < total {
		require.True(t, time.Now().Before(deadline), "reaped %d of %d", len(seen), total)
		r.Reap(func(c *cqe) {
			require.Zero(t, c.Res)
			seen[c.UserData]++
		})
		_, err := r.Submit(0, false)
		require.NoError(t, err)
	}
	require.Zero(t, r.Reap(func(*cqe) {}))
	for ud := uint64(1); ud <= total; ud++ {
		require.Equal(t, 1, seen[ud], "CQEs for user data %d", ud)
	}
	require.False(t, r.NeedsEnter())
	require.False(t, r.Overflowed())
	require.Zero(t, r.cqOverflow.Load(), "nothing dropped")
}
