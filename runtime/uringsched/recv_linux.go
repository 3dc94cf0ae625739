package uringsched

import (
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// recvQueue holds what the multishot receive put in provided buffers and
// the reader has not taken yet.
type recvQueue struct {
	qmu     sync.Mutex
	q       []queuedBuf // q[qhead:] are waiting, oldest first
	qhead   int
	qbytes  int
	rerr    error // EOF or the error that ended the stream, after q
	armed   bool  // a multishot receive is in the kernel
	capped  bool  // the armed receive is being cancelled: the queue is full
	starved bool  // the last receive found no provided buffer
	// armChecked says the socket was checked for a pending error since
	// the multishot receive last stopped (or ever). A multishot receive
	// armed on a socket that already holds data and a pending reset was
	// seen to take the data and then never complete, on Linux 6.18
	// (TestFaultResetAfterCappedReceive); so before arming, poll(2) looks
	// for the error, and a failed socket is read with one-shot receives
	// (oneShot) to its end.
	armChecked bool
	oneShot    bool
	recycles   []uint16
}

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

// takeQueued copies queued bytes into p, or says what to do when there are
// none. Buffers it empties go back to the kernel.
func (f *fd) takeQueued(p []byte) (n int, next recvNext, err error) {
	if f.s.bufs == nil {
		return 0, recvIntoCaller, nil
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
		case f.armed:
			next = recvWait
		case f.oneShot:
			next = recvIntoCaller
		case f.starved && f.s.buffersLow():
			// The ring is still short of buffers: rather than fail
			// again at once, receive into the caller's slice. (Waiting
			// for buffers instead was measured: at 4096 conns on 1024
			// buffers the woken receivers ran the ring dry again at
			// once, 1.2 exhaustions per request.)
			next = recvIntoCaller
		case !f.armChecked:
			f.starved = false
			next = recvCheckArm
		default:
			f.starved = false
			f.armed = true
			next = recvArm
		}
	}
	f.recycles = bids[:0]
	f.qmu.Unlock()
	f.s.recycle(bids)
	return n, next, err
}

// armRecv submits the multishot receive; takeQueued has marked it armed.
func (f *fd) armRecv() {
	f.submit(&f.recvMulti, func(e *sqe, ud uint64) {
		e.PrepRecvMultishot(int32(f.sysfd), bufGroup, 0, ud)
	})
}

// onRecv queues one completion of the multishot receive; cqMu is held.
func (f *fd) onRecv(res int32, flags uint32, more bool) {
	f.qmu.Lock()
	switch {
	case res > 0 && flags&cqeFBuffer != 0:
		f.s.freeBufs.Add(-1)
		f.q = append(f.q, queuedBuf{bid: uint16(flags >> cqeBufferShift), n: uint32(res)})
		f.qbytes += int(res)
		if f.s.buffersLow() {
			f.s.growBufs()
		}
	case res == 0:
		f.rerr = io.EOF
	case res == -int32(unix.ENOBUFS):
		f.starved = true
		f.s.counters.BufferExhaustions.Add(1)
		f.s.growBufs()
	case res == -int32(unix.ECANCELED):
		// Cancelled by us, because the queue was full or the fd is
		// closing: not an error of the stream.
	case res < 0:
		f.rerr = unix.Errno(-res)
	}
	if !more {
		// Stopped by a cancel, an empty buffer ring or the kernel's own
		// choice, rather than by the end of the stream: check again
		// before re-arming.
		f.armChecked = f.armChecked && f.rerr != nil
		f.armed, f.capped = false, false
	}
	capNow := more && !f.capped && f.qbytes > f.s.cfg.maxQueued
	if capNow {
		f.capped = true
	}
	f.qmu.Unlock()
	if capNow {
		// Stop receiving until the reader catches up; Read re-arms when
		// the queue is empty. cancel takes sqMu, never held with qmu.
		f.s.cancelAsync(&f.recvMulti)
	}
}

// checkAndArm arms the multishot receive and then looks for an error or
// hang-up already pending on the socket. The receive is submitted at once,
// so the look comes after the kernel armed it: a reset that arrives later
// wakes the armed receive as usual, and one that arrived earlier shows in
// poll(2), which has the receive cancelled and the fd read with one-shot
// receives from then on.
func (f *fd) checkAndArm() {
	f.qmu.Lock()
	f.armChecked, f.armed = true, true
	f.qmu.Unlock()
	f.recvMulti.start()
	f.inflight.Add(1)
	f.s.sqMu.Lock()
	f.s.getSQE().PrepRecvMultishot(int32(f.sysfd), bufGroup, 0, f.recvMulti.userData())
	f.s.submitLocked()
	f.s.sqMu.Unlock()

	pfd := []unix.PollFd{{Fd: int32(f.sysfd), Events: unix.POLLIN}}
	_, err := unix.Poll(pfd, 0)
	f.s.counters.IOSyscalls.Add(1)
	if err != nil || pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) == 0 {
		return
	}
	f.qmu.Lock()
	f.oneShot = true
	f.qmu.Unlock()
	f.s.cancelAsync(&f.recvMulti)
}

// releaseQueued gives every queued buffer back at destroy and reports
// whether any held unread data.
func (f *fd) releaseQueued() (unread bool) {
	f.qmu.Lock()
	unread = f.qbytes > 0
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
