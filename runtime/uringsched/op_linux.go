package uringsched

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// opKind says what an op does and so how its completion is handled.
type opKind uint8

const (
	kindRecvMulti opKind = iota // multishot receive into provided buffers
	kindRecv                    // one receive into the caller's buffer
	kindSend
	kindAccept
	kindPollIn
	kindPollOut
)

// An op is one kind of request of one fd. Each fd owns its ops for its
// whole life and has at most one request of each kind in the kernel at a
// time (Reads and Writes are serialized), so an op is reused instead of
// allocated per operation.
type op struct {
	fd   *fd
	kind opKind
	slot uint32 // in the op table
	gen  uint32

	// result holds doneBit|uint32(res) once the kernel completed the
	// request, 0 while it is pending. The reaper stores it and the parked
	// goroutine loads it: a latched wake-up can stand for an earlier
	// completion, so the result itself must carry the ordering.
	result atomic.Uint64

	// buf keeps the caller's buffer reachable, and so unmoved and
	// unfreed, while the kernel may read or write it. Heap memory never
	// moves in Go; storing the slice here also makes it escape, so it is
	// never on a goroutine stack that could be copied.
	buf []byte

	// sa and salen belong to accept: the kernel writes the peer's
	// address and its length here.
	sa    *unix.RawSockaddrAny
	salen uint32
}

const doneBit = 1 << 32

func (o *op) userData() uint64 { return uint64(o.gen)<<32 | uint64(o.slot+1) }

// start marks the op pending before its SQE is submitted.
func (o *op) start() { o.result.Store(0) }

// complete records the kernel's result; the caller then wakes the waiter.
func (o *op) complete(res int32) { o.result.Store(doneBit | uint64(uint32(res))) }

// done returns the result once the request completed.
func (o *op) done() (int32, bool) {
	r := o.result.Load()
	return int32(uint32(r)), r&doneBit != 0
}
