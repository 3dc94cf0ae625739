package runtime

import "golang.org/x/sys/unix"

// AcceptQueued takes a conn from the listen backlog with one non-blocking
// accept4(2), as internal/poll does, and counts it. It retries EINTR and
// ECONNABORTED (a queued conn reset before it was taken: take the next)
// and returns EAGAIN when the backlog is empty, for the backend to wait.
// The read lock is held.
func (c *FDCore) AcceptQueued() (int, unix.Sockaddr, error) {
	for {
		ns, sa, err := unix.Accept4(c.Sysfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		c.CountSyscalls(1)
		switch err {
		case nil:
			c.counters.Accepts.Add(1)
			return ns, sa, nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		}
		return -1, nil, err
	}
}
