package epollsched

import (
	"sync"
	"sync/atomic"
)

// A table maps descriptor numbers to their *fd, for the poller to turn an
// event's key back into its fd.
//
// The slot index is the descriptor number: while a socket is open nobody
// else can hold its number, and the kernel hands out the lowest free one,
// so numbers are unique and dense without an allocator of our own. The
// generation in the key (see fd.key) tells a reused number apart.
//
// The poller does a lookup per event, so lookups take no lock. Slots live
// in fixed pages that never move; growing copies only the page pointers,
// under mu, and publishes the new directory atomically.
type table struct {
	mu    sync.Mutex // serializes growth
	pages atomic.Pointer[[]*page]
}

const (
	pageBits = 9 // 512 slots, 4 KiB a page
	pageMask = 1<<pageBits - 1
)

type page [1 << pageBits]atomic.Pointer[fd]

// load returns the fd in slot i, or nil.
func (t *table) load(i int32) *fd {
	pp := t.pages.Load()
	if i < 0 || pp == nil || int(i>>pageBits) >= len(*pp) {
		return nil
	}
	return (*pp)[i>>pageBits][i&pageMask].Load()
}

// store puts f in slot i, which must be empty: i is an open descriptor
// that only f owns.
func (t *table) store(i int, f *fd) { t.slot(i).Store(f) }

// remove empties slot i if it still holds f.
func (t *table) remove(i int, f *fd) { t.slot(i).CompareAndSwap(f, nil) }

func (t *table) slot(i int) *atomic.Pointer[fd] {
	pp := t.pages.Load()
	if pp == nil || i>>pageBits >= len(*pp) {
		pp = t.grow(i >> pageBits)
	}
	return &(*pp)[i>>pageBits][i&pageMask]
}

// grow makes page n exist and returns the directory that holds it.
func (t *table) grow(n int) *[]*page {
	t.mu.Lock()
	defer t.mu.Unlock()
	var pages []*page
	if pp := t.pages.Load(); pp != nil {
		if n < len(*pp) {
			return pp // grown by another goroutine meanwhile
		}
		pages = *pp
	}
	grown := make([]*page, max(n+1, 2*len(pages)))
	copy(grown, pages)
	for j := len(pages); j < len(grown); j++ {
		grown[j] = new(page)
	}
	t.pages.Store(&grown)
	return &grown
}
