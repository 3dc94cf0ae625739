package epollsched

// Running returns the process-wide epoll scheduler if Default has already
// started it, and never starts one.
func Running() (*Scheduler, bool) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultSched, defaultSched != nil
}
