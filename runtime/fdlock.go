package runtime

import (
	"net"
	"sync"
	"sync/atomic"
)

// closingBit marks an FDLock whose Close has begun; the low bits count
// references.
const closingBit = 1 << 63

// An FDLock counts the references that operations in flight hold on a
// descriptor and serializes Reads and Writes, so that Close can wake them
// and destroy the descriptor only when the last one has left. It plays the
// part of internal/poll's fdMutex.
type FDLock struct {
	state    atomic.Uint64
	rmu, wmu sync.Mutex
	destroy  func()
	done     chan struct{}
}

// Init prepares the lock; destroy runs once, when the last reference is
// dropped after Close, and must release the descriptor.
func (l *FDLock) Init(destroy func()) {
	l.destroy = destroy
	l.done = make(chan struct{})
}

// Incref takes a reference, or fails with net.ErrClosed once Close began.
func (l *FDLock) Incref() error {
	for {
		s := l.state.Load()
		if s&closingBit != 0 {
			return net.ErrClosed
		}
		if l.state.CompareAndSwap(s, s+1) {
			return nil
		}
	}
}

// Decref drops a reference; the last one after Close destroys the
// descriptor.
func (l *FDLock) Decref() {
	if l.state.Add(^uint64(0)) == closingBit {
		l.destroy()
		close(l.done)
	}
}

// Closing reports whether Close has begun.
func (l *FDLock) Closing() bool { return l.state.Load()&closingBit != 0 }

// ReadLock takes a reference and the read lock.
func (l *FDLock) ReadLock() error { return l.lock(&l.rmu) }

// ReadUnlock releases what ReadLock took.
func (l *FDLock) ReadUnlock() { l.rmu.Unlock(); l.Decref() }

// WriteLock takes a reference and the write lock.
func (l *FDLock) WriteLock() error { return l.lock(&l.wmu) }

// WriteUnlock releases what WriteLock took.
func (l *FDLock) WriteUnlock() { l.wmu.Unlock(); l.Decref() }

func (l *FDLock) lock(mu *sync.Mutex) error {
	if err := l.Incref(); err != nil {
		return err
	}
	mu.Lock()
	if l.Closing() {
		mu.Unlock()
		l.Decref()
		return net.ErrClosed
	}
	return nil
}

// StartClose marks the lock closing while holding a reference of its own,
// so that the descriptor survives until FinishClose. It fails with
// net.ErrClosed if Close already began. Between the two calls the owner
// wakes its parked operations.
func (l *FDLock) StartClose() error {
	for {
		s := l.state.Load()
		if s&closingBit != 0 {
			return net.ErrClosed
		}
		if l.state.CompareAndSwap(s, (s+1)|closingBit) {
			return nil
		}
	}
}

// FinishClose drops Close's reference and waits until the descriptor has
// been destroyed, so that its number is free when Close returns.
func (l *FDLock) FinishClose() {
	l.Decref()
	<-l.done
}
