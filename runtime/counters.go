package runtime

import "sync/atomic"

// Counters are a scheduler's statistics. Each is a plain atomic: they are
// updated where the work already touches shared state, so they add no
// contention of their own.
type Counters struct {
	Accepts      atomic.Uint64
	Reads        atomic.Uint64
	Writes       atomic.Uint64
	BytesRead    atomic.Uint64
	BytesWritten atomic.Uint64
	Parks        atomic.Uint64 // goroutines parked waiting for the kernel
	Wakes        atomic.Uint64 // goroutines woken by the scheduler

	Enters     atomic.Uint64 // io_uring_enter calls
	EpollWaits atomic.Uint64 // epoll_wait calls
	IOSyscalls atomic.Uint64 // read, write, accept, sendfile... made directly

	SQEs   atomic.Uint64 // submission queue entries submitted
	CQEs   atomic.Uint64 // completions reaped
	Reaps  atomic.Uint64 // wake-ups of the reaper that found completions
	Events atomic.Uint64 // readiness events delivered by epoll_wait

	Cancels           atomic.Uint64 // operations cancelled in the kernel
	DeadlineExpiries  atomic.Uint64
	CQOverflows       atomic.Uint64 // times the kernel reported a CQ overflow
	BufferExhaustions atomic.Uint64 // multishot receives stopped by an empty buffer ring
	Fallbacks         atomic.Uint64 // operations served by a slower path
}

// Snapshot is a copy of Counters at one moment.
type Snapshot struct {
	Accepts, Reads, Writes, BytesRead, BytesWritten uint64
	Parks, Wakes                                    uint64
	Enters, EpollWaits, IOSyscalls                  uint64
	SQEs, CQEs, Reaps, Events                       uint64
	Cancels, DeadlineExpiries, CQOverflows          uint64
	BufferExhaustions, Fallbacks                    uint64
}

// Snapshot copies the counters.
func (c *Counters) Snapshot() Snapshot {
	return Snapshot{
		Accepts: c.Accepts.Load(), Reads: c.Reads.Load(), Writes: c.Writes.Load(),
		BytesRead: c.BytesRead.Load(), BytesWritten: c.BytesWritten.Load(),
		Parks: c.Parks.Load(), Wakes: c.Wakes.Load(),
		Enters: c.Enters.Load(), EpollWaits: c.EpollWaits.Load(), IOSyscalls: c.IOSyscalls.Load(),
		SQEs: c.SQEs.Load(), CQEs: c.CQEs.Load(), Reaps: c.Reaps.Load(), Events: c.Events.Load(),
		Cancels: c.Cancels.Load(), DeadlineExpiries: c.DeadlineExpiries.Load(),
		CQOverflows: c.CQOverflows.Load(), BufferExhaustions: c.BufferExhaustions.Load(),
		Fallbacks: c.Fallbacks.Load(),
	}
}

// Syscalls is the number of system calls the scheduler made.
func (s Snapshot) Syscalls() uint64 { return s.Enters + s.EpollWaits + s.IOSyscalls }
