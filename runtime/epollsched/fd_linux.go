package epollsched

import (
	"sync/atomic"

	"github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// An fd is one socket registered with a Scheduler's epoll instance. The
// shared core does everything but waiting, reading and writing.
type fd struct {
	runtime.FDCore
	s   *Scheduler
	gen uint32 // the generation in this fd's epoll key

	// stream is a SOCK_STREAM socket: a read of zero bytes is EOF, and one
	// read or write is capped at maxRW.
	stream bool

	// readReady and writeReady say that a direction may make progress. The
	// poller sets them on every edge; an operation clears its flag before
	// its system call. See rw_linux.go for why no edge is lost.
	readReady, writeReady atomic.Bool

	// shortReadDrains says that a read returning less than asked emptied
	// the receive queue, so that Read may wait for the next edge without
	// trying. It holds for TCP sockets until the poller sees a hangup, an
	// error or urgent data, and then never again. It never holds for Unix
	// sockets: the kernel ends a read at a message that carried
	// SCM_RIGHTS even with more data queued.
	shortReadDrains atomic.Bool
}

var (
	_ runtime.FD    = (*fd)(nil)
	_ runtime.FDOps = (*fd)(nil)
)

// key returns the halves of the fd's epoll data: its table slot and its
// generation. x/sys/unix splits the kernel's 64-bit data into Fd and Pad;
// the kernel hands it back untouched, so the split needs no unsafe.
func (f *fd) key() (slot, gen int32) { return int32(f.Sysfd), int32(f.gen) }

// ready is the flag of one direction.
func (f *fd) ready(mode runtime.Mode) *atomic.Bool {
	if mode == runtime.ModeWrite {
		return &f.writeReady
	}
	return &f.readReady
}

// ForgetReady implements runtime.FDOps: the latched notification first,
// then the flag, so that an edge whose flag store comes after the clear
// notifies after it and the next wait returns.
func (f *fd) ForgetReady(mode runtime.Mode) {
	f.WaiterOf(mode).Clear()
	f.ready(mode).Store(false)
}

// WaitReady implements runtime.FDOps: it parks until the next edge.
func (f *fd) WaitReady(mode runtime.Mode) error { return f.Park(f.WaiterOf(mode)) }

// AssumeReady implements runtime.FDOps.
func (f *fd) AssumeReady(mode runtime.Mode) { f.ready(mode).Store(true) }

// HandOff implements runtime.FDOps: epoll never takes data from the
// socket on its own.
func (f *fd) HandOff() error { return nil }

// TakeError implements runtime.FDOps: epoll takes no error from the
// kernel, which reports it to whichever call asks first.
func (f *fd) TakeError() error { return nil }

// Release implements runtime.FDOps.
func (f *fd) Release() {
	// close(2) would drop the registration only if no other descriptor (a
	// dup, a child's copy) shared the open file, so delete it explicitly.
	_ = unix.EpollCtl(f.s.epfd, unix.EPOLL_CTL_DEL, f.Sysfd, nil)
	f.CountSyscalls(1)
	// An event harvested before the delete may still be on its way to
	// dispatch. Emptying the slot before the number can be reused means it
	// finds nothing, or a newer fd of another generation.
	f.s.table.remove(f.Sysfd, f)
}
