package epollsched

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// maxEvents is how many events one epoll_wait harvests.
const maxEvents = 256

// poll is the poller goroutine. rc.Read calls drain and, each time drain
// returns false, parks in Go's netpoller until the epoll descriptor is
// readable again, so that no thread ever blocks in epoll_wait.
func (s *Scheduler) poll(rc syscall.RawConn) {
	var werr error
	err := rc.Read(func(uintptr) bool {
		werr = s.drain()
		return werr != nil
	})
	// Only a broken invariant gets here: the epoll descriptor is never
	// closed and the buffer is ours. Every socket would hang, so fail
	// loudly, as the runtime's netpoll does.
	panic("epollsched: poller stopped: epoll_wait: " + errString(werr) + ", read: " + errString(err))
}

// drain dispatches events until the ready list is empty, and reports only
// an epoll_wait failure.
//
// A harvest smaller than the buffer emptied the ready list, so drain stops
// without a last epoll_wait that would find nothing. No event is stranded:
// each one the kernel queues on our ready list also wakes whoever polls the
// epoll descriptor, here Go's netpoller, whose readiness stays latched until
// the park that follows, so an event queued after the harvest ends that
// park. The argument is the one of the fds' ready flags.
func (s *Scheduler) drain() error {
	for {
		n, err := unix.EpollWait(s.epfd, s.events[:], 0)
		s.counters.EpollWaits.Add(1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		s.counters.Events.Add(uint64(n))
		for i := range n {
			s.dispatch(&s.events[i])
		}
		if n < len(s.events) {
			return nil
		}
	}
}

// dispatch turns one event into ready flags and wake-ups.
func (s *Scheduler) dispatch(ev *unix.EpollEvent) {
	f := s.table.load(ev.Fd)
	if f == nil || f.gen != uint32(ev.Pad) {
		// The socket was closed after this event was harvested; its number
		// may already belong to another socket.
		return
	}
	e := ev.Events
	// These leave a state that the next read must report although no
	// further edge will come; see fd.shortReadDrains. Stored before the
	// flag, so that a reader that sees the flag sees this too.
	if e&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR|unix.EPOLLPRI) != 0 && f.shortReadDrains.Load() {
		f.shortReadDrains.Store(false)
	}
	// Only a flag that was false needs a wake-up. An operation parks only
	// after clearing the flag itself, and while it holds its direction's
	// lock nobody else sets the flag but the poller, which notifies on the
	// transition. This spares a channel operation for the EPOLLOUT that
	// rides along with nearly every input event.
	if e&(unix.EPOLLIN|unix.EPOLLPRI|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !f.readReady.Swap(true) {
		f.RD.Notify()
	}
	if e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !f.writeReady.Swap(true) {
		f.WR.Notify()
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
