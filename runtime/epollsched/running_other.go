//go:build unix && !linux

package epollsched

// Running reports that no epoll scheduler runs: epoll needs Linux.
func Running() (*Scheduler, bool) { return nil, false }
