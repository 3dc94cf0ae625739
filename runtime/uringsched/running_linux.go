package uringsched

import "sync/atomic"

// running is the process's io_uring scheduler once Default has started it.
var running atomic.Pointer[Scheduler]

// Running returns the process's io_uring scheduler if Default has already
// started it, and never starts one: reading statistics must not set up a
// ring in a program that does not use io_uring.
func Running() (*Scheduler, bool) {
	s := running.Load()
	return s, s != nil
}
