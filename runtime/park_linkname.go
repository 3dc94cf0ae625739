//go:build !race

package runtime

// This is the one file of unet that reaches into the Go runtime. A
// scheduler delivers two wake-ups per request (the read and the write), and
// a channel costs a lock, a sudog and a copy per hand-off; the runtime's
// own netpoller parks and readies goroutines with gopark and goready on a
// single atomic word instead, and so does parker. Both functions are
// exported to linkname by the runtime on purpose ("do not remove or change
// the type signature", go.dev/issue/67401).
//
// Under the race detector parkCommit could not run: it executes on the
// system stack, where instrumented atomics crash, so race builds use the
// channel-based parker in park_race.go, with the same semantics.

import (
	"sync/atomic"
	"unsafe"
	_ "unsafe" // for go:linkname
)

//go:linkname gopark runtime.gopark
func gopark(unlockf func(gp unsafe.Pointer, state unsafe.Pointer) bool, state unsafe.Pointer, reason uint8, traceReason uint8, traceskip int)

//go:linkname goready runtime.goready
func goready(gp unsafe.Pointer, traceskip int)

// The runtime's waitReasonIOWait and traceBlockNet: what tracebacks and
// execution traces show for a parked goroutine.
const (
	waitReasonIOWait = 2
	traceBlockNet    = 2
)

// The states of a parker besides a parked goroutine's g pointer.
const (
	parkEmpty    uintptr = 0
	parkNotified uintptr = 1
)

// A parker holds at most one parked goroutine, or a latched notification,
// in one word, as the runtime's pollDesc does.
type parker struct {
	state atomic.Uintptr
}

// park waits for a notification, consuming it.
func (p *parker) park() {
	for {
		if p.state.CompareAndSwap(parkNotified, parkEmpty) {
			return
		}
		gopark(parkCommit, unsafe.Pointer(&p.state), waitReasonIOWait, traceBlockNet, 1)
		// Readied: notify took our g out of the word and left it empty.
		// If parkCommit found a notification instead, gopark returned at
		// once and the loop consumes it.
		if p.state.Load() != parkNotified {
			return
		}
	}
}

// parkCommit runs on the system stack once the goroutine is off its M: it
// parks only if no notification arrived meanwhile.
func parkCommit(gp unsafe.Pointer, state unsafe.Pointer) bool {
	return (*atomic.Uintptr)(state).CompareAndSwap(parkEmpty, uintptr(gp))
}

// notify wakes the parked goroutine or latches the notification.
func (p *parker) notify() {
	for {
		s := p.state.Load()
		switch s {
		case parkNotified:
			return
		case parkEmpty:
			if p.state.CompareAndSwap(parkEmpty, parkNotified) {
				return
			}
		default:
			if p.state.CompareAndSwap(s, parkEmpty) {
				// The word holds a g as an integer, as pollDesc does,
				// so that parkCommit needs no write barrier; gs are
				// never freed, so turning it back is sound.
				goready(*(*unsafe.Pointer)(unsafe.Pointer(&s)), 1)
				return
			}
		}
	}
}

// clear drops a latched notification.
func (p *parker) clear() { p.state.CompareAndSwap(parkNotified, parkEmpty) }
