package uringsched

import (
	"io"
	"sync"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// recvQueue holds what the multishot receive put in provided buffers and
// the reader has not taken yet.
//
// Read-ahead is bounded by the reader. A Read that finds the queue empty
// arms the multishot receive with a limit of the Read's own length
// (IORING_RECV_MSHOT_LIM, Linux 6.16; capped at config.maxReadAhead): the
// kernel stops it once that many bytes arrived, so at most one Read's
// worth of data leaves the socket before the application asks for more,
// the rest stays in the kernel's receive queue under SO_RCVBUF and TCP flow
// control, and a raw read or a duplicate after Read(p) sees what net would
// have left there. Small completions are copied into the tail buffer's
// free room and their buffer goes straight back to the kernel, so a peer
// that sends a byte per segment holds one buffer, not one per byte.
//
// The receive's states (recvState), all under qmu. A Read that finds the
// queue empty acts on the state in takeQueued; completions move it in
// onRecv; every cancel of the receive goes through stopRecv:
//
//	recvIdle         --Read-->            recvArmed (checkAndArm: arm, then
//	                                      poll(2) for a reset already
//	                                      pending; if one is: recvStopping)
//	recvIdleChecked  --Read-->            recvArmed (armRecv)
//	recvStarved      --Read, pool low-->  recvStarved, the Read receives
//	                                      into its own slice
//	recvStarved      --Read-->            recvArmed, as from recvIdle
//	recvArmed        --data, F_MORE-->    recvArmed, bytes queued
//	recvArmed        --over maxQueued-->  recvCapping (no kernel limit)
//	recvArmed        --trickling-->       recvStopping
//	recvArmed, recvCapping
//	                 --no F_MORE-->       recvIdleChecked if its limit or
//	                                      the stream's end stopped it,
//	                                      recvStarved on ENOBUFS, else
//	                                      recvIdle
//	recvStopping     --no F_MORE-->       recvOneShot
//	any idle state   --HandOff, failed--> recvOneShot
//	recvArmed, recvCapping
//	                 --HandOff, failed--> recvStopping
//	recvArmed, recvCapping
//	                 --TakeError on a failed socket-->
//	                                      recvStopping
//	recvOneShot                           for good: every Read receives
//	                                      once into its own slice
//
// The receive completes with ECANCELED when cancelled, which only moves
// the state, and with 0 (EOF) or an error that is queued after the data
// as rerr, reported once: to a Read, or to a write that asks first
// (TakeError), which leaves EOF. HandOff waits on qstop for recvOneShot.
type recvQueue struct {
	// qmu guards the queue. It is the innermost lock: it is taken under
	// cqMu by the dispatcher, so nothing holding it may take sqMu or
	// cqMu, or submit.
	qmu    sync.Mutex
	qstop  sync.Cond   // signalled when the multishot receive stops; L is &qmu
	q      []queuedBuf // q[qhead:] are waiting, oldest first
	qhead  int
	qbytes int
	rerr   error     // EOF or the error that ended the stream, after q
	state  recvState // see above
	// budget is what the armed receive may still take before its limit
	// stops it; meaningful only with the kernel's limit.
	budget int
	// trickle counts the small completions in a row that arrived while
	// the reader lagged; see onRecv.
	trickle  int
	recycles []uint16
}

// recvState is where a conn's multishot receive stands; see recvQueue.
type recvState uint8

const (
	// recvIdle: no receive is in the kernel, and the socket must be
	// checked for a pending error before one is armed. A multishot
	// receive armed on a socket that already holds data and a pending
	// reset was seen to take the data and then never complete, on Linux
	// 6.18 (TestFaultResetAfterCappedReceive); so checkAndArm looks with
	// poll(2), and a failed socket is read with one-shot receives to its
	// end.
	recvIdle recvState = iota
	// recvIdleChecked: no receive is in the kernel; the last one was
	// stopped by its own limit or by the stream's end, so the socket
	// needs no check.
	recvIdleChecked
	// recvStarved: the last receive found no provided buffer.
	recvStarved
	// recvArmed: a multishot receive is in the kernel.
	recvArmed
	// recvCapping: the receive is being cancelled because the reader
	// lags (no kernel limit); it re-arms once the queue is empty.
	recvCapping
	// recvStopping: the receive is being cancelled for good: the socket
	// failed, trickles, or is handed off.
	recvStopping
	// recvOneShot: every Read receives once into the caller's slice from
	// now on, so that raw code or a duplicate sees the stream as net
	// would leave it.
	recvOneShot
)

// inKernel reports whether a multishot receive is in the kernel.
func (st recvState) inKernel() bool {
	return st == recvArmed || st == recvCapping || st == recvStopping
}

// A peer that sends a few bytes per segment to a conn whose reader lags
// costs a whole buffer per segment until the dispatcher copies it into the
// tail buffer: after trickleLimit such completions in a row, smaller than
// trickleSize, the conn's multishot receive stops and it reads with
// one-shot receives, so that it cannot take the buffers other conns need.
const (
	trickleSize  = 256
	trickleLimit = 64
)

// queuedBuf is the unread part [off, n) of provided buffer bid.
type queuedBuf struct {
	bid    uint16
	off, n uint32
}

// What Read does when the queue is empty.
type recvNext int

const (
	recvWait       recvNext = iota // a receive is armed: park
	recvArm                        // arm the multishot receive, then park
	recvCheckArm                   // check the socket, then arm and park
	recvIntoCaller                 // receive once into the caller's buffer
)

// Read implements runtime.FD.
func (f *fd) Read(p []byte) (int, error) {
	if err := f.Lock.ReadLock(); err != nil {
		return 0, err
	}
	defer f.Lock.ReadUnlock()
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	n, err := f.read(p)
	f.CountRead(n)
	return n, err
}

func (f *fd) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := f.RD.Err(); err != nil {
			return 0, err
		}
		n, next, limit, err := f.takeQueued(p)
		switch {
		case n > 0 || err != nil:
			return n, err
		case next == recvIntoCaller:
			return f.recvInto(p)
		case next == recvArm:
			f.armRecv(limit)
		case next == recvCheckArm:
			f.checkAndArm(limit)
		}
		if err := f.Park(&f.RD); err != nil {
			return 0, err
		}
	}
}

// recvInto receives once, straight into p: the path when multishot
// receive is off, the provided buffers have run out, or the socket was
// handed off.
func (f *fd) recvInto(p []byte) (int, error) {
	o := f.newOp(&f.recv, kindRecv)
	o.buf = p
	f.submit(o, func(e *sqe, ud uint64) {
		e.PrepRecv(int32(f.Sysfd), p, 0, ud)
	})
	res, err := f.await(o, &f.RD)
	switch {
	case res > 0:
		return int(res), nil
	case res == 0:
		return 0, io.EOF
	case err != nil:
		return 0, err
	}
	return 0, unix.Errno(-res)
}

// takeQueued copies queued bytes into p, or says what to do when there are
// none, with the limit of a receive to arm. Buffers it empties go back to
// the kernel.
func (f *fd) takeQueued(p []byte) (n int, next recvNext, limit int, err error) {
	if f.s.bufs == nil {
		return 0, recvIntoCaller, 0, nil
	}
	f.qmu.Lock()
	bids := f.recycles[:0]
	for f.qhead < len(f.q) && n < len(p) {
		b := &f.q[f.qhead]
		c := copy(p[n:], f.s.bufs.Buf(b.bid, int(b.n))[b.off:])
		n += c
		b.off += uint32(c)
		if b.off == b.n {
			bids = append(bids, b.bid)
			f.qhead++
		}
	}
	f.qbytes -= n
	f.s.pool.release(n)
	if f.qhead == len(f.q) {
		f.q, f.qhead = f.q[:0], 0
	}
	if n == 0 {
		switch {
		case f.rerr != nil:
			// Reported once, as the kernel reports a socket error once;
			// the next Read asks the kernel again (EOF, or more data
			// after the reader's own CloseRead).
			err, f.rerr = f.rerr, nil
		case f.state.inKernel():
			next = recvWait
		case f.state == recvOneShot:
			next = recvIntoCaller
		case f.state == recvStarved && f.s.pool.low():
			// The ring is still short of buffers: rather than fail
			// again at once, receive into the caller's slice. (Waiting
			// for buffers instead was measured: at 4096 conns on 1024
			// buffers the woken receivers ran the ring dry again at
			// once, 1.2 exhaustions per request.)
			f.s.counters.Fallbacks.Add(1)
			next = recvIntoCaller
		default:
			next = recvArm
			if f.state != recvIdleChecked {
				next = recvCheckArm
			}
			f.state = recvArmed
			limit = f.s.pool.reserve(len(p), f.s.cfg.maxReadAhead)
			f.budget = limit
		}
	}
	f.recycles = bids[:0]
	f.qmu.Unlock()
	f.s.recycle(bids)
	return n, next, limit, err
}

// prepRecv prepares the multishot receive, to stop after limit bytes if
// limit is not 0; takeQueued has marked it armed and reserved the limit.
// Chunks are capped at the limit too, so that a small one is exact.
func (f *fd) prepRecv(e *sqe, limit int, ud uint64) {
	var length uint32
	if limit < int(f.s.bufs.BufSize()) {
		length = uint32(limit)
	}
	e.PrepRecvMultishot(int32(f.Sysfd), bufGroup, length, uint32(limit), ud)
}

// armRecv submits the multishot receive with its limit.
func (f *fd) armRecv(limit int) {
	f.submit(&f.recvMulti, func(e *sqe, ud uint64) { f.prepRecv(e, limit, ud) })
}

// onRecv queues one completion of the multishot receive; cqMu is held.
func (f *fd) onRecv(res int32, flags uint32, more bool) {
	var recycle uint16
	recycled := false
	f.qmu.Lock()
	switch {
	case res > 0 && flags&cqeFBuffer != 0:
		f.s.pool.take()
		if res < trickleSize && f.qbytes > 0 {
			f.trickle++
		} else {
			f.trickle = 0
		}
		bid := uint16(flags >> cqeBufferShift)
		// The kernel checks its limit after a chunk, so the last chunk
		// may overshoot it by less than a buffer: reserve the excess.
		f.s.pool.reserveExcess(int(res) - max(f.budget, 0))
		f.budget -= int(res)
		if f.appendToTail(bid, uint32(res)) {
			recycle, recycled = bid, true
		} else {
			f.q = append(f.q, queuedBuf{bid: bid, n: uint32(res)})
		}
		f.qbytes += int(res)
	case res == 0:
		f.rerr = io.EOF
	case res == -int32(unix.ENOBUFS):
		f.s.counters.BufferExhaustions.Add(1)
		f.s.pool.grow()
	case res == -int32(unix.ECANCELED):
		// Cancelled by us, because the queue was full, the socket is
		// handed off or the fd is closing: not an error of the stream.
	case res < 0:
		f.rerr = unix.Errno(-res)
	}
	stop := false
	switch {
	case !more:
		// Stopped by its limit, a cancel, an empty buffer ring or the
		// kernel's own choice, rather than by the end of the stream.
		// Unless the limit stopped it, check the socket again before
		// re-arming.
		f.s.pool.release(max(f.budget, 0)) // what it did not take
		limitHit := res > 0 && f.s.mshotLimit && f.budget <= 0
		f.budget = 0
		switch {
		case f.state == recvStopping:
			f.state = recvOneShot
		case res == -int32(unix.ENOBUFS):
			f.state = recvStarved
		case f.rerr != nil || limitHit:
			f.state = recvIdleChecked
		default:
			f.state = recvIdle
		}
		f.qstop.Broadcast()
	case f.state != recvArmed:
		// Already being cancelled.
	case f.trickle >= trickleLimit:
		f.s.counters.Fallbacks.Add(1)
		stop = f.stopRecv(recvOneShot)
	case f.qbytes > f.s.cfg.maxQueued:
		stop = f.stopRecv(recvIdle)
	}
	f.qmu.Unlock()
	if recycled {
		f.s.recycle([]uint16{recycle})
	}
	if stop {
		// Without the kernel's limit, or for a trickling peer, stop
		// receiving until the reader catches up; Read re-arms when the
		// queue is empty. The dispatcher may run under sqMu, so the
		// cancel is queued for the loop's next flush.
		f.s.cancelLater(&f.recvMulti)
	}
}

// stopRecv moves the receive towards then, recvIdle or recvOneShot, and
// reports whether a receive is in the kernel, which the caller cancels
// once qmu is released; qmu is held. Cancelling a receive that a cancel is
// already stopping does no harm, and waiting callers must not depend on a
// cancel the dispatcher queued for a later flush.
func (f *fd) stopRecv(then recvState) (inKernel bool) {
	switch {
	case !f.state.inKernel():
		if then == recvOneShot {
			f.state = recvOneShot
		}
		return false
	case then == recvOneShot:
		f.state = recvStopping
	case f.state == recvArmed:
		f.state = recvCapping
	}
	return true
}

// appendToTail copies n bytes that arrived in buffer bid into the free
// room of the last queued buffer, if they fit, so that bid can go back to
// the kernel at once; qmu is held.
func (f *fd) appendToTail(bid uint16, n uint32) bool {
	if f.qhead == len(f.q) {
		return false
	}
	tail := &f.q[len(f.q)-1]
	size := f.s.bufs.BufSize()
	if tail.n+n > size {
		return false
	}
	dst := f.s.bufs.Buf(tail.bid, int(size))
	copy(dst[tail.n:tail.n+n], f.s.bufs.Buf(bid, int(n)))
	tail.n += n
	return true
}

// checkAndArm arms the multishot receive and then looks for an error or
// hang-up already pending on the socket. The receive is submitted at once,
// so the look comes after the kernel armed it: a reset that arrives later
// wakes the armed receive as usual, and one that arrived earlier shows in
// poll(2), which has the receive cancelled and the fd read with one-shot
// receives from then on.
func (f *fd) checkAndArm(limit int) {
	f.recvMulti.start()
	f.inflight.Add(1)
	f.s.submitNow(func(e *sqe) { f.prepRecv(e, limit, f.recvMulti.userData()) })

	if !f.socketFailed() {
		return
	}
	f.qmu.Lock()
	cancel := f.stopRecv(recvOneShot)
	f.qmu.Unlock()
	if cancel {
		f.s.cancel(&f.recvMulti)
	}
}

// stopForGood stops the multishot receive for good and waits until it is
// out of the kernel, so that nothing but the caller's own calls take data
// or an error from the socket from then on; qmu is held, and released
// while it waits.
func (f *fd) stopForGood() {
	if f.stopRecv(recvOneShot) {
		f.qmu.Unlock()
		f.s.cancel(&f.recvMulti)
		f.qmu.Lock()
	}
	for f.state != recvOneShot {
		f.qstop.Wait()
	}
}

// socketFailed reports whether poll(2) shows an error or a hang-up on the
// socket: the stream is over, and read-ahead has nothing left to gain.
func (f *fd) socketFailed() bool {
	pfd := []unix.PollFd{{Fd: int32(f.Sysfd), Events: unix.POLLIN}}
	_, err := unix.Poll(pfd, 0)
	f.CountSyscalls(1)
	return err == nil && pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// HandOff implements runtime.FDOps: raw code or a duplicate is about to
// use the socket, so the multishot receive stops for good and every Read
// receives into the caller's slice from now on; once the receive is out
// of the kernel, the socket holds what net would have left there. Bytes
// the receive took that no Read returned yet cannot go back: HandOff then
// fails with runtime.ErrUnreadData rather than let raw code see a hole.
// An error the receive took from the socket is returned instead of seen
// by raw code.
func (f *fd) HandOff() error {
	if f.s.bufs == nil {
		return nil // receives go straight into the caller's slice
	}
	f.qmu.Lock()
	defer f.qmu.Unlock()
	f.stopForGood()
	if f.qbytes > 0 {
		return unetrt.ErrUnreadData
	}
	// The receive took the socket's error (a reset) that the kernel
	// reports once: raw code would read a clean EOF where net's sees the
	// reset, so report it here, once, as the kernel would have. An EOF
	// stays: the kernel reports it again to every read.
	if err := f.rerr; err != nil && err != io.EOF {
		f.rerr = nil
		return err
	}
	return nil
}

// TakeError implements runtime.FDOps. The multishot receive may take a
// reset from the kernel while no Read waits (read-ahead left armed by a
// Read that timed out); a write that comes first must report it, and
// Reads then end with EOF after the queued data, as the kernel's would.
// On a failed socket the receive is first stopped, as checkAndArm stops
// it, and waited for: its task work may be taking the reset right now,
// and only once it is out of the kernel can nothing but the caller's own
// call take the error.
func (f *fd) TakeError() error {
	if f.s.bufs == nil {
		return nil // receives go straight into the caller's slice
	}
	f.qmu.Lock()
	armed := f.state.inKernel()
	f.qmu.Unlock()
	failed := armed && f.socketFailed()
	f.qmu.Lock()
	defer f.qmu.Unlock()
	if failed {
		f.stopForGood()
	}
	if err := f.rerr; err != nil && err != io.EOF {
		f.rerr = io.EOF
		return err
	}
	return nil
}

// releaseQueued gives every queued buffer back at destroy and reports
// whether any held unread data.
func (f *fd) releaseQueued() (unread bool) {
	f.qmu.Lock()
	unread = f.qbytes > 0
	f.s.pool.release(f.qbytes)
	var bids []uint16
	for _, b := range f.q[f.qhead:] {
		bids = append(bids, b.bid)
	}
	f.q, f.qhead, f.qbytes = nil, 0, 0
	f.qmu.Unlock()
	if f.s.bufs != nil {
		f.s.recycle(bids)
	}
	return unread
}
