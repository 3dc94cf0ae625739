package uringsched

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"

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

	sqMu        sync.Mutex   // guards the submission queue
	unsubmitted atomic.Int32 // SQEs prepared but not submitted, for the loop's idle check
	bufMu       sync.Mutex   // guards recycling into the buffer ring
	freeBufs    atomic.Int32 // provided buffers the kernel can still fill
	cqMu        sync.Mutex   // one goroutine reaps at a time

	// loopActive is true while the loop is running or runnable and so
	// will submit what is queued; a goroutine that queues a request while
	// it is false submits it itself.
	loopActive atomic.Bool

	ringFile   *os.File        // a duplicate of the ring fd, registered with Go's netpoller
	ringConn   syscall.RawConn // waits on ringFile
	dispatchFn func(*cqe)      // s.dispatch, bound once so reaping allocates nothing
	expiryFn   func()          // counts deadline expiries, shared by every Waiter
	stopped    atomic.Bool
	loopDone   chan struct{}
}

var defaultScheduler = sync.OnceValues(func() (*Scheduler, error) {
	s, err := startShards(configFromEnv())
	if err == nil {
		running.Store(s)
	}
	return s, err
})

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
// use. If io_uring is unavailable it returns the reason, each call.
func Default() (*Scheduler, error) { return defaultScheduler() }

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
	r, err := newRing(ringParams{Entries: cfg.sqEntries, CQEntries: cfg.cqEntries})
	if err != nil {
		return nil, explainSetupError(err)
	}
	s := &Scheduler{ring: r, cfg: cfg, counters: counters, loopDone: make(chan struct{})}
	if err := s.checkKernel(); err != nil {
		r.Close()
		return nil, err
	}
	if cfg.multishotRecv {
		if s.bufs, err = newBufRing(r, bufGroup, cfg.bufCount, cfg.bufSize, cfg.bufInitial); err != nil {
			r.Close()
			return nil, fmt.Errorf("provided buffer ring (Linux 5.19+): %w", err)
		}
		s.freeBufs.Store(s.bufs.Given())
	}
	if err := s.watchRing(); err != nil {
		s.closeRing()
		return nil, err
	}
	s.dispatchFn = s.dispatch
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

// hasWork reports whether the loop must run: completions wait, requests
// are queued, or the kernel needs an io_uring_enter to flush overflow.
// The loop calls it after the netpoller's reset, so anything that arrives
// later wakes the netpoller.
func (s *Scheduler) hasWork() bool {
	return s.stopped.Load() || s.ring.CQReady() > 0 || s.unsubmitted.Load() > 0 || s.ring.NeedsEnter()
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

// flush submits the queued requests and reaps what completed meanwhile;
// it returns the number of completions reaped.
func (s *Scheduler) flush() int {
	s.sqMu.Lock()
	if s.ring.Pending() == 0 && !s.ring.NeedsEnter() {
		s.sqMu.Unlock()
		return 0
	}
	s.submitLocked()
	s.sqMu.Unlock()
	return s.reap()
}

// submitLocked enters the kernel with every queued SQE; sqMu is held.
// With IORING_SETUP_SUBMIT_ALL the kernel takes them all unless it is out
// of resources (EAGAIN, EBUSY: completions must be reaped first).
func (s *Scheduler) submitLocked() {
	for {
		getEvents := s.ring.NeedsEnter()
		_, err := s.ring.Submit(0, getEvents)
		s.counters.Enters.Add(1)
		if err == nil {
			break
		}
		if err != unix.EAGAIN && err != unix.EBUSY && err != unix.EINTR {
			// Nothing else is expected from a well-formed batch; the
			// requests' own completions report per-request errors.
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
	n := s.ring.Reap(s.dispatchFn)
	if s.ring.Overflowed() {
		s.counters.CQOverflows.Add(1)
	}
	s.cqMu.Unlock()
	if n > 0 {
		s.counters.CQEs.Add(uint64(n))
		s.counters.Reaps.Add(1)
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
	if !more && f.inflight.Add(-1) == 0 && f.lock.Closing() {
		f.rd.Notify() // destroy waits for the last completion
	}
	s.counters.Wakes.Add(1)
	f.waiterOf(o.kind).Notify()
}

// cancel asks the kernel to end o's request early; o completes with
// -ECANCELED unless it completes first. The cancel's own completion is
// ignored (user_data 0).
func (s *Scheduler) cancel(o *op) {
	s.sqMu.Lock()
	s.getSQE().PrepCancel(o.userData(), 0, 0)
	s.submitLocked()
	s.sqMu.Unlock()
	s.counters.Cancels.Add(1)
	s.reap()
}

// cancelAsync queues a cancel of o's request without waiting for the
// kernel; the dispatcher uses it while it holds cqMu.
func (s *Scheduler) cancelAsync(o *op) {
	s.sqMu.Lock()
	s.getSQE().PrepCancel(o.userData(), 0, 0)
	s.sqMu.Unlock()
	s.counters.Cancels.Add(1)
	s.kick()
}

// cancelFd cancels every request on sysfd before it is closed.
func (s *Scheduler) cancelFd(sysfd int) {
	s.sqMu.Lock()
	s.getSQE().PrepCancelFd(int32(sysfd), asyncCancelAll, 0)
	s.submitLocked()
	s.sqMu.Unlock()
	s.counters.Cancels.Add(1)
	s.reap()
}

// recycle gives provided buffers back to the kernel.
func (s *Scheduler) recycle(bids []uint16) {
	if len(bids) == 0 {
		return
	}
	s.bufMu.Lock()
	for _, bid := range bids {
		s.bufs.Recycle(bid)
	}
	s.bufs.Publish()
	s.bufMu.Unlock()
	s.freeBufs.Add(int32(len(bids)))
}

// growBufs doubles the buffers the kernel may fill, up to the ring's
// size, when the load has taken most of them.
func (s *Scheduler) growBufs() {
	if s.bufs.Given() == int32(s.bufs.Entries()) {
		return // all given: no lock per completion when the ring is short
	}
	s.bufMu.Lock()
	n := s.bufs.Grow(uint16(s.bufs.Given()))
	if n > 0 {
		s.bufs.Publish()
	}
	s.bufMu.Unlock()
	s.freeBufs.Add(int32(n))
}

// buffersLow reports whether fewer than a quarter of the buffers given to
// the kernel are free.
func (s *Scheduler) buffersLow() bool {
	return s.freeBufs.Load() < s.bufs.Given()/4
}

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
