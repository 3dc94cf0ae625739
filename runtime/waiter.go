package runtime

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A Waiter parks the one goroutine that waits in one direction of an FD
// until the scheduler notifies it, its deadline passes or the FD closes. It
// is the counterpart of the runtime's pollDesc: a notification that finds
// nobody waiting is latched, so a wake-up is never lost, and a waiter may
// wake spuriously, so callers retry their operation in a loop.
type Waiter struct {
	wake     parker // the parked goroutine or the latched notification
	closing  atomic.Bool
	expired  atomic.Bool
	mu       sync.Mutex  // guards deadline and timer
	deadline time.Time   // zero: none
	timer    *time.Timer // created on the first future deadline
	onExpire func()      // called when a deadline expires, may be nil
}

// Init prepares the waiter. onExpire, if not nil, runs each time the
// deadline passes, after waking the waiter: completion schedulers use it
// to cancel an operation the kernel still holds.
func (w *Waiter) Init(onExpire func()) {
	w.onExpire = onExpire
}

// Notify wakes the parked goroutine, or latches the wake-up for the next
// Wait.
func (w *Waiter) Notify() { w.wake.notify() }

// Err reports why an operation cannot proceed: net.ErrClosed after Evict,
// os.ErrDeadlineExceeded after the deadline, else nil.
func (w *Waiter) Err() error {
	if w.closing.Load() {
		return net.ErrClosed
	}
	if w.expired.Load() {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Wait parks until a notification, then reports Err. A notification
// latched earlier returns at once.
func (w *Waiter) Wait() error {
	if err := w.Err(); err != nil {
		return err
	}
	w.wake.park()
	return w.Err()
}

// Clear drops a latched notification; a scheduler calls it before it
// re-checks readiness, as the runtime's poll reset does.
func (w *Waiter) Clear() { w.wake.clear() }

// Evict wakes the waiter for good: every Wait from now on fails with
// net.ErrClosed.
func (w *Waiter) Evict() {
	w.closing.Store(true)
	w.Notify()
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
}

// SetDeadline sets or, with the zero time, clears the deadline. A deadline
// already past wakes the waiter at once.
func (w *Waiter) SetDeadline(t time.Time) {
	w.mu.Lock()
	w.deadline = t
	if t.IsZero() {
		if w.timer != nil {
			w.timer.Stop()
		}
		w.expired.Store(false)
		w.mu.Unlock()
		return
	}
	d := time.Until(t)
	if d <= 0 {
		if w.timer != nil {
			w.timer.Stop()
		}
		w.expireLocked()
		w.mu.Unlock()
		w.cancelParked()
		return
	}
	w.expired.Store(false)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
	w.mu.Unlock()
}

// fire runs on the timer. The deadline may have moved since the timer was
// armed, so it expires only a deadline that has really passed.
func (w *Waiter) fire() {
	w.mu.Lock()
	due := !w.deadline.IsZero() && !time.Now().Before(w.deadline)
	if due {
		w.expireLocked()
	}
	w.mu.Unlock()
	if due {
		w.cancelParked()
	}
}

// expireLocked marks the deadline passed under w.mu, so that a deadline
// cleared concurrently cannot be overwritten by a timer that fired first.
func (w *Waiter) expireLocked() {
	w.expired.Store(true)
	w.Notify()
}

func (w *Waiter) cancelParked() {
	if w.onExpire != nil {
		w.onExpire()
	}
}

// Park waits for the next notification whatever the deadline or Close
// say: a completion scheduler uses it after cancelling a request, to wait
// until the kernel has let go of the request's buffer.
func (w *Waiter) Park() { w.wake.park() }
