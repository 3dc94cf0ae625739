package epollsched

import (
	"golang.org/x/sys/unix"
)

// Accept implements runtime.FD. It waits on the read direction, where a
// listener reports queued connections.
func (f *fd) Accept() (int, unix.Sockaddr, error) {
	if err := f.lock.ReadLock(); err != nil {
		return -1, nil, err
	}
	defer f.lock.ReadUnlock()
	c := &f.s.counters
	for {
		if err := f.rw.Err(); err != nil {
			return -1, nil, err
		}
		if f.readReady.Swap(false) {
			ns, sa, err := unix.Accept4(f.sysfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			c.IOSyscalls.Add(1)
			switch err {
			case nil:
				f.readReady.Store(true) // more may be queued
				c.Accepts.Add(1)
				return ns, sa, nil
			case unix.EINTR, unix.ECONNABORTED:
				// ECONNABORTED: a queued connection was reset before we
				// took it; take the next one.
				f.readReady.Store(true)
				continue
			case unix.EAGAIN:
			default:
				f.readReady.Store(true)
				return -1, nil, err
			}
		}
		if err := f.wait(&f.rw); err != nil {
			return -1, nil, err
		}
	}
}

// Connect implements runtime.FD, as net's fd_unix.go connects: start the
// handshake, wait for writability and ask SO_ERROR how it went, since
// calling connect(2) again does not reliably report the result. The write
// deadline bounds the wait.
func (f *fd) Connect(sa unix.Sockaddr) error {
	if err := f.lock.WriteLock(); err != nil {
		return err
	}
	defer f.lock.WriteUnlock()
	// Whatever happens, a later Write should try its system call.
	defer f.writeReady.Store(true)
	c := &f.s.counters

	// Cleared first, so that only an edge after connect(2) counts, as in
	// Read; an earlier one (the socket's first event) would cost one more
	// SO_ERROR check below.
	f.writeReady.Store(false)
	err := unix.Connect(f.sysfd, sa)
	c.IOSyscalls.Add(1)
	switch err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	case nil, unix.EISCONN:
		return nil
	default:
		return err
	}
	for {
		if err := f.wait(&f.ww); err != nil {
			return err
		}
		if !f.writeReady.Swap(false) {
			continue // a stale notification
		}
		nerr, err := unix.GetsockoptInt(f.sysfd, unix.SOL_SOCKET, unix.SO_ERROR)
		c.IOSyscalls.Add(1)
		if err != nil {
			return err
		}
		switch err := unix.Errno(nerr); err {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		case unix.EISCONN:
			return nil
		case 0:
			// The wake-up may be early (the registration's first event);
			// only a peer proves the handshake done.
			_, err := unix.Getpeername(f.sysfd)
			c.IOSyscalls.Add(1)
			if err == nil {
				return nil
			}
		default:
			return err
		}
	}
}
