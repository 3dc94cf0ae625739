package epollsched

import (
	"sync/atomic"

	"github.com/unetio/unet/runtime"
)

// RawRead implements runtime.FD.
func (f *fd) RawRead(fn func(sysfd int) bool) error {
	if err := f.lock.ReadLock(); err != nil {
		return err
	}
	defer f.lock.ReadUnlock()
	return f.raw(fn, &f.readReady, &f.rw)
}

// RawWrite implements runtime.FD.
func (f *fd) RawWrite(fn func(sysfd int) bool) error {
	if err := f.lock.WriteLock(); err != nil {
		return err
	}
	defer f.lock.WriteUnlock()
	return f.raw(fn, &f.writeReady, &f.ww)
}

// raw calls fn until it returns true, waiting on w in between.
//
// fn does not say whether it stopped on EAGAIN, so the flag cannot tell
// whether to wait. Instead, as the runtime's pollReset does, each round
// forgets earlier readiness before calling fn: the latched notification
// first, then the flag. An edge whose flag store comes after our clear
// notifies after our Clear, so the Wait returns; an edge before it came
// before fn looked.
func (f *fd) raw(fn func(sysfd int) bool, ready *atomic.Bool, w *runtime.Waiter) error {
	// fn may stop with data or room left; the next Read or Write must try
	// its system call rather than wait for an edge that already came.
	defer ready.Store(true)
	for {
		if err := w.Err(); err != nil {
			return err
		}
		w.Clear()
		ready.Store(false)
		if fn(f.sysfd) {
			return nil
		}
		if err := f.wait(w); err != nil {
			return err
		}
	}
}
