package epollsched

import (
	"io"

	"golang.org/x/sys/unix"
)

// maxRW caps one read or write on a stream socket, as internal/poll does,
// so that a huge buffer becomes several calls rather than one the kernel
// may refuse.
const maxRW = 1 << 30

// Read implements runtime.FD.
//
// No wake-up is lost. Read swaps readReady to false before read(2); for
// each edge the poller sets the flag and, if it was false, notifies rw.
// Data that arrives after read(2) looked at the queue arrives after the
// swap, so the first edge after the swap finds the flag false and latches a
// notification: the Wait after EAGAIN returns at once and the loop tries
// again. Data that arrived before the swap is in the queue when read(2)
// looks. An edge that lands between the swap and read(2) costs at most one
// read that finds nothing.
//
// By the same argument a short read may leave the flag cleared: it emptied
// the queue, and anything newer comes with an edge (shortReadDrains says
// when this holds). internal/poll instead pays for a read(2) that fails
// with EAGAIN before every park.
func (f *fd) Read(p []byte) (int, error) {
	if err := f.Lock.ReadLock(); err != nil {
		return 0, err
	}
	defer f.Lock.ReadUnlock()
	if len(p) == 0 {
		return 0, nil
	}
	if f.stream && len(p) > maxRW {
		p = p[:maxRW]
	}
	for {
		// First, so that a deadline already past fails even with data
		// buffered, as in package net.
		if err := f.RD.Err(); err != nil {
			return f.read(0, err)
		}
		if f.readReady.Swap(false) {
			n, err := f.sysRead(p)
			switch {
			case err == nil && n > 0:
				// Loaded after the read: see dispatch for the order.
				if n == len(p) || !f.shortReadDrains.Load() {
					f.readReady.Store(true)
				}
				return f.read(n, nil)
			case err == nil:
				// EOF stays: every later read must see it without an edge.
				f.readReady.Store(true)
				if f.stream {
					return f.read(0, io.EOF)
				}
				return f.read(0, nil) // an empty datagram
			case err != unix.EAGAIN:
				f.readReady.Store(true)
				return f.read(0, err)
			}
		}
		if err := f.Park(&f.RD); err != nil {
			return f.read(0, err)
		}
	}
}

// Write implements runtime.FD. The flag works as in Read: a partial write
// or EAGAIN means the send buffer is full, and the kernel reports the space
// it frees with an edge after the swap.
func (f *fd) Write(p []byte) (int, error) {
	if err := f.Lock.WriteLock(); err != nil {
		return 0, err
	}
	defer f.Lock.WriteUnlock()
	if len(p) == 0 {
		return f.wrote(0, f.WriteZero())
	}
	var nn int
	for {
		if err := f.WR.Err(); err != nil {
			return f.wrote(nn, err)
		}
		if f.writeReady.Swap(false) {
			chunk := p[nn:]
			if f.stream && len(chunk) > maxRW {
				chunk = chunk[:maxRW]
			}
			n, err := f.sysWrite(chunk)
			if n > 0 {
				nn += n
			}
			switch {
			case err == nil && n == len(chunk):
				f.writeReady.Store(true) // there was room; there may be more
				if nn == len(p) {
					return f.wrote(nn, nil)
				}
				continue
			case err == nil && n == 0:
				f.writeReady.Store(true)
				return f.wrote(nn, io.ErrUnexpectedEOF) // as internal/poll
			case err != nil && err != unix.EAGAIN:
				f.writeReady.Store(true)
				return f.wrote(nn, err)
			}
		}
		if err := f.Park(&f.WR); err != nil {
			return f.wrote(nn, err)
		}
	}
}

// read counts a finished Read.
func (f *fd) read(n int, err error) (int, error) {
	f.CountRead(n)
	return n, err
}

// wrote counts a finished Write.
func (f *fd) wrote(n int, err error) (int, error) {
	f.CountWrite(n)
	return n, err
}

func (f *fd) sysRead(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.Sysfd, p)
		f.CountSyscalls(1)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func (f *fd) sysWrite(p []byte) (int, error) {
	for {
		n, err := unix.Write(f.Sysfd, p)
		f.CountSyscalls(1)
		if err != unix.EINTR {
			return n, err
		}
	}
}
