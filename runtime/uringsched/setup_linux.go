package uringsched

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// setupRing sets up the ring for cfg. Completions are delivered without
// interrupting anyone: with IORING_SETUP_COOP_TASKRUN the kernel queues
// the task work that posts a completion to the thread that submitted the
// request without an inter-processor interrupt; that thread runs it at
// its next entry to or exit from the kernel, and if it sleeps (a futex,
// epoll_wait), the kernel wakes it to (TWA_SIGNAL_NO_IPI still wakes an
// interruptible sleeper). A Go thread is never long without either: one
// that runs user code is preempted by sysmon's signal within about 10 ms,
// and a thread that exits runs or cancels its task work on the way out.
// Without COOP_TASKRUN every completion for a running thread costs an
// interrupt, a VM exit on a virtual machine: 0.8 per request at 16 conns
// in BENCHMARKS.md, against std's 0.1. TASKRUN_FLAG lets a submitter see
// pending task work and enter with GETEVENTS (ring.NeedsEnter).
//
// A kernel that refuses the flags (before 5.19) gets today's setup; what
// it refused is returned for the log.
func setupRing(cfg config) (r *ring, refused []string, err error) {
	p := ringParams{Entries: cfg.sqEntries, CQEntries: cfg.cqEntries}
	if cfg.coopTaskrun {
		p.Flags = setupCoopTaskrun | setupTaskrunFlag
		if err = testHookCoopTaskrun(); err == nil {
			if r, err = newRing(p); err == nil {
				return r, nil, nil
			}
		}
		if !errors.Is(err, unix.EINVAL) {
			return nil, nil, err
		}
		refused = append(refused, fmt.Sprintf("IORING_SETUP_COOP_TASKRUN (Linux 5.19): %v; each completion may interrupt its thread", err))
		p.Flags = 0
	}
	r, err = newRing(p)
	return r, refused, err
}

// Refused lists the io_uring features the kernel refused and the ring
// runs without, each with what that costs; empty when it has all.
func (s *Scheduler) Refused() []string { return s.refused }

// coop reports whether completions are delivered without interrupts.
func (s *Scheduler) coop() bool { return s.ring.flags&setupCoopTaskrun != 0 }
