// Package runtime is the contract between unet's public API and the I/O
// schedulers that serve it (runtime/uringsched and runtime/epollsched), and
// the pieces both schedulers share: the per-descriptor lock that makes Close
// safe against operations in flight, the wait slot that parks a goroutine
// until an event, a deadline or Close, and the counters behind unet.Stats.
//
// The design follows internal/poll: an FD is used by one reader and one
// writer at a time, Close wakes every parked operation with net.ErrClosed
// and returns only after the descriptor is really closed, and a deadline is
// a runtime timer that wakes the parked goroutine with
// os.ErrDeadlineExceeded.
package runtime
