package epollsched

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// Scheduler is the epoll backend: one epoll instance, the goroutine that
// harvests its events and the table that maps their keys back to
// descriptors. Obtain it from Default; the zero Scheduler is not usable.
type Scheduler struct {
	epfd     int
	ep       *os.File // epfd as Go's netpoller watches it; see poller_linux.go
	table    table
	gen      atomic.Uint32 // the last generation handed out
	counters runtime.Counters
	onExpire func()                     // shared by every Waiter, so that NewFD builds no closure
	events   [maxEvents]unix.EpollEvent // the poller's harvest buffer; only it touches it
}

var _ runtime.Scheduler = (*Scheduler)(nil)

// defaultScheduler is the process-wide scheduler once one start succeeded.
var defaultScheduler runtime.Lazy[*Scheduler]

// Default returns the process-wide epoll scheduler, starting it on first
// use. A failure to start is returned to every caller, and the next call
// tries again, so that a passing shortage (EMFILE) does not disable the
// backend for good.
func Default() (*Scheduler, error) { return defaultScheduler.Get(start) }

// Running returns the process-wide scheduler if it has started, without
// starting it.
func Running() (*Scheduler, bool) { return defaultScheduler.Peek() }

// start creates the epoll instance and its poller goroutine.
func start() (*Scheduler, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epollsched: %w", os.NewSyscallError("epoll_create1", err))
	}
	// os.NewFile hands a descriptor to Go's netpoller only if it is
	// non-blocking; epoll_wait itself ignores the flag.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epollsched: %w", os.NewSyscallError("fcntl", err))
	}
	ep := os.NewFile(uintptr(epfd), "epollsched")
	// Only a file registered with the netpoller takes a deadline: without
	// the registration the poller could not wait for our events.
	if err := ep.SetReadDeadline(time.Time{}); err != nil {
		ep.Close()
		return nil, fmt.Errorf("epollsched: Go's netpoller cannot watch an epoll descriptor: %w", err)
	}
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("epollsched: %w", err)
	}
	s := &Scheduler{epfd: epfd, ep: ep}
	s.onExpire = func() { s.counters.DeadlineExpiries.Add(1) }
	go s.poll(rc)
	return s, nil
}

// Name implements runtime.Scheduler.
func (s *Scheduler) Name() string { return "epoll" }

// Counters implements runtime.Scheduler. IOSyscalls counts every system
// call made on a socket, setup and teardown included, so that
// Snapshot.Syscalls is the whole cost.
func (s *Scheduler) Counters() *runtime.Counters { return &s.counters }

// NewFD implements runtime.Scheduler: it registers sysfd with the epoll
// instance, once and for both directions.
func (s *Scheduler) NewFD(sysfd int) (runtime.FD, error) {
	f, err := s.newFD(sysfd)
	if err != nil {
		unix.Close(sysfd)
		return nil, err
	}
	return f, nil
}

func (s *Scheduler) newFD(sysfd int) (*fd, error) {
	if sysfd < 0 || sysfd > math.MaxInt32 {
		return nil, unix.EBADF
	}
	// The type decides what a short or empty read means; see fd.stream.
	typ, err := unix.GetsockoptInt(sysfd, unix.SOL_SOCKET, unix.SO_TYPE)
	s.counters.IOSyscalls.Add(1)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	domain, err := unix.GetsockoptInt(sysfd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	s.counters.IOSyscalls.Add(1)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt", err)
	}
	f := &fd{s: s, gen: s.gen.Add(1), stream: typ == unix.SOCK_STREAM}
	f.Init(sysfd, &s.counters, s.onExpire, f)
	// Nothing is known yet, so the first operation tries its system call.
	f.readReady.Store(true)
	f.writeReady.Store(true)
	f.shortReadDrains.Store(f.stream && domain != unix.AF_UNIX)

	// The slot is filled before the registration so that the first event
	// finds it.
	s.table.store(sysfd, f)
	slot, gen := f.key()
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLPRI | unix.EPOLLET,
		Fd:     slot,
		Pad:    gen,
	}
	err = unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, sysfd, &ev)
	s.counters.IOSyscalls.Add(1)
	if err != nil {
		s.table.remove(sysfd, f)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return f, nil
}
