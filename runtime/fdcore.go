//go:build unix

package runtime

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// FDCore is the per-descriptor logic that both schedulers share, so that
// it exists once: the reference-counting lock, the two waiters, deadlines,
// shutdown, raw control and raw I/O, duplication, the close sequence, the
// connect result check and the counters. A backend embeds an FDCore and
// adds only what is truly its own, through FDOps and its own Read, Write,
// Accept and Connect: how it waits, reads and writes.
//
// As in internal/poll, every method first takes a reference (Close then
// waits for it), raw I/O and Read/Accept hold the read lock, raw writes,
// Write and Connect the write lock, and a deadline already past fails an
// operation before it touches the socket.
type FDCore struct {
	Sysfd int
	Lock  FDLock
	// RD and WR park the goroutine waiting in each direction: Read,
	// Accept and RawRead on RD; Write, Connect and RawWrite on WR.
	RD, WR Waiter

	counters *Counters
	ops      FDOps
	closeErr error // close(2)'s result, set by destroy before Close returns
}

// FDOps is what a backend adds to an FDCore for one descriptor.
type FDOps interface {
	// ForgetReady drops any readiness of mode seen so far, so that a
	// WaitReady after it waits for readiness that comes later. Raw I/O
	// calls it before each attempt, as the runtime's pollReset does.
	ForgetReady(mode Mode)
	// WaitReady parks until mode may make progress, its deadline passes
	// or Close begins, and returns the waiter's error.
	WaitReady(mode Mode) error
	// AssumeReady says that mode may have progress to make: raw code
	// may have stopped with data or room left.
	AssumeReady(mode Mode)
	// HandOff stops whatever the backend does with the socket on its
	// own (uring's read-ahead) before raw code or a duplicate uses it,
	// so that they see the stream as package net would. It fails with
	// ErrUnreadData if that is impossible: bytes already taken from the
	// socket that no Read has returned yet; and with a socket error
	// (a reset) that it took from the kernel, which reports it once.
	HandOff() error
	// TakeError reports, once, a socket error (a reset) that the
	// backend's own receive took from the kernel and no call has
	// reported yet, and leaves the stream's end for reads after it. The
	// kernel gives such an error to the first call that asks, read or
	// write; a write that asks before any Read must have it, as it
	// would on a net conn.
	TakeError() error
	// Release lets go of everything the backend holds for the
	// descriptor once no operation uses it; the core then closes it.
	Release()
}

// Init prepares the core for sysfd. onExpire counts a deadline expiry and
// may cancel what the kernel holds; counters are the scheduler's.
func (c *FDCore) Init(sysfd int, counters *Counters, onExpire func(), ops FDOps) {
	c.Sysfd = sysfd
	c.counters = counters
	c.ops = ops
	c.Lock.Init(c.destroy)
	c.RD.Init(onExpire)
	c.WR.Init(onExpire)
}

// Counters are the counters of the scheduler that serves the descriptor.
func (c *FDCore) Counters() *Counters { return c.counters }

// Park waits on w and counts the park and, when the scheduler woke it,
// the wake.
func (c *FDCore) Park(w *Waiter) error {
	c.counters.Parks.Add(1)
	if err := w.Wait(); err != nil {
		return err
	}
	c.counters.Wakes.Add(1)
	return nil
}

// CountRead counts one Read call that returned n bytes.
func (c *FDCore) CountRead(n int) {
	c.counters.Reads.Add(1)
	if n > 0 {
		c.counters.BytesRead.Add(uint64(n))
	}
}

// CountWrite counts one Write call that wrote n bytes.
func (c *FDCore) CountWrite(n int) {
	c.counters.Writes.Add(1)
	if n > 0 {
		c.counters.BytesWritten.Add(uint64(n))
	}
}

// CountSyscalls counts n system calls made on the socket directly.
func (c *FDCore) CountSyscalls(n int) { c.counters.IOSyscalls.Add(uint64(n)) }

// WaiterOf returns the waiter of one direction.
func (c *FDCore) WaiterOf(mode Mode) *Waiter {
	if mode == ModeWrite {
		return &c.WR
	}
	return &c.RD
}

// SetDeadline implements FD.
func (c *FDCore) SetDeadline(t time.Time, mode Mode) error {
	if err := c.Lock.Incref(); err != nil {
		return err
	}
	defer c.Lock.Decref()
	if mode&ModeRead != 0 {
		c.RD.SetDeadline(t)
	}
	if mode&ModeWrite != 0 {
		c.WR.SetDeadline(t)
	}
	return nil
}

// Shutdown implements FD.
func (c *FDCore) Shutdown(how int) error {
	if err := c.Lock.Incref(); err != nil {
		return err
	}
	defer c.Lock.Decref()
	return c.ignoringEINTR(func() error { return unix.Shutdown(c.Sysfd, how) })
}

// RawControl implements FD.
func (c *FDCore) RawControl(fn func(sysfd int)) error {
	if err := c.Lock.Incref(); err != nil {
		return err
	}
	defer c.Lock.Decref()
	c.CountSyscalls(1)
	fn(c.Sysfd)
	return nil
}

// RawRead implements FD. The read lock keeps Read out meanwhile, and the
// backend hands the socket off first, so fn sees the stream as it would
// on a net conn.
func (c *FDCore) RawRead(fn func(sysfd int) bool) error {
	if err := c.Lock.ReadLock(); err != nil {
		return err
	}
	defer c.Lock.ReadUnlock()
	if err := c.RD.Err(); err != nil {
		return err
	}
	if err := c.ops.HandOff(); err != nil {
		return err
	}
	return c.raw(ModeRead, fn)
}

// RawWrite implements FD.
func (c *FDCore) RawWrite(fn func(sysfd int) bool) error {
	if err := c.Lock.WriteLock(); err != nil {
		return err
	}
	defer c.Lock.WriteUnlock()
	// A reset the backend took would have failed fn's write on a net
	// conn; fn cannot be given it, so the call reports it.
	if err := c.ops.TakeError(); err != nil {
		return err
	}
	return c.raw(ModeWrite, fn)
}

// raw calls fn until it returns true, waiting for readiness in between. As
// internal/poll's RawRead and RawWrite, it checks the deadline before each
// call, so that a deadline already past fails before fn touches the socket.
//
// fn does not say whether it stopped on EAGAIN, so readiness cannot tell
// whether to wait. Instead each round forgets earlier readiness before
// calling fn: readiness that arrives after that wakes the wait, and
// readiness before it came before fn looked.
func (c *FDCore) raw(mode Mode, fn func(sysfd int) bool) error {
	w := c.WaiterOf(mode)
	// fn may stop with data or room left; the next Read or Write must
	// try the socket rather than wait for readiness that already came.
	defer c.ops.AssumeReady(mode)
	for {
		if err := w.Err(); err != nil {
			return err
		}
		c.ops.ForgetReady(mode)
		c.CountSyscalls(1)
		if fn(c.Sysfd) {
			return nil
		}
		if err := c.ops.WaitReady(mode); err != nil {
			return err
		}
	}
}

// Dup implements FD: the socket handed off, then duplicated close-on-exec.
// Like internal/poll's Dup it takes a reference only, not the read lock,
// so that it does not wait for a Read parked meanwhile.
func (c *FDCore) Dup() (int, error) {
	if err := c.Lock.Incref(); err != nil {
		return -1, err
	}
	defer c.Lock.Decref()
	// A socket error the backend took from the kernel cannot travel with
	// the duplicate; unread bytes must not be lost.
	if err := c.ops.HandOff(); errors.Is(err, ErrUnreadData) {
		return -1, err
	}
	c.CountSyscalls(1)
	return unix.FcntlInt(uintptr(c.Sysfd), unix.F_DUPFD_CLOEXEC, 0)
}

// WriteZero is Write of an empty slice, as internal/poll does it: one
// write(2) of nothing, which reports a shut-down or reset socket (EPIPE,
// ECONNRESET). The write lock is held.
func (c *FDCore) WriteZero() error {
	if err := c.WR.Err(); err != nil {
		return err
	}
	c.CountSyscalls(1)
	if _, err := unix.Write(c.Sysfd, nil); err != nil && err != unix.EAGAIN {
		return c.WriteError(err)
	}
	return nil
}

// WriteError is what a write that failed with err reports. After a reset
// the kernel fails writes with EPIPE once the reset itself was reported;
// if the backend's receive took it and no call reported it yet, this
// write is the first to ask and reports the reset, as on a net conn.
func (c *FDCore) WriteError(err error) error {
	if err == unix.EPIPE {
		if taken := c.ops.TakeError(); taken != nil {
			return taken
		}
	}
	return err
}

// Connect implements FD, as net's fd_unix.go connects: start the
// handshake, wait for writability and ask how it went, since calling
// connect(2) again does not reliably report the result. The write
// deadline bounds the wait.
func (c *FDCore) Connect(sa unix.Sockaddr) error {
	if err := c.Lock.WriteLock(); err != nil {
		return err
	}
	defer c.Lock.WriteUnlock()
	if err := c.WR.Err(); err != nil {
		return err
	}
	// Whatever happens, a later Write should try its system call.
	defer c.ops.AssumeReady(ModeWrite)
	// Forgotten first, so that only readiness after connect(2) counts.
	c.ops.ForgetReady(ModeWrite)
	err := unix.Connect(c.Sysfd, sa)
	c.CountSyscalls(1)
	pending, err := connectStarted(err)
	for pending {
		if err := c.ops.WaitReady(ModeWrite); err != nil {
			return err
		}
		c.ops.ForgetReady(ModeWrite)
		var done bool
		if done, err = c.connectResult(); done {
			break
		}
	}
	return err
}

// connectResult reports how a non-blocking connect went once the socket
// became writable, as net's fd_unix.go asks: SO_ERROR, and when that is
// clean, whether there is a peer, since a wake-up may come before the
// handshake is done. done false means wait for writability again.
func (c *FDCore) connectResult() (done bool, err error) {
	nerr, err := unix.GetsockoptInt(c.Sysfd, unix.SOL_SOCKET, unix.SO_ERROR)
	c.CountSyscalls(1)
	if err != nil {
		return true, err
	}
	switch err := unix.Errno(nerr); err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return false, nil
	case unix.EISCONN:
		return true, nil
	case 0:
		_, err := unix.Getpeername(c.Sysfd)
		c.CountSyscalls(1)
		return err == nil, nil
	default:
		return true, err
	}
}

// connectStarted classifies connect(2)'s immediate result as net does:
// pending means wait for writability, then ask connectResult. EAGAIN is
// an error, as in net: a Unix socket whose listener's backlog is full.
func connectStarted(err error) (pending bool, _ error) {
	switch err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return true, nil
	case nil, unix.EISCONN:
		return false, nil
	}
	return false, err
}

// Close implements FD. It returns close(2)'s error, or net.ErrClosed if
// Close had begun already.
func (c *FDCore) Close() error {
	if err := c.Lock.StartClose(); err != nil {
		return err
	}
	c.RD.Evict()
	c.WR.Evict()
	c.Lock.FinishClose()
	return c.closeErr
}

// destroy runs once, when the last reference is gone after Close: the
// backend lets go of the descriptor, and only then is it closed, so that
// its number cannot be reused while the backend could still name it.
func (c *FDCore) destroy() {
	c.ops.Release()
	c.CountSyscalls(1)
	c.closeErr = unix.Close(c.Sysfd)
}

func (c *FDCore) ignoringEINTR(fn func() error) error {
	for {
		c.CountSyscalls(1)
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// ErrUnreadData is the error of raw I/O and File on a conn whose backend
// already took bytes from the socket that no Read has returned yet: handing
// the descriptor over would show its new user a hole in the stream. Read
// them first.
var ErrUnreadData = errors.New("bytes received ahead are still unread: Read them before using the socket directly")
