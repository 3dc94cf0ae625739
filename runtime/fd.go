//go:build unix

package runtime

import (
	"time"

	"golang.org/x/sys/unix"
)

// Mode names the direction a deadline applies to.
type Mode int

// The deadline modes; ModeRead|ModeWrite sets both.
const (
	ModeRead Mode = 1 << iota
	ModeWrite
)

// A Scheduler runs the I/O of many descriptors. Each backend has one,
// started lazily on first use.
type Scheduler interface {
	// Name is the backend's name as unet.Backend reports it.
	Name() string
	// NewFD takes ownership of sysfd, a non-blocking, close-on-exec
	// socket, and returns its handle. On error sysfd is closed.
	NewFD(sysfd int) (FD, error)
	// Counters are the scheduler's statistics.
	Counters() *Counters
}

// An FD is one socket served by a Scheduler. Its methods are safe for
// concurrent use; Reads are serialized with Reads and Writes with Writes,
// as in internal/poll.
//
// Errors are returned unwrapped, for the caller to put in a *net.OpError:
// io.EOF, net.ErrClosed once Close has begun, os.ErrDeadlineExceeded, or a
// syscall.Errno from the kernel.
type FD interface {
	// Read reads up to len(p) bytes. A zero-length p returns 0, nil.
	Read(p []byte) (int, error)
	// Write writes all of p or returns an error.
	Write(p []byte) (int, error)
	// Accept returns a new non-blocking, close-on-exec socket and the
	// peer's address.
	Accept() (sysfd int, peer unix.Sockaddr, err error)
	// Connect connects the socket to sa, waiting for the handshake.
	Connect(sa unix.Sockaddr) error
	// SetDeadline sets the deadline of the given modes; the zero time
	// clears it. It wakes an operation already parked.
	SetDeadline(t time.Time, mode Mode) error
	// Shutdown shuts down one or both directions (unix.SHUT_RD, SHUT_WR).
	Shutdown(how int) error
	// Close wakes every parked operation with net.ErrClosed and returns
	// once the descriptor is closed.
	Close() error
	// RawControl calls f with the descriptor, which stays open meanwhile.
	RawControl(f func(sysfd int)) error
	// RawRead calls f until it returns true, waiting for readability in
	// between; it holds the read lock throughout. f sees the stream as
	// it would on a net conn: the backend stops reading ahead first.
	RawRead(f func(sysfd int) bool) error
	// RawWrite calls f until it returns true, waiting for writability in
	// between; it holds the write lock throughout.
	RawWrite(f func(sysfd int) bool) error
	// Dup returns a close-on-exec duplicate of the descriptor that sees
	// the stream as it would on a net conn, for File.
	Dup() (int, error)
}
