package epollsched

import (
	"sync/atomic"
	"time"

	"github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// An fd is one socket registered with a Scheduler's epoll instance.
type fd struct {
	lock  runtime.FDLock
	s     *Scheduler
	sysfd int
	gen   uint32 // the generation in this fd's epoll key

	// stream is a SOCK_STREAM socket: a read of zero bytes is EOF, and one
	// read or write is capped at maxRW.
	stream bool

	// readReady and writeReady say that a direction may make progress. The
	// poller sets them on every edge; an operation clears its flag before
	// its system call. See rw_linux.go for why no edge is lost.
	readReady, writeReady atomic.Bool

	// shortReadDrains says that a read returning less than asked emptied
	// the receive queue, so that Read may wait for the next edge without
	// trying. It holds for stream sockets until the poller sees a hangup,
	// an error or urgent data, and then never again.
	shortReadDrains atomic.Bool

	rw, ww runtime.Waiter // the read and write directions

	closeErr error // close(2)'s result, set by destroy before Close returns
}

var _ runtime.FD = (*fd)(nil)

// key returns the halves of the fd's epoll data: its table slot and its
// generation. x/sys/unix splits the kernel's 64-bit data into Fd and Pad;
// the kernel hands it back untouched, so the split needs no unsafe.
func (f *fd) key() (slot, gen int32) { return int32(f.sysfd), int32(f.gen) }

// wait parks on w until an edge, the deadline or Close.
func (f *fd) wait(w *runtime.Waiter) error {
	c := &f.s.counters
	c.Parks.Add(1)
	if err := w.Wait(); err != nil {
		return err
	}
	c.Wakes.Add(1)
	return nil
}

// SetDeadline implements runtime.FD.
func (f *fd) SetDeadline(t time.Time, mode runtime.Mode) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	defer f.lock.Decref()
	if mode&runtime.ModeRead != 0 {
		f.rw.SetDeadline(t)
	}
	if mode&runtime.ModeWrite != 0 {
		f.ww.SetDeadline(t)
	}
	return nil
}

// Shutdown implements runtime.FD.
func (f *fd) Shutdown(how int) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	defer f.lock.Decref()
	f.s.counters.IOSyscalls.Add(1)
	return unix.Shutdown(f.sysfd, how)
}

// RawControl implements runtime.FD.
func (f *fd) RawControl(fn func(sysfd int)) error {
	if err := f.lock.Incref(); err != nil {
		return err
	}
	defer f.lock.Decref()
	fn(f.sysfd)
	return nil
}

// Close implements runtime.FD. It returns close(2)'s error, or
// net.ErrClosed if Close had begun already.
func (f *fd) Close() error {
	if err := f.lock.StartClose(); err != nil {
		return err
	}
	f.rw.Evict()
	f.ww.Evict()
	f.lock.FinishClose()
	return f.closeErr
}

// destroy releases the descriptor once the last operation has left; the
// FDLock calls it exactly once, after Close began.
func (f *fd) destroy() {
	// close(2) would drop the registration only if no other descriptor (a
	// dup, a child's copy) shared the open file, so delete it explicitly.
	_ = unix.EpollCtl(f.s.epfd, unix.EPOLL_CTL_DEL, f.sysfd, nil)
	// An event harvested before the delete may still be on its way to
	// dispatch. Emptying the slot before the number can be reused means it
	// finds nothing, or a newer fd of another generation.
	f.s.table.remove(f.sysfd, f)
	f.closeErr = unix.Close(f.sysfd)
	f.s.counters.IOSyscalls.Add(2)
}
