package uringsched

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// bufPool decides how many provided buffers circulate, so that what the
// ring holds for unread data stays bounded and returns to the system
// after a burst.
//
// Circulating buffers are in the kernel's ring (free) or hold received
// bytes in some conn's queue (held). The kernel picks ring buffers in
// order, so every circulating buffer soon becomes resident memory: the
// count that circulates is the memory the pool costs.
//
//   - It grows when the ring runs low (a quarter free), doubling, up to the
//     ring's size.
//   - It shrinks as buffers come back: a buffer returned while more
//     circulate than the target is retired instead of recycled, and its
//     pages go back to the system (MADV_DONTNEED); growing gives retired
//     buffers again first. The target follows the load: once a second,
//     twice the most buffers held in that second (targetFor), and at
//     least the initial count. Twice, because at the target the ring
//     must not be low: with a quarter more, a steady load of h held
//     buffers left 0.25h free, under the quarter of 1.25h that makes the
//     ring low, so every buffer given back was retired (madvise) and
//     grown again, 3% of the CPU at 4096 conns (TestPoolTargetIsStable). Only buffers the pool owns are retired, so
//     the kernel can never be writing to one. (A server that goes wholly
//     silent after a burst keeps the circulating buffers until traffic
//     walks the ring again: the kernel's ring cannot be taken back.)
//   - What all conns may hold for unread data is bounded by maxHeld: a
//     multishot receive reserves its limit from it when armed (reserve),
//     and bytes go back as Reads take them or when a receive stops short.
//     A conn gets at least one buffer's worth, so the bound is maxHeld
//     plus a buffer per conn whose reader waits.
type bufPool struct {
	ring    *bufRing
	minimum int32 // never fewer circulate: the initial count
	maxHeld int   // bytes of unread data all conns together may hold

	mu      sync.Mutex // serializes the ring's Recycle, Grow and Publish, and retired
	retired []uint16   // buffers out of circulation, their pages returned

	free        atomic.Int32 // circulating buffers in the kernel's ring
	circulating atomic.Int32
	target      atomic.Int32
	// limited says the kernel limits each multishot receive, so that
	// reserved bounds what conns hold; set once, before the loop runs.
	limited  bool
	reserved atomic.Int64 // bytes queued or reserved by armed receives

	// The loop's alone: the window in which the target is measured.
	peakHeld   int32
	windowEnds time.Time
}

// trimWindow is how long the pool remembers its peak.
const trimWindow = time.Second

func (p *bufPool) init(ring *bufRing, initial int32, maxHeld int) {
	p.ring, p.minimum, p.maxHeld = ring, initial, maxHeld
	p.free.Store(ring.Given())
	p.circulating.Store(ring.Given())
	p.target.Store(ring.Given())
}

// take counts a buffer that a completion handed to a conn, and grows the
// pool if the ring runs low.
func (p *bufPool) take() {
	p.free.Add(-1)
	if p.low() {
		p.grow()
	}
}

// low reports whether fewer than a quarter of the circulating buffers
// are in the ring.
func (p *bufPool) low() bool { return ringLow(p.free.Load(), p.circulating.Load()) }

// ringLow is the pool's growth rule: fewer than a quarter of the
// circulating buffers are free.
func ringLow(free, circulating int32) bool { return free < circulating/4 }

// targetFor is how many buffers should circulate after a window in which
// at most peakHeld were held at once: enough that the ring is not low at
// that load, and never fewer than minimum.
func targetFor(peakHeld, minimum int32) int32 { return max(minimum, 2*peakHeld) }

// give returns buffers a conn is done with: to the ring, or out of
// circulation while more circulate than the target.
func (p *bufPool) give(bids []uint16) {
	if len(bids) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	recycled := int32(0)
	for _, bid := range bids {
		if p.circulating.Load() > p.target.Load() {
			p.retire(bid)
			continue
		}
		p.ring.Recycle(bid)
		recycled++
	}
	if recycled > 0 {
		p.ring.Publish()
		p.free.Add(recycled)
	}
}

// retire takes bid out of circulation and returns its pages; mu is held.
func (p *bufPool) retire(bid uint16) {
	size := int(p.ring.BufSize())
	_ = unix.Madvise(p.ring.Buf(bid, size), unix.MADV_DONTNEED)
	p.retired = append(p.retired, bid)
	p.circulating.Add(-1)
}

// grow doubles the circulating buffers, up to the ring's size: retired
// ones first, then ones the kernel never had.
func (p *bufPool) grow() {
	if p.circulating.Load() == int32(p.ring.Entries()) {
		return // all circulate: no lock per completion when the ring is short
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	want := min(p.circulating.Load(), int32(p.ring.Entries())-p.circulating.Load())
	n := int32(0)
	for ; n < want && len(p.retired) > 0; n++ {
		last := len(p.retired) - 1
		p.ring.Recycle(p.retired[last])
		p.retired = p.retired[:last]
	}
	n += int32(p.ring.Grow(uint16(want - n)))
	if n == 0 {
		return
	}
	p.ring.Publish()
	p.circulating.Add(n)
	p.free.Add(n)
	if c := p.circulating.Load(); c > p.target.Load() {
		p.target.Store(c)
	}
}

// watch is the loop's look at the pool after each round: it tracks the
// most buffers held, and once a window ends sets the target from it.
func (p *bufPool) watch(now time.Time) {
	if held := p.circulating.Load() - p.free.Load(); held > p.peakHeld {
		p.peakHeld = held
	}
	if now.Before(p.windowEnds) {
		return
	}
	p.target.Store(targetFor(p.peakHeld, p.minimum))
	p.peakHeld = 0
	p.windowEnds = now.Add(trimWindow)
}

// reserve returns the limit of a multishot receive for a Read of want
// bytes, and reserves it: the Read's own length, at most maxReadAhead and
// what is left of maxHeld, but at least a buffer (or want, if smaller).
// Without the kernel's limit it returns 0: no limit.
func (p *bufPool) reserve(want, maxReadAhead int) int {
	if !p.limited {
		return 0
	}
	left := p.maxHeld - int(p.reserved.Load())
	limit := max(min(want, maxReadAhead, left), min(want, int(p.ring.BufSize())))
	p.reserved.Add(int64(limit))
	return limit
}

// reserveExcess reserves bytes a receive took beyond its limit.
func (p *bufPool) reserveExcess(n int) {
	if p.limited && n > 0 {
		p.reserved.Add(int64(n))
	}
}

// release returns n reserved bytes: taken by a Read, dropped at Close, or
// never received.
func (p *bufPool) release(n int) {
	if p.limited && n > 0 {
		p.reserved.Add(-int64(n))
	}
}
