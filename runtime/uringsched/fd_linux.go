package uringsched

import (
	"io"
	"sync/atomic"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// maxRW caps one request, as internal/poll caps one read or write.
const maxRW = 1 << 30

// fd is one socket served by the ring. The shared core does everything
// but waiting, reading and writing; see recv_linux.go for the receive side.
type fd struct {
	unetrt.FDCore
	s *Scheduler

	// inflight counts the requests the kernel holds for this fd; the
	// descriptor is closed only once it is zero.
	inflight atomic.Int32

	recvQueue // guarded by its own mutex; see recv_linux.go

	recvMulti op
	send      op
	recv      *op // created on first use, like those below
	accept    *op
	pollIn    *op
	pollOut   *op
}

var (
	_ unetrt.FD    = (*fd)(nil)
	_ unetrt.FDOps = (*fd)(nil)
)

// NewFD implements runtime.Scheduler.
func (s *Scheduler) NewFD(sysfd int) (unetrt.FD, error) {
	if len(s.shards) > 1 {
		s = s.shards[sysfd%len(s.shards)]
	}
	f := &fd{s: s}
	f.Init(sysfd, s.counters, s.expiryFn, f)
	f.qstop.L = &f.qmu
	// A Unix socket closed with unread data makes its peer's reads fail
	// with ECONNRESET, which no socket option can produce once a receive
	// has taken that data out of the kernel's queue; and a read stops at
	// every message that carried descriptors. So Unix sockets receive
	// into the caller's slice, with no read-ahead.
	if domain, err := unix.GetsockoptInt(sysfd, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && domain == unix.AF_UNIX {
		f.state = recvOneShot
	}
	f.CountSyscalls(1)
	f.recvMulti = op{fd: f, kind: kindRecvMulti}
	f.send = op{fd: f, kind: kindSend}
	s.table.register(&f.recvMulti)
	s.table.register(&f.send)
	return f, nil
}

// newOp creates and registers an op of a kind used less often.
func (f *fd) newOp(p **op, kind opKind) *op {
	if *p == nil {
		o := &op{fd: f, kind: kind}
		if kind == kindAccept {
			o.sa = new(unix.RawSockaddrAny)
		}
		f.s.table.register(o)
		*p = o
	}
	return *p
}

// waiterOf is the waiter that an op's completion wakes.
func (f *fd) waiterOf(k opKind) *unetrt.Waiter {
	switch k {
	case kindSend, kindPollOut:
		return &f.WR
	}
	return &f.RD
}

// submit queues o's request, prepared by prep, and makes sure it reaches
// the kernel.
func (f *fd) submit(o *op, prep func(e *sqe, ud uint64)) {
	o.start()
	f.inflight.Add(1)
	f.s.queue(func(e *sqe) { prep(e, o.userData()) })
	f.s.kick()
}

// await waits for o's completion. If the deadline passes or the fd closes
// first, it cancels the request and still waits for its completion, so
// that the kernel has let go of the caller's buffer when await returns;
// the result then comes with that error.
func (f *fd) await(o *op, w *unetrt.Waiter) (int32, error) {
	for {
		if res, ok := o.done(); ok {
			o.buf = nil
			return res, nil
		}
		if err := f.Park(w); err != nil {
			f.s.cancel(o)
			for {
				if res, ok := o.done(); ok {
					o.buf = nil
					return res, err
				}
				w.Park()
			}
		}
	}
}

// Write implements runtime.FD.
func (f *fd) Write(p []byte) (int, error) {
	if err := f.Lock.WriteLock(); err != nil {
		return 0, err
	}
	defer f.Lock.WriteUnlock()
	if len(p) == 0 {
		f.CountWrite(0)
		return 0, f.WriteZero()
	}
	n, err := f.write(p)
	f.CountWrite(n)
	return n, err
}

func (f *fd) write(p []byte) (int, error) {
	var n int
	for {
		if err := f.WR.Err(); err != nil {
			return n, err
		}
		if n == len(p) {
			return n, nil
		}
		chunk := p[n:min(len(p), n+maxRW)]
		var res int32
		var err error
		if f.s.cfg.directSend {
			res = f.sendDirect(chunk)
		} else {
			f.send.buf = chunk
			f.submit(&f.send, func(e *sqe, ud uint64) {
				e.PrepSend(int32(f.Sysfd), chunk, unix.MSG_NOSIGNAL, ud)
			})
			res, err = f.await(&f.send, &f.WR)
		}
		if res > 0 {
			n += int(res)
		}
		switch {
		case err != nil:
			return n, err
		case res == -int32(unix.EAGAIN):
			if err := f.WaitReady(unetrt.ModeWrite); err != nil {
				return n, err
			}
		case res < 0:
			return n, f.WriteError(unix.Errno(-res))
		case res == 0:
			return n, io.ErrUnexpectedEOF
		}
	}
}

// sendDirect writes with one non-blocking write(2), as std does, and
// returns what a send completion would: bytes sent or -errno. It spares
// the park and wake-up of a send through the ring, for a system call. (A
// broken pipe raises no SIGPIPE that matters: Go ignores it on any
// descriptor but stdout and stderr, which is why std writes too.)
func (f *fd) sendDirect(p []byte) int32 {
	for {
		n, err := unix.Write(f.Sysfd, p)
		f.CountSyscalls(1)
		switch {
		case err == nil:
			return int32(n)
		case err != unix.EINTR:
			return -int32(err.(unix.Errno))
		}
	}
}

// Accept implements runtime.FD.
func (f *fd) Accept() (int, unix.Sockaddr, error) {
	if err := f.Lock.ReadLock(); err != nil {
		return -1, nil, err
	}
	defer f.Lock.ReadUnlock()
	o := f.newOp(&f.accept, kindAccept)
	for {
		if err := f.RD.Err(); err != nil {
			return -1, nil, err
		}
		// Take what the backlog holds with accept4(2) first, as std
		// does, and go through the ring only when it is empty. A ring
		// accept costs a round of the loop per conn, and under load a
		// round is a turn of every goroutine it woke: at 4096 conns the
		// backlog drained at 9 conns a second and new conns waited for
		// seconds (issue 13, TestAcceptDrainsBacklogUnderLoad).
		if ns, sa, err := f.AcceptQueued(); err != unix.EAGAIN {
			return ns, sa, err
		}
		// The kernel writes only the address's length; clearing the rest
		// keeps an earlier peer's path out of an unnamed peer's address.
		*o.sa = unix.RawSockaddrAny{}
		o.salen = unix.SizeofSockaddrAny
		f.submit(o, func(e *sqe, ud uint64) {
			e.PrepAccept(int32(f.Sysfd), o.sa, &o.salen, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ud)
		})
		res, err := f.await(o, &f.RD)
		if res >= 0 {
			// Even if a deadline or Close raced with it, the
			// connection was accepted: hand it out rather than leak it.
			f.Counters().Accepts.Add(1)
			return int(res), sockaddrFromRaw(o.sa, o.salen), nil
		}
		if err != nil {
			return -1, nil, err
		}
		switch errno := unix.Errno(-res); errno {
		case unix.ECONNABORTED, unix.EINTR:
			continue // the peer gave up before we accepted: wait for the next
		case unix.EAGAIN:
			if err := f.WaitReady(unetrt.ModeRead); err != nil {
				return -1, nil, err
			}
		default:
			return -1, nil, errno
		}
	}
}

// ForgetReady implements runtime.FDOps: nothing to forget, since each
// wait is a one-shot poll request that the kernel answers from the
// socket's state when it arms it.
func (f *fd) ForgetReady(unetrt.Mode) {}

// AssumeReady implements runtime.FDOps: nothing is remembered.
func (f *fd) AssumeReady(unetrt.Mode) {}

// WaitReady implements runtime.FDOps with a one-shot poll request.
func (f *fd) WaitReady(mode unetrt.Mode) error {
	o, events := f.newOp(&f.pollIn, kindPollIn), uint32(unix.POLLIN)
	if mode == unetrt.ModeWrite {
		o, events = f.newOp(&f.pollOut, kindPollOut), unix.POLLOUT
	}
	w := f.waiterOf(o.kind)
	if err := w.Err(); err != nil {
		return err
	}
	f.submit(o, func(e *sqe, ud uint64) { e.PrepPollAdd(int32(f.Sysfd), events, ud) })
	res, err := f.await(o, w)
	switch {
	case res >= 0:
		return nil
	case err != nil:
		return err
	}
	return unix.Errno(-res)
}

// Release implements runtime.FDOps. It runs when the last reference is
// gone after Close: it cancels what the kernel still holds (the multishot
// receive), waits until every request has completed, and frees the op
// slots; the core then closes the descriptor, so that its number cannot
// be reused while a request could still name it.
func (f *fd) Release() {
	if f.inflight.Load() > 0 {
		f.s.cancelFd(f.Sysfd)
		for f.inflight.Load() > 0 {
			f.s.reap()
			f.RD.Park()
		}
	}
	if f.releaseQueued() {
		// Data the reader never took is gone: tell the peer with a
		// reset, as the kernel does when a socket closes with unread
		// data. The multishot receive had taken it from the kernel's
		// queue, so without this the peer would see a clean FIN. A
		// socket handed off never gets here with data queued: the
		// duplicate's owner decides what the peer sees.
		_ = unix.SetsockoptLinger(f.Sysfd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
		f.CountSyscalls(1)
	}
	for _, o := range []*op{&f.recvMulti, &f.send, f.recv, f.accept, f.pollIn, f.pollOut} {
		if o != nil {
			f.s.table.unregister(o)
		}
	}
}
