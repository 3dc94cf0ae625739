//go:build linux

package uringsched

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ringParams says what ring newRing sets up.
type ringParams struct {
	Entries   uint32 // submission queue size; the kernel rounds it up to a power of two
	CQEntries uint32 // completion queue size; 0 means the kernel's default, twice Entries
	Flags     uint32 // extra IORING_SETUP_* flags
}

// unsupportedSetup are the setup flags this ring cannot drive: they
// change the entry sizes or the memory layout it maps, or (SQPOLL) hand
// submission to a kernel thread, which Submit does not wake.
const unsupportedSetup = setupSQPoll | setupSQE128 | setupCQE32 | setupCQEMixed |
	setupNoMmap | setupRegisteredFdOnly

// ring is one io_uring instance: its submission and completion queues,
// mapped from the kernel.
//
// The pointers below point into memory mapped from the ring fd, not into
// the Go heap: the garbage collector ignores them, and they stay valid
// until Close unmaps it. Fields the kernel updates concurrently are read
// and written with atomics, which give the acquire and release ordering
// the io_uring protocol requires.
//
// GetSQE, Submit and Pending share the submission side and must not run
// concurrently; Reap and Overflowed share the completion side, likewise.
// The two sides may run concurrently with each other. Fd, Features,
// CQReady and NeedsEnter only load and may be called at any time before
// Close.
type ring struct {
	fd       int
	features uint32
	flags    uint32 // the IORING_SETUP_* flags the ring was set up with

	// The mappings. With IORING_FEAT_SINGLE_MMAP sqRing holds both
	// rings and cqRing is nil.
	sqRing, cqRing, sqeMem []byte

	// Submission queue.
	sqHead    *atomic.Uint32 // advanced by the kernel as it consumes SQEs
	sqTail    *atomic.Uint32 // advanced by Submit to publish SQEs
	sqFlags   *atomic.Uint32 // IORING_SQ_*, set by the kernel
	sqMask    uint32
	sqEntries uint32
	sqes      []sqe
	sqeTail   uint32 // the next SQE GetSQE hands out; published to sqTail by Submit

	// Completion queue.
	cqHead       *atomic.Uint32 // advanced by Reap
	cqTail       *atomic.Uint32 // advanced by the kernel as it posts CQEs
	cqOverflow   *atomic.Uint32 // CQEs the kernel had to drop
	cqMask       uint32
	cqes         []cqe
	lastOverflow uint32 // cqOverflow when Overflowed last looked

	closed bool
}

// newRing sets up an io_uring and maps its queues.
//
// It always asks for IORING_SETUP_SUBMIT_ALL, so that one bad SQE does not
// stop the submission of those after it, and IORING_SETUP_CLAMP, so that
// a size above the kernel's limit is clamped rather than refused. It also
// asks for IORING_SETUP_NO_SQARRAY (Linux 6.6+), which spares the SQ
// index array, and sets up again without it if the kernel refuses.
func newRing(p ringParams) (*ring, error) {
	if p.Flags&unsupportedSetup != 0 {
		return nil, fmt.Errorf("uringsched: unsupported io_uring setup flags %#x", p.Flags&unsupportedSetup)
	}
	flags := p.Flags | setupSubmitAll | setupClamp
	if p.CQEntries != 0 {
		flags |= setupCQSize
	}
	var (
		params ioUringParams
		fd     int
		errno  unix.Errno
	)
	setup := func(flags uint32) {
		params = ioUringParams{Flags: flags, CQEntries: p.CQEntries}
		fd, errno = ioUringSetup(p.Entries, &params)
	}
	setup(flags | setupNoSQArray)
	if errno == unix.EINVAL && p.Flags&setupNoSQArray == 0 {
		setup(flags)
	}
	if errno != 0 {
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	r := &ring{fd: fd, features: params.Features, flags: params.Flags}
	if err := r.mmap(&params); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// mmap maps the rings and the SQE array and points r's fields into them.
func (r *ring) mmap(p *ioUringParams) error {
	sqSize := int(p.SQOff.Array) + int(p.SQEntries)*4
	cqSize := int(p.CQOff.Cqes) + int(p.CQEntries)*sizeofCQE
	if p.Features&featSingleMmap != 0 {
		// Both rings live in one region (struct io_rings): map it once,
		// large enough for either.
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqRing, err = mmapRing(r.fd, offSQRing, sqSize); err != nil {
		return err
	}
	cq := r.sqRing
	if p.Features&featSingleMmap == 0 {
		if r.cqRing, err = mmapRing(r.fd, offCQRing, cqSize); err != nil {
			return err
		}
		cq = r.cqRing
	}
	if r.sqeMem, err = mmapRing(r.fd, offSQEs, int(p.SQEntries)*sizeofSQE); err != nil {
		return err
	}

	r.sqHead = u32At(r.sqRing, p.SQOff.Head)
	r.sqTail = u32At(r.sqRing, p.SQOff.Tail)
	r.sqFlags = u32At(r.sqRing, p.SQOff.Flags)
	r.sqMask = u32At(r.sqRing, p.SQOff.RingMask).Load()
	r.sqEntries = p.SQEntries
	r.sqes = sliceAt[sqe](r.sqeMem, 0, p.SQEntries)
	r.sqeTail = r.sqTail.Load()

	r.cqHead = u32At(cq, p.CQOff.Head)
	r.cqTail = u32At(cq, p.CQOff.Tail)
	r.cqOverflow = u32At(cq, p.CQOff.Overflow)
	r.cqMask = u32At(cq, p.CQOff.RingMask).Load()
	r.cqes = sliceAt[cqe](cq, p.CQOff.Cqes, p.CQEntries)
	r.lastOverflow = r.cqOverflow.Load()

	if r.flags&setupNoSQArray == 0 {
		// The kernel takes SQ slot i from sqes[array[i]]. GetSQE hands
		// out SQEs in ring order, so the identity mapping, written once,
		// is all the array ever needs to hold.
		array := sliceAt[uint32](r.sqRing, p.SQOff.Array, p.SQEntries)
		for i := range array {
			array[i] = uint32(i)
		}
	}
	return nil
}

// mmapRing maps size bytes of the ring fd at the magic offset off. The
// pages are populated up front: the queues are touched on every operation.
func mmapRing(fd int, off int64, size int) ([]byte, error) {
	b, err := unix.Mmap(fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}

// Fd returns the ring's file descriptor.
func (r *ring) Fd() int { return r.fd }

// Features returns the IORING_FEAT_* flags the kernel reported at setup.
func (r *ring) Features() uint32 { return r.features }

// Close unmaps the queues and closes the ring fd, which makes the kernel
// cancel whatever requests are still in flight. Close is idempotent; no
// other method may be called after it.
func (r *ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, m := range [][]byte{r.sqeMem, r.cqRing, r.sqRing} {
		if m == nil {
			continue // never mapped: newRing failed, or a single mmap
		}
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, os.NewSyscallError("munmap", err))
		}
	}
	r.sqeMem, r.cqRing, r.sqRing, r.sqes, r.cqes = nil, nil, nil, nil, nil
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, os.NewSyscallError("close", err))
	}
	r.fd = -1
	return errors.Join(errs...)
}

// GetSQE returns the next free SQE, zeroed, or nil if every SQ slot holds
// an SQE that the kernel has not consumed yet, counting those gotten but
// not submitted. It is not safe for concurrent use: the caller serializes
// GetSQE, Pending and Submit.
func (r *ring) GetSQE() *sqe {
	// Acquire: once the kernel has moved head past a slot, it has read
	// that SQE and we may overwrite it.
	if r.sqeTail-r.sqHead.Load() >= r.sqEntries {
		return nil
	}
	e := &r.sqes[r.sqeTail&r.sqMask]
	*e = sqe{}
	r.sqeTail++
	return e
}

// Pending returns the number of SQEs gotten but not yet consumed by the
// kernel: those not submitted yet, and any that a failed Submit left.
func (r *ring) Pending() uint32 {
	return r.sqeTail - r.sqHead.Load()
}

// Overflowing reports whether the kernel holds completions in its
// overflow list (IORING_SQ_CQ_OVERFLOW) that an io_uring_enter with
// GETEVENTS flushes.
func (r *ring) Overflowing() bool { return r.sqFlags.Load()&sqCQOverflow != 0 }

// NeedsEnter reports whether the kernel waits for an io_uring_enter with
// IORING_ENTER_GETEVENTS: completions are held in its overflow list
// (IORING_SQ_CQ_OVERFLOW), or task work is pending (IORING_SQ_TASKRUN,
// only with IORING_SETUP_TASKRUN_FLAG).
func (r *ring) NeedsEnter() bool {
	return r.sqFlags.Load()&(sqCQOverflow|sqTaskrun) != 0
}

// Submit publishes the SQEs gotten since the last Submit and enters the
// kernel to consume them. It waits for minComplete completions; it passes
// IORING_ENTER_GETEVENTS when minComplete > 0, when getEvents is set, or
// when NeedsEnter says the kernel has overflowed completions or task work
// to flush. Without SQEs or GETEVENTS to pass it does not enter at all.
//
// It returns how many SQEs the kernel consumed: with
// IORING_SETUP_SUBMIT_ALL all of them, unless it fails. On failure it
// returns the bare errno, so callers can compare it: EAGAIN and EBUSY mean
// the kernel is short of resources, and the caller should reap completions
// and submit again; the unconsumed SQEs stay pending. EINTR is retried.
func (r *ring) Submit(minComplete uint32, getEvents bool) (int, error) {
	var flags uint32
	if getEvents || minComplete > 0 || r.NeedsEnter() {
		flags |= enterGetEvents
	}
	// Release: the kernel loads the tail with acquire, so it sees every
	// SQE written before this store.
	r.sqTail.Store(r.sqeTail)
	for {
		toSubmit := r.Pending()
		if toSubmit == 0 && flags == 0 {
			return 0, nil
		}
		n, errno := ioUringEnter(r.fd, toSubmit, minComplete, flags)
		switch errno {
		case 0:
			return n, nil
		case unix.EINTR:
			// Interrupted before anything was consumed (else the
			// kernel returns the count): Pending still holds them all.
			continue
		}
		return 0, errno
	}
}

// Reap calls fn for every CQE between the CQ head and tail, then returns
// the slots to the kernel by advancing the head once, and returns how many
// it saw. The *cqe is valid only until fn returns. fn must not call Reap.
// It is not safe for concurrent use with itself or Overflowed.
func (r *ring) Reap(fn func(c *cqe)) int {
	head := r.cqHead.Load()
	// Acquire: the kernel stores the tail with release after writing the
	// CQEs, so every CQE before it is complete.
	tail := r.cqTail.Load()
	for h := head; h != tail; h++ {
		fn(&r.cqes[h&r.cqMask])
	}
	if head != tail {
		// Release: the kernel may reuse the slots only after fn is
		// done with them.
		r.cqHead.Store(tail)
	}
	return int(tail - head)
}

// CQReady returns the number of CQEs waiting to be reaped.
func (r *ring) CQReady() uint32 {
	return r.cqTail.Load() - r.cqHead.Load()
}

// Overflowed reports whether the CQ has overflowed: the kernel holds
// completions that did not fit (IORING_SQ_CQ_OVERFLOW; with
// IORING_FEAT_NODROP they are kept and flushed by the next enter with
// GETEVENTS), or it dropped some since the last call, which it counts in
// the CQ overflow counter. Each move of the counter is reported once. Call
// it where Reap is called: it is not safe for concurrent use with either.
func (r *ring) Overflowed() bool {
	n := r.cqOverflow.Load()
	moved := n != r.lastOverflow
	r.lastOverflow = n
	return moved || r.sqFlags.Load()&sqCQOverflow != 0
}

// register calls io_uring_register with opcode and arg, the first of
// nrArgs values of the opcode's argument type, retrying on EINTR. The
// kernel may read and write arg during the call.
func register[T any](r *ring, opcode uint32, arg *T, nrArgs uint32) error {
	for {
		_, errno := ioUringRegister(r.fd, opcode, arg, nrArgs)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("io_uring_register", errno)
	}
}

// probeOps asks the kernel which opcodes it supports (Linux 5.6+). The
// result is indexed by opcode.
func probeOps(r *ring) (supported [64]bool, err error) {
	var p ioUringProbe // the kernel requires it zeroed
	if err := register(r, registerProbe, &p, uint32(len(p.Ops))); err != nil {
		return supported, err
	}
	for _, op := range p.Ops[:min(int(p.OpsLen), len(p.Ops))] {
		if op.Flags&probeOpSupported != 0 && int(op.Op) < len(supported) {
			supported[op.Op] = true
		}
	}
	return supported, nil
}

// The Prep methods fill an SQE as liburing's io_uring_prep_* functions do,
// overwriting all of it. Pointers become plain addresses in the SQE, which
// the garbage collector does not see: the caller keeps the memory they
// point to alive, and out of goroutine stacks, which move as they grow,
// for as long as the kernel may use it (noted on each method).

// prepRW sets the fields common to every request and clears the rest,
// like liburing's io_uring_prep_rw.
func (s *sqe) prepRW(op uint8, fd int32, addr uint64, n uint32, off uint64, userData uint64) {
	*s = sqe{Opcode: op, Fd: fd, Addr: addr, Len: n, Off: off, UserData: userData}
}

// PrepRecv prepares a recv(2) of up to len(buf) bytes into buf, which
// must stay valid until the completion.
func (s *sqe) PrepRecv(fd int32, buf []byte, msgFlags uint32, userData uint64) {
	s.prepRW(opRecv, fd, addrOf(buf), uint32(len(buf)), 0, userData)
	s.OpFlags = msgFlags
}

// PrepRecvMultishot prepares a multishot receive into buffers of the
// provided buffer group bufGroup: one CQE per chunk received, each with
// IORING_CQE_F_BUFFER and the buffer id, and IORING_CQE_F_MORE while the
// request stays armed. A non-zero length caps each chunk (Linux 6.15) and
// a non-zero limit ends the request once that many bytes arrived in all
// (IORING_RECV_MSHOT_LIM, in sqe->optlen, Linux 6.16); earlier kernels
// refuse either with EINVAL.
func (s *sqe) PrepRecvMultishot(fd int32, bufGroup uint16, length, limit uint32, userData uint64) {
	s.prepRW(opRecv, fd, 0, length, 0, userData)
	s.Ioprio = recvMultishot
	s.Flags = sqeBufferSelect
	s.BufIndex = bufGroup
	s.SpliceFdIn = int32(limit) // optlen
}

// PrepSend prepares a send(2) of buf, which must stay valid until the
// completion.
func (s *sqe) PrepSend(fd int32, buf []byte, msgFlags uint32, userData uint64) {
	s.prepRW(opSend, fd, addrOf(buf), uint32(len(buf)), 0, userData)
	s.OpFlags = msgFlags
}

// PrepAccept prepares an accept4(2). addr and addrLen (holding the size
// of addr) may be nil; if not, they must stay valid until the completion,
// as the kernel writes the peer's address then.
func (s *sqe) PrepAccept(fd int32, addr *unix.RawSockaddrAny, addrLen *uint32, acceptFlags uint32, userData uint64) {
	s.prepRW(opAccept, fd, ptrAddr(addr), 0, ptrAddr(addrLen), userData)
	s.OpFlags = acceptFlags
}

// PrepAcceptMultishot prepares a multishot accept: one CQE per accepted
// connection, with IORING_CQE_F_MORE while the request stays armed. Peer
// addresses are not reported.
func (s *sqe) PrepAcceptMultishot(fd int32, acceptFlags uint32, userData uint64) {
	s.PrepAccept(fd, nil, nil, acceptFlags, userData)
	s.Ioprio = acceptMultishot
}

// PrepConnect prepares a connect(2) to the addrLen bytes at addr, which
// the kernel copies when the SQE is submitted: addr must stay valid until
// Submit returns.
func (s *sqe) PrepConnect(fd int32, addr *unix.RawSockaddrAny, addrLen uint32, userData uint64) {
	s.prepRW(opConnect, fd, ptrAddr(addr), 0, uint64(addrLen), userData)
}

// PrepPollAdd prepares a one-shot poll for events (POLLIN, POLLOUT, ...).
func (s *sqe) PrepPollAdd(fd int32, events uint32, userData uint64) {
	s.prepRW(opPollAdd, fd, 0, 0, 0, userData)
	// poll32_events is in CPU byte order on little-endian machines;
	// liburing swaps its halves on big-endian ones.
	if isBigEndian {
		events = events<<16 | events>>16
	}
	s.OpFlags = events
}

// PrepShutdown prepares a shutdown(2) with how (SHUT_RD, SHUT_WR, SHUT_RDWR).
func (s *sqe) PrepShutdown(fd int32, how int32, userData uint64) {
	s.prepRW(opShutdown, fd, 0, uint32(how), 0, userData)
}

// PrepClose prepares a close(2) of fd.
func (s *sqe) PrepClose(fd int32, userData uint64) {
	s.prepRW(opClose, fd, 0, 0, 0, userData)
}

// PrepCancel prepares the cancellation of the request with user data
// target. flags are IORING_ASYNC_CANCEL_* flags. The cancelled request
// completes with -ECANCELED; the cancel's own CQE has 0, -ENOENT if
// nothing matched, or -EALREADY if the request was already running.
func (s *sqe) PrepCancel(target uint64, flags uint32, userData uint64) {
	s.prepRW(opAsyncCancel, -1, target, 0, 0, userData)
	s.OpFlags = flags
}

// PrepCancelFd prepares the cancellation of requests on fd: the first one,
// or all with IORING_ASYNC_CANCEL_ALL in flags.
func (s *sqe) PrepCancelFd(fd int32, flags uint32, userData uint64) {
	s.prepRW(opAsyncCancel, fd, 0, 0, 0, userData)
	s.OpFlags = flags | asyncCancelFd
}

// PrepNop prepares a request that does nothing and completes with 0.
func (s *sqe) PrepNop(userData uint64) {
	s.prepRW(opNop, -1, 0, 0, 0, userData)
}

// PrepTimeout prepares a timeout that completes with -ETIME after ts, or
// with 0 once count other requests have completed (0: only the time
// counts). flags are IORING_TIMEOUT_* flags. The kernel copies ts when the
// SQE is submitted: ts must stay valid, and off the stack, until Submit
// returns.
func (s *sqe) PrepTimeout(ts *unix.Timespec, count uint32, flags uint32, userData uint64) {
	s.prepRW(opTimeout, -1, ptrAddr(ts), 1, uint64(count), userData)
	s.OpFlags = flags
}

// PrepSplice prepares a splice(2) of n bytes from fdIn at offIn to fdOut
// at offOut; an offset of -1 means the file's current position (and is
// required for a pipe).
func (s *sqe) PrepSplice(fdIn int32, offIn int64, fdOut int32, offOut int64, n uint32, spliceFlags uint32, userData uint64) {
	s.prepRW(opSplice, fdOut, uint64(offIn), n, uint64(offOut), userData)
	s.SpliceFdIn = fdIn
	s.OpFlags = spliceFlags
}

// PrepSendZC prepares a zero-copy send of buf. It usually posts two CQEs:
// the result, with IORING_CQE_F_MORE, and later a notification with
// IORING_CQE_F_NOTIF once the kernel no longer uses buf, which must stay
// valid until then.
func (s *sqe) PrepSendZC(fd int32, buf []byte, msgFlags uint32, userData uint64) {
	s.prepRW(opSendZC, fd, addrOf(buf), uint32(len(buf)), 0, userData)
	s.OpFlags = msgFlags
}

// isBigEndian reports the byte order, which poll32_events depends on.
var isBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
