package uringsched

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// Scheduler is one io_uring shared by every descriptor it serves.
//
// Goroutines prepare requests in the submission queue under sqMu and park;
// one loop goroutine submits them in batches and reaps completions, waking
// the goroutines they belong to. The loop never blocks a thread: when it
// has nothing to do it waits for the ring's descriptor to become readable
// through Go's own netpoller, which polls it with the rest of the process's
// descriptors.
type Scheduler struct {
	ring     *ring
	bufs     *bufRing
	cfg      config
	counters *unetrt.Counters // shared by the shards
	table    opTable
	// shards are the rings that NewFD spreads descriptors over, this one
	// first; nil for one ring (UNET_URING_SHARDS).
	shards []*Scheduler

	// refused lists the setup features the kernel refused and that the
	// ring runs without, for the log (Refused).
	refused []string

	// mshotLimit says the kernel can limit a multishot receive's total
	// (IORING_RECV_MSHOT_LIM), found at start by probeRecv.
	mshotLimit bool

	// Lock order: sqMu, then cqMu (a full queue or EBUSY reaps), then an
	// fd's qmu (the dispatcher queues receives). Every lock is released by
	// defer wherever what it guards can panic, so that a panic a handler
	// recovers (net/http does) cannot leave the ring locked.
	sqMu        sync.Mutex   // guards the submission queue
	unsubmitted atomic.Int32 // SQEs prepared but not submitted, for the loop's idle check
	pool        bufPool      // how many of bufs circulate; see pool_linux.go
	cqMu        sync.Mutex   // one goroutine reaps at a time

	// cancels are the user_data of requests the dispatcher wants
	// cancelled: it runs under cqMu, maybe inside submitLocked, so it
	// cannot take sqMu; the next flush submits them.
	cancelMu       sync.Mutex
	cancels        []uint64
	pendingCancels atomic.Bool

	// loopActive is true while the loop is running or runnable and so
	// will submit what is queued; a goroutine that queues a request while
	// it is false submits it itself.
	loopActive atomic.Bool

	ringFile    *os.File           // a duplicate of the ring fd, registered with Go's netpoller
	ringConn    syscall.RawConn    // waits on ringFile
	dispatchFn  func(*cqe)         // s.dispatch, bound once so reaping allocates nothing
	roundFn     func(uintptr) bool // s.roundReady, bound once
	roundWaited bool               // the loop's alone; see roundReady
	expiryFn    func()             // counts deadline expiries, shared by every Waiter
	stopped     atomic.Bool
	loopDone    chan struct{}
}

// defaultScheduler is the process's scheduler once one start succeeded.
var defaultScheduler unetrt.Lazy[*Scheduler]

// startDefault reads the configuration and starts the rings.
func startDefault() (*Scheduler, error) {
	cfg, err := configFromEnv()
	if err != nil {
		return nil, err
	}
	return startShards(cfg)
}

// startShards starts cfg.shards rings that share their counters, and
// returns the first, which spreads new descriptors over all of them.
func startShards(cfg config) (*Scheduler, error) {
	counters := new(unetrt.Counters)
	var shards []*Scheduler
	for range max(cfg.shards, 1) {
		s, err := start(cfg, counters)
		if err != nil {
			for _, s := range shards {
				s.stop()
			}
			return nil, err
		}
		shards = append(shards, s)
	}
	if len(shards) > 1 {
		shards[0].shards = shards
	}
	return shards[0], nil
}

// Default returns the process's io_uring scheduler, starting it on first
// use. If io_uring is unavailable it returns the reason, and the next call
// tries again, as epollsched does: a shortage of descriptors or memory at
// the first conn must not disable the backend for good.
func Default() (*Scheduler, error) { return defaultScheduler.Get(startDefault) }

// Running returns the process's scheduler if it has started, without
// starting it.
func Running() (*Scheduler, bool) { return defaultScheduler.Peek() }

// Name implements runtime.Scheduler.
func (s *Scheduler) Name() string { return "uring" }

// Counters implements runtime.Scheduler.
func (s *Scheduler) Counters() *unetrt.Counters { return s.counters }

// start sets up a ring, checks that the kernel has everything unet needs,
// and starts the loop.
func start(cfg config, counters *unetrt.Counters) (*Scheduler, error) {
	if err := testHookSetup(); err != nil {
		return nil, explainSetupError(err)
	}
	r, refused, err := setupRing(cfg)
	if err != nil {
		return nil, explainSetupError(err)
	}
	s := &Scheduler{ring: r, cfg: cfg, counters: counters, loopDone: make(chan struct{}), refused: refused}
	if err := s.checkKernel(); err != nil {
		r.Close()
		return nil, err
	}
	if cfg.multishotRecv {
		if s.bufs, err = newBufRing(r, bufGroup, cfg.bufCount, cfg.bufSize, cfg.bufInitial); err != nil {
			r.Close()
			return nil, fmt.Errorf("provided buffer ring (Linux 5.19+): %w", err)
		}
		s.pool.init(s.bufs, int32(cfg.bufInitial), cfg.maxHeld)
		if err := s.probeRecv(); err != nil {
			s.closeRing()
			return nil, err
		}
	}
	if err := s.watchRing(); err != nil {
		s.closeRing()
		return nil, err
	}
	s.dispatchFn = s.dispatch
	s.roundFn = s.roundReady
	s.expiryFn = func() { s.counters.DeadlineExpiries.Add(1) }
	s.loopActive.Store(true)
	go s.loop()
	return s, nil
}

// bufGroup is the provided-buffer group of the one buffer ring.
const bufGroup = 0

// checkKernel refuses a kernel that lacks an opcode or feature unet uses.
func (s *Scheduler) checkKernel() error {
	if err := testHookProbe(); err != nil {
		return err
	}
	ops, err := probeOps(s.ring)
	if err != nil {
		return fmt.Errorf("probing opcodes (Linux 5.6+): %w", err)
	}
	need := []struct {
		op   uint8
		name string
	}{
		{opRecv, "RECV"}, {opSend, "SEND"}, {opAccept, "ACCEPT"}, {opConnect, "CONNECT"},
		{opPollAdd, "POLL_ADD"}, {opAsyncCancel, "ASYNC_CANCEL"},
	}
	for _, n := range need {
		if !ops[n.op] {
			return fmt.Errorf("kernel lacks IORING_OP_%s", n.name)
		}
	}
	const feats = featNoDrop | featFastPoll
	if s.ring.Features()&feats != feats {
		return errors.New("kernel lacks IORING_FEAT_NODROP or IORING_FEAT_FAST_POLL (Linux 5.7+)")
	}
	return nil
}

// watchRing registers a duplicate of the ring's fd with Go's netpoller.
// The duplicate keeps the ring's own fd out of os.File's hands, so the
// ring layer alone closes it.
func (s *Scheduler) watchRing() error {
	dup, err := unix.FcntlInt(uintptr(s.ring.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return os.NewSyscallError("fcntl", err)
	}
	s.ringFile = os.NewFile(uintptr(dup), "io_uring")
	if s.ringConn, err = s.ringFile.SyscallConn(); err != nil {
		s.ringFile.Close()
		return err
	}
	return nil
}

// loop submits queued requests and reaps completions. After a round that
// did work it yields, so that the goroutines it woke run and queue their
// next requests, which the following round submits in one io_uring_enter.
// Idle, it parks until the ring has completions or a goroutine queues work.
func (s *Scheduler) loop() {
	defer close(s.loopDone)
	for !s.stopped.Load() {
		if s.reap()+s.flush() > 0 {
			if s.bufs != nil {
				s.pool.watch(time.Now())
			}
			if s.cfg.roundByNetpoll {
				if !s.waitRound() {
					return
				}
				continue
			}
			goruntime.Gosched()
			continue
		}
		s.loopActive.Store(false)
		err := s.ringConn.Read(func(uintptr) bool { return s.hasWork() })
		s.loopActive.Store(true)
		if err != nil {
			return // the ring file was closed: the scheduler stopped
		}
	}
}

// roundBackstop bounds how long waitRound waits for the scheduler to poll
// the network: completions that are already in the CQ post no new edge.
const roundBackstop = 2 * time.Millisecond

// waitRound waits until Go's scheduler has run what is runnable and polls
// the network, or a new completion arrives while it polls, as std's
// netpoller hands out ready goroutines only then; at most roundBackstop.
// Meanwhile a goroutine that queues a request submits it itself. It
// reports false once the ring file is closed.
func (s *Scheduler) waitRound() bool {
	s.loopActive.Store(false)
	s.ringFile.SetReadDeadline(time.Now().Add(roundBackstop))
	s.roundWaited = false
	err := s.ringConn.Read(s.roundFn)
	s.ringFile.SetReadDeadline(time.Time{})
	s.loopActive.Store(true)
	return err == nil || errors.Is(err, os.ErrDeadlineExceeded)
}

// roundReady is waitRound's test of the ring: never ready before the
// first wait, then ready when hasWork says so. It is bound once as
// roundFn, so that a round allocates nothing.
func (s *Scheduler) roundReady(uintptr) bool {
	if !s.roundWaited {
		s.roundWaited = true
		return false
	}
	return s.hasWork()
}

// hasWork reports whether the loop must run: completions wait, requests
// are queued, or the kernel needs an io_uring_enter to flush overflow.
// The loop calls it after the netpoller's reset, so anything that arrives
// later wakes the netpoller.
//
// Pending task work (IORING_SQ_TASKRUN) is not work for the loop: with
// COOP_TASKRUN it belongs to the thread that submitted the request, and
// only that thread runs it, at its next entry to the kernel; the loop
// entering from another thread would run nothing and spin. Its completion
// makes the ring readable, which wakes the loop. A submission enters with
// GETEVENTS while the flag is set (NeedsEnter), which runs the submitting
// thread's own.
func (s *Scheduler) hasWork() bool {
	return s.stopped.Load() || s.ring.CQReady() > 0 || s.unsubmitted.Load() > 0 || s.ring.Overflowing() || s.pendingCancels.Load()
}

// kick makes sure queued requests reach the kernel: the loop submits them
// if it is active, else the caller does. The caller yields first, so that
// the other goroutines ready to run queue their requests too and one
// io_uring_enter carries them all; without the yield, a profile at 256
// conns showed one enter per Write whenever the loop had gone idle while
// goroutines it woke were still queued.
func (s *Scheduler) kick() {
	if s.loopActive.Load() {
		return
	}
	goruntime.Gosched()
	if !s.loopActive.Load() {
		if s.cfg.roundByNetpoll {
			s.submitQueued() // completions are the loop's to hand out
			return
		}
		s.flush()
	}
}

// getSQE returns a free SQE; sqMu is held. A full queue is submitted first.
func (s *Scheduler) getSQE() *sqe {
	for {
		if e := s.ring.GetSQE(); e != nil {
			s.unsubmitted.Add(1)
			s.counters.SQEs.Add(1)
			return e
		}
		s.submitLocked()
	}
}

// flush submits the queued requests, and the cancels the dispatcher
// asked for, and reaps what completed meanwhile; it returns the number of
// completions reaped.
func (s *Scheduler) flush() int {
	if !s.submitQueued() {
		return 0
	}
	return s.reap()
}

// submitQueued submits what is queued, if anything; it reports whether it
// entered the kernel.
func (s *Scheduler) submitQueued() bool {
	s.sqMu.Lock()
	defer s.sqMu.Unlock()
	if s.pendingCancels.Load() {
		s.prepCancelsLocked()
	}
	if s.ring.Pending() == 0 && !s.ring.NeedsEnter() {
		return false
	}
	s.submitLocked()
	return true
}

// prepCancelsLocked queues the cancels the dispatcher asked for; sqMu is
// held.
func (s *Scheduler) prepCancelsLocked() {
	s.cancelMu.Lock()
	uds := s.cancels
	s.cancels = nil
	s.pendingCancels.Store(false)
	s.cancelMu.Unlock()
	for _, ud := range uds {
		s.getSQE().PrepCancel(ud, 0, 0)
		s.counters.Cancels.Add(1)
	}
}

// cancelLater asks the next flush to cancel o's request. The dispatcher
// uses it: it may run inside submitLocked, where sqMu is held.
func (s *Scheduler) cancelLater(o *op) {
	s.cancelMu.Lock()
	s.cancels = append(s.cancels, o.userData())
	s.pendingCancels.Store(true)
	s.cancelMu.Unlock()
}

// submitLocked enters the kernel with every queued SQE; sqMu is held.
// With IORING_SETUP_SUBMIT_ALL the kernel takes them all unless it is out
// of resources (EAGAIN, EBUSY: completions must be reaped first).
func (s *Scheduler) submitLocked() {
	for {
		getEvents := s.ring.NeedsEnter()
		err := testHookEnter()
		if err == nil {
			_, err = s.ring.Submit(0, getEvents)
		}
		s.counters.Enters.Add(1)
		if err == nil {
			break
		}
		if err != unix.EAGAIN && err != unix.EBUSY && err != unix.EINTR {
			// Nothing else is expected from a well-formed batch; the
			// requests' own completions report per-request errors. The
			// callers hold sqMu by defer, so the panic leaves no lock
			// held: a handler's recovered panic does not hang the ring.
			panic(fmt.Sprintf("uringsched: io_uring_enter: %v", err))
		}
		s.reap()
	}
	s.unsubmitted.Store(int32(s.ring.Pending()))
}

// reap dispatches every completion in the queue and returns how many. If
// another goroutine is reaping, it leaves the work to it: completions that
// arrive after that goroutine's pass make the ring readable and wake the
// loop.
func (s *Scheduler) reap() int {
	if !s.cqMu.TryLock() {
		return 0
	}
	n := s.reapLocked()
	if n > 0 {
		s.counters.CQEs.Add(uint64(n))
		s.counters.Reaps.Add(1)
	}
	return n
}

// reapLocked dispatches the completions; cqMu is held and released even
// if a dispatch panics.
func (s *Scheduler) reapLocked() int {
	defer s.cqMu.Unlock()
	n := s.ring.Reap(s.dispatchFn)
	if s.ring.Overflowed() {
		s.counters.CQOverflows.Add(1)
	}
	return n
}

// dispatch handles one completion; cqMu is held.
func (s *Scheduler) dispatch(c *cqe) {
	if c.UserData == 0 {
		return // a cancel's own completion: its target completes on its own
	}
	o := s.table.lookup(c.UserData)
	if o == nil {
		return
	}
	f := o.fd
	more := c.Flags&cqeFMore != 0
	switch o.kind {
	case kindRecvMulti:
		f.onRecv(c.Res, c.Flags, more)
	default:
		o.complete(c.Res)
	}
	if !more && f.inflight.Add(-1) == 0 && f.Lock.Closing() {
		f.RD.Notify() // Release waits for the last completion
	}
	f.waiterOf(o.kind).Notify()
}

// cancel asks the kernel to end o's request early; o completes with
// -ECANCELED unless it completes first. The cancel's own completion is
// ignored (user_data 0).
func (s *Scheduler) cancel(o *op) {
	s.submitNow(func(e *sqe) { e.PrepCancel(o.userData(), 0, 0) })
	s.counters.Cancels.Add(1)
	s.reap()
}

// cancelFd cancels every request on sysfd before it is closed.
func (s *Scheduler) cancelFd(sysfd int) {
	s.submitNow(func(e *sqe) { e.PrepCancelFd(int32(sysfd), asyncCancelAll, 0) })
	s.counters.Cancels.Add(1)
	s.reap()
}

// queue prepares one request for the next submission.
func (s *Scheduler) queue(prep func(e *sqe)) {
	s.sqMu.Lock()
	defer s.sqMu.Unlock()
	prep(s.getSQE())
}

// submitNow prepares one request and enters the kernel with everything
// queued, without waiting for the loop.
func (s *Scheduler) submitNow(prep func(e *sqe)) {
	s.sqMu.Lock()
	defer s.sqMu.Unlock()
	prep(s.getSQE())
	s.submitLocked()
}

// recycle gives provided buffers back to the pool.
func (s *Scheduler) recycle(bids []uint16) { s.pool.give(bids) }

// stop ends the loop and releases the ring. Only tests stop a scheduler;
// the default one lives as long as the process.
func (s *Scheduler) stop() {
	if len(s.shards) > 1 {
		for _, sh := range s.shards[1:] {
			sh.stopRing()
		}
	}
	s.stopRing()
}

func (s *Scheduler) stopRing() {
	s.stopped.Store(true)
	s.ringFile.Close() // wakes the loop's netpoller wait
	<-s.loopDone
	s.closeRing()
}

func (s *Scheduler) closeRing() {
	if s.bufs != nil {
		s.bufs.Close()
	}
	if s.ringFile != nil {
		s.ringFile.Close()
	}
	s.ring.Close()
}
