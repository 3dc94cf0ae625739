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
			ns, sa, err := f.AcceptQueued()
			if err != unix.EAGAIN {
				f.readReady.Store(true) // more may be queued
				return ns, sa, err
			}
		}
		if err := f.Park(&f.RD); err != nil {
			return -1, nil, err
		}
	}
}
