package uringsched

import (
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// maxRW caps one request, as internal/poll caps one read or write.
const maxRW = 1 << 30

// fd is one socket served by the ring.
type fd struct {
	s     *Scheduler
	sysfd int
	lock  unetrt.FDLock
	rd    unetrt.Waiter // Read, Accept, RawRead
	wr    unetrt.Waiter // Write, Connect, RawWrite

	// inflight counts the requests the kernel holds for this fd; the
	// descriptor is closed only once it is zero.
	inflight atomic.Int32

	recvQueue // guarded by its own mutex; see recv_linux.go

	recvMulti op
	send      op
	recv      *op // created on first use, like those below
	accept    *op
	connect   *op
	pollIn    *op
	pollOut   *op
}

// NewFD implements runtime.Scheduler.
func (s *Scheduler) NewFD(sysfd int) (unetrt.FD, error) {
	if len(s.shards) > 1 {
		s = s.shards[sysfd%len(s.shards)]
	}
	f := &fd{s: s, sysfd: sysfd}
	f.lock.Init(f.destroy)
	f.rd.Init(s.expiryFn)
	f.wr.Init(s.expiryFn)
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
		if kind == kindAccept || kind == kindConnect {
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
	case kindSend, kindConnect, kindPollOut:
		return &f.wr
	}
	return &f.rd
}

// submit queues o's request, prepared by prep, and makes sure it reaches
// the kernel.
func (f *fd) submit(o *op, prep func(e *sqe, ud uint64)) {
	o.start()
	f.inflight.Add(1)
	f.s.sqMu.Lock()
	prep(f.s.getSQE(), o.userData())
	f.s.sqMu.Unlock()
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
		f.s.counters.Parks.Add(1)
		if err := w.Wait(); err != nil {
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

// Read implements runtime.FD.
func (f *fd) Read(p []byte) (int, error) {
	if err := f.lock.ReadLock(); err != nil {
		return 0, err
	}
	defer f.lock.ReadUnlock()
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	for {
		if err := f.rd.Err(); err != nil {
			return 0, err
		}
		n, next, err := f.takeQueued(p)
		switch {
		case n > 0 || err != nil:
			f.s.counters.Reads.Add(1)
			f.s.counters.BytesRead.Add(uint64(n))
			return n, err
		case next == recvIntoCaller:
			return f.recvInto(p)
		case next == recvArm:
			f.armRecv()
		case next == recvCheckArm:
			f.checkAndArm()
		}
		f.s.counters.Parks.Add(1)
		if err := f.rd.Wait(); err != nil {
			return 0, err
		}
	}
}

// recvInto receives once, straight into p: the path when multishot
// receive is off or the provided buffers have run out.
func (f *fd) recvInto(p []byte) (int, error) {
	o := f.newOp(&f.recv, kindRecv)
	o.buf = p
	f.submit(o, func(e *sqe, ud uint64) {
		e.PrepRecv(int32(f.sysfd), unsafe.Pointer(&p[0]), uint32(len(p)), 0, ud)
	})
	res, err := f.await(o, &f.rd)
	f.s.counters.Reads.Add(1)
	switch {
	case res > 0:
		f.s.counters.BytesRead.Add(uint64(res))
		return int(res), nil
	case res == 0:
		return 0, io.EOF
	case err != nil:
		return 0, err
	}
	return 0, unix.Errno(-res)
}

// Write implements runtime.FD.
func (f *fd) Write(p []byte) (int, error) {
	if err := f.lock.WriteLock(); err != nil {
		return 0, err
	}
	defer f.lock.WriteUnlock()
	if len(p) == 0 {
		// As internal/poll: one write(2) of nothing, which reports a
		// shut-down or reset socket (EPIPE, ECONNRESET).
		if err := f.wr.Err(); err != nil {
			return 0, err
		}
		f.s.counters.IOSyscalls.Add(1)
		if _, err := unix.Write(f.sysfd, nil); err != nil && err != unix.EAGAIN {
			return 0, err
		}
		return 0, nil
	}
	var n int
	for {
		if err := f.wr.Err(); err != nil {
			return n, err
		}
		if n == len(p) {
			return n, nil
		}
		chunk := p[n:min(len(p), n+maxRW)]
		f.send.buf = chunk
		f.submit(&f.send, func(e *sqe, ud uint64) {
			e.PrepSend(int32(f.sysfd), unsafe.Pointer(&chunk[0]), uint32(len(chunk)), unix.MSG_NOSIGNAL, ud)
		})
		res, err := f.await(&f.send, &f.wr)
		f.s.counters.Writes.Add(1)
		if res > 0 {
			n += int(res)
			f.s.counters.BytesWritten.Add(uint64(res))
		}
		switch {
		case err != nil:
			return n, err
		case res == -int32(unix.EAGAIN):
			if err := f.waitPoll(kindPollOut); err != nil {
				return n, err
			}
		case res < 0:
			return n, unix.Errno(-res)
		case res == 0:
			return n, io.ErrUnexpectedEOF
		}
	}
}

// Accept implements runtime.FD.
func (f *fd) Accept() (int, unix.Sockaddr, error) {
	if err := f.lock.ReadLock(); err != nil {
		return -1, nil, err
	}
	defer f.lock.ReadUnlock()
	o := f.newOp(&f.accept, kindAccept)
	for {
		if err := f.rd.Err(); err != nil {
			return -1, nil, err
		}
		o.salen = uint32(unsafe.Sizeof(*o.sa))
		f.submit(o, func(e *sqe, ud uint64) {
			e.PrepAccept(int32(f.sysfd), unsafe.Pointer(o.sa), unsafe.Pointer(&o.salen), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ud)
		})
		res, err := f.await(o, &f.rd)
		if res >= 0 {
			// Even if a deadline or Close raced with it, the
			// connection was accepted: hand it out rather than leak it.
			f.s.counters.Accepts.Add(1)
			return int(res), sockaddrFromRaw(o.sa), nil
		}
		if err != nil {
			return -1, nil, err
		}
		switch errno := unix.Errno(-res); errno {
		case unix.ECONNABORTED, unix.EINTR:
			continue // the peer gave up before we accepted: wait for the next
		case unix.EAGAIN:
			if err := f.waitPoll(kindPollIn); err != nil {
				return -1, nil, err
			}
		default:
			return -1, nil, errno
		}
	}
}

// Connect implements runtime.FD.
func (f *fd) Connect(sa unix.Sockaddr) error {
	if err := f.lock.WriteLock(); err != nil {
		return err
	}
	defer f.lock.WriteUnlock()
	if err := f.wr.Err(); err != nil {
		return err
	}
	o := f.newOp(&f.connect, kindConnect)
	salen, err := sockaddrToRaw(sa, o.sa)
	if err != nil {
		return err
	}
	f.submit(o, func(e *sqe, ud uint64) {
		e.PrepConnect(int32(f.sysfd), unsafe.Pointer(o.sa), salen, ud)
	})
	res, err := f.await(o, &f.wr)
	if res == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	switch errno := unix.Errno(-res); errno {
	case unix.EINPROGRESS, unix.EALREADY, unix.EAGAIN, unix.EINTR:
		// The socket is non-blocking: wait for the handshake as
		// net's connect does, then ask how it went.
		for {
			if err := f.waitPoll(kindPollOut); err != nil {
				return err
			}
			soerr, err := unix.GetsockoptInt(f.sysfd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err != nil {
				return err
			}
			switch e := unix.Errno(soerr); e {
			case 0, unix.EISCONN:
				return nil
			case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
				continue
			default:
				return e
			}
		}
	case unix.EISCONN:
		return nil
	default:
		return errno
	}
}

// waitPoll waits with a one-shot poll request until the socket is
// readable (kindPollIn) or writable (kindPollOut).
func (f *fd) waitPoll(kind opKind) error {
	o, w, events := f.newOp(&f.pollIn, kind), &f.rd, uint32(unix.POLLIN)
	if kind == kindPollOut {
		o, w, events = f.newOp(&f.pollOut, kind), &f.wr, unix.POLLOUT
	}
	if err := w.Err(); err != nil {
		return err
	}
	f.submit(o, func(e *sqe, ud uint64) { e.PrepPollAdd(int32(f.sysfd), events, ud) })
	res, err := f.await(o, w)
	switch {
	case res >= 0:
		return nil
	case err != nil:
		return err
	}
	return unix.Errno(-res)
}

// SetDeadline implements runtime.FD.
func (f *fd) SetDeadline(t time.Time, mode unetrt.Mode) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	if mode&unetrt.ModeRead != 0 {
		f.rd.SetDeadline(t)
	}
	if mode&unetrt.ModeWrite != 0 {
		f.wr.SetDeadline(t)
	}
	f.lock.Decref()
	return nil
}

// Shutdown implements runtime.FD. It is a plain system call: it completes
// at once, and it is rare.
func (f *fd) Shutdown(how int) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	defer f.lock.Decref()
	return ignoringEINTR(func() error { return unix.Shutdown(f.sysfd, how) })
}

// Close implements runtime.FD.
func (f *fd) Close() error {
	if err := f.lock.StartClose(); err != nil {
		return err
	}
	f.rd.Evict()
	f.wr.Evict()
	f.lock.FinishClose()
	return nil
}

// destroy runs when the last reference is gone after Close: it cancels
// what the kernel still holds (the multishot receive), waits until every
// request has completed, and only then closes the descriptor, so that its
// number cannot be reused while a request could still name it.
func (f *fd) destroy() {
	if f.inflight.Load() > 0 {
		f.s.cancelFd(f.sysfd)
		for f.inflight.Load() > 0 {
			f.s.reap()
			f.rd.Park()
		}
	}
	if f.releaseQueued() {
		// Data the reader never took is gone: tell the peer with a
		// reset, as the kernel does when a socket closes with unread
		// data. The multishot receive had taken it from the kernel's
		// queue, so without this the peer would see a clean FIN.
		_ = unix.SetsockoptLinger(f.sysfd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
	}
	for _, o := range []*op{&f.recvMulti, &f.send, f.recv, f.accept, f.connect, f.pollIn, f.pollOut} {
		if o != nil {
			f.s.table.unregister(o)
		}
	}
	unix.Close(f.sysfd)
}

// RawControl implements runtime.FD.
func (f *fd) RawControl(fn func(int)) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	defer f.lock.Decref()
	fn(f.sysfd)
	return nil
}

// RawRead implements runtime.FD.
func (f *fd) RawRead(fn func(int) bool) error {
	if err := f.lock.ReadLock(); err != nil {
		return err
	}
	defer f.lock.ReadUnlock()
	for !fn(f.sysfd) {
		if err := f.waitPoll(kindPollIn); err != nil {
			return err
		}
	}
	return nil
}

// RawWrite implements runtime.FD.
func (f *fd) RawWrite(fn func(int) bool) error {
	if err := f.lock.WriteLock(); err != nil {
		return err
	}
	defer f.lock.WriteUnlock()
	for !fn(f.sysfd) {
		if err := f.waitPoll(kindPollOut); err != nil {
			return err
		}
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
