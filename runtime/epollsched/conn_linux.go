package epollsched

import (
	"golang.org/x/sys/unix"
)

// Accept implements runtime.FD. It waits on the read direction, where a
// listener reports queued connections.
func (f *fd) Accept() (int, unix.Sockaddr, error) {
	if err := f.Lock.ReadLock(); err != nil {
		return -1, nil, err
	}
	defer f.Lock.ReadUnlock()
	for {
		if err := f.RD.Err(); err != nil {
			return -1, nil, err
		}
		if f.readReady.Swap(false) {
			ns, sa, err := unix.Accept4(f.Sysfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			f.CountSyscalls(1)
			switch err {
			case nil:
				f.readReady.Store(true) // more may be queued
				f.Counters().Accepts.Add(1)
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
		if err := f.Park(&f.RD); err != nil {
			return -1, nil, err
		}
	}
}
