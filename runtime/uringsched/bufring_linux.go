//go:build linux

package uringsched

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// bufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING, Linux
// 5.19+): a ring of buffers that the kernel picks from for requests with
// IOSQE_BUFFER_SELECT in its group, such as a multishot receive. A CQE
// that used one carries IORING_CQE_F_BUFFER and the buffer's id in its
// upper 16 bits; the buffer is then the application's until Recycle gives
// it back.
//
// Both the ring and the buffers are anonymous mappings rather than Go
// memory, so the garbage collector neither moves nor frees what the kernel
// writes to.
//
// The ring has room for entries buffers, but only the first Given of
// them have been handed to the kernel: Grow hands out more as the load
// asks for them. The kernel picks buffers in ring order, so every buffer
// in the ring is soon written to and becomes resident memory; handing out
// only what the load needs keeps an idle server's memory small.
//
// Recycle, Grow and Publish are not safe for concurrent use: the caller
// serializes them. Buf and Given may be called concurrently with them.
type bufRing struct {
	r       *ring
	group   uint16
	entries uint16
	bufSize uint32
	given   atomic.Int32 // buffers handed to the kernel so far: ids 0 to given-1

	ringMem []byte       // entries ioUringBuf, shared with the kernel
	bufs    []byte       // entries buffers of bufSize bytes
	ents    []ioUringBuf // ringMem as entries
	// tailWord is the aligned 32-bit word that holds entry 0's Bid and the
	// ring's tail, which overlays entry 0's Resv (struct
	// io_uring_buf_ring). Go has no 16-bit atomics, so Publish stores the
	// whole word, with entry 0's Bid unchanged.
	tailWord *atomic.Uint32
	tail     uint16 // the next entry Recycle writes; published by Publish
	closed   bool
}

// newBufRing registers a ring of entries buffers of bufSize bytes as
// buffer group group of r, and gives the first initial of them to the
// kernel. entries must be a power of two, at most 32768.
func newBufRing(r *ring, group uint16, entries uint16, bufSize uint32, initial uint16) (*bufRing, error) {
	if entries == 0 || entries&(entries-1) != 0 || entries > 1<<15 {
		return nil, fmt.Errorf("uringsched: buffer ring size %d is not a power of two up to 32768", entries)
	}
	if bufSize == 0 {
		return nil, errors.New("uringsched: buffer size 0")
	}
	b := &bufRing{r: r, group: group, entries: entries, bufSize: bufSize}
	var err error
	// The kernel pins the ring's pages, which must start on a page
	// boundary: mmap's always do.
	if b.ringMem, err = mmapAnon(int(entries) * sizeofBufRingEntry); err != nil {
		return nil, err
	}
	if b.bufs, err = mmapAnon(int(entries) * int(bufSize)); err != nil {
		b.unmap()
		return nil, err
	}
	b.ents = sliceAt[ioUringBuf](b.ringMem, 0, uint32(entries))
	b.tailWord = u32At(b.ringMem, bufRingTailWord)

	reg := ioUringBufReg{
		RingAddr:    addrOf(b.ringMem),
		RingEntries: uint32(entries),
		Bgid:        group,
	}
	if err := register(r, registerPbufRing, &reg, 1); err != nil {
		b.unmap()
		return nil, err
	}
	b.Grow(min(max(initial, 1), entries))
	b.Publish()
	return b, nil
}

// Grow gives up to n buffers that the kernel has never had to the ring,
// and returns how many it gave; they are the kernel's after Publish.
func (b *bufRing) Grow(n uint16) uint16 {
	given := uint16(b.given.Load())
	if b.entries-given < n {
		n = b.entries - given
	}
	for bid := given; bid < given+n; bid++ {
		b.Recycle(bid)
	}
	b.given.Store(int32(given + n))
	return n
}

// Given returns how many buffers the kernel has been given so far.
func (b *bufRing) Given() int32 { return b.given.Load() }

// mmapAnon maps size bytes of private zeroed memory, rounded up to pages.
func mmapAnon(size int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}

// Group returns the buffer group id that requests select buffers from.
func (b *bufRing) Group() uint16 { return b.group }

// BufSize returns the size of each buffer.
func (b *bufRing) BufSize() uint32 { return b.bufSize }

// Entries returns the number of buffers.
func (b *bufRing) Entries() uint16 { return b.entries }

// Buf returns the first n bytes of buffer bid, as reported by a CQE. The
// slice aliases the mapped buffer: it is valid until bid is recycled.
func (b *bufRing) Buf(bid uint16, n int) []byte {
	off := int(bid) * int(b.bufSize)
	return b.bufs[off : off+int(b.bufSize)][:n:n]
}

// Recycle gives buffer bid back to the kernel. It writes the ring entry
// only; the kernel sees it after Publish, so that a batch costs one
// store. Recycle only buffers that a CQE handed out (or, in Grow,
// each buffer once): the ring never holds more than Entries of them.
func (b *bufRing) Recycle(bid uint16) {
	// The entry at the local tail is beyond the published tail, so the
	// kernel does not read it until Publish. Its Resv is left alone: in
	// entry 0 it is the tail itself.
	e := &b.ents[b.tail&(b.entries-1)]
	e.Addr = addrOf(b.bufs[int(bid)*int(b.bufSize):])
	e.Len = b.bufSize
	e.Bid = bid
	b.tail++
}

// Publish makes the buffers recycled so far visible to the kernel by
// storing the tail with release semantics.
func (b *bufRing) Publish() {
	// The word is entry 0's Bid then the tail, in memory order. Bid is
	// ours alone to write and we write it back unchanged, so the kernel,
	// which may be reading it, sees the same value either way. The atomic
	// store orders every entry written by Recycle before the new tail.
	bid0, tail := uint32(b.ents[0].Bid), uint32(b.tail)
	w := tail<<16 | bid0
	if isBigEndian {
		w = bid0<<16 | tail
	}
	b.tailWord.Store(w)
}

// Close unregisters the buffer group and unmaps the ring and the buffers.
// It is idempotent. Requests that select from the group must have
// completed first, and r must not have been closed yet; if it has, the
// kernel dropped the group along with the ring.
func (b *bufRing) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	var err error
	if !b.r.closed {
		reg := ioUringBufReg{Bgid: b.group}
		err = register(b.r, unregisterPbufRing, &reg, 1)
	}
	return errors.Join(err, b.unmap())
}

// unmap releases the mappings. The kernel has its own reference to the
// ring's pinned pages while the group is registered, so unmapping them is
// safe even when unregistering failed.
func (b *bufRing) unmap() error {
	var errs []error
	for _, m := range [][]byte{b.ringMem, b.bufs} {
		if m != nil {
			if err := unix.Munmap(m); err != nil {
				errs = append(errs, os.NewSyscallError("munmap", err))
			}
		}
	}
	b.ringMem, b.bufs, b.ents, b.tailWord = nil, nil, nil, nil
	return errors.Join(errs...)
}
