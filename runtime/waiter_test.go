package runtime

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newWaiter() *Waiter {
	w := new(Waiter)
	w.Init(nil)
	return w
}

func TestWaiterLatchesNotify(t *testing.T) {
	w := newWaiter()
	w.Notify()
	w.Notify() // a second notification folds into the first
	require.NoError(t, w.Wait())
	done := make(chan error)
	go func() { done <- w.Wait() }()
	select {
	case <-done:
		t.Fatal("Wait returned without a notification")
	case <-time.After(20 * time.Millisecond):
	}
	w.Notify()
	require.NoError(t, <-done)
}

func TestWaiterDeadline(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0 leaves none
		want     error
	}{
		{"past", -time.Second, os.ErrDeadlineExceeded},
		{"soon", 20 * time.Millisecond, os.ErrDeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWaiter()
			w.SetDeadline(time.Now().Add(tt.deadline))
			start := time.Now()
			require.ErrorIs(t, w.Wait(), tt.want)
			require.Less(t, time.Since(start), 2*time.Second)
			w.SetDeadline(time.Time{})
			require.NoError(t, w.Err(), "clearing the deadline must clear the expiry")
		})
	}
}

func TestWaiterDeadlineMovedWhileParked(t *testing.T) {
	w := newWaiter()
	w.SetDeadline(time.Now().Add(time.Hour))
	done := make(chan error)
	go func() { done <- w.Wait() }()
	time.Sleep(10 * time.Millisecond)
	w.SetDeadline(time.Now().Add(10 * time.Millisecond))
	require.ErrorIs(t, <-done, os.ErrDeadlineExceeded)
	// A later deadline after the expiry un-expires, and the old timer
	// firing late must not expire it again.
	w.SetDeadline(time.Now().Add(time.Hour))
	time.Sleep(30 * time.Millisecond)
	require.NoError(t, w.Err())
}

func TestWaiterEvict(t *testing.T) {
	w := newWaiter()
	done := make(chan error)
	go func() { done <- w.Wait() }()
	time.Sleep(10 * time.Millisecond)
	w.Evict()
	require.ErrorIs(t, <-done, net.ErrClosed)
	require.ErrorIs(t, w.Wait(), net.ErrClosed)
}

func TestFDLockCloseWaitsForReferences(t *testing.T) {
	var l FDLock
	destroyed := make(chan struct{})
	l.Init(func() { close(destroyed) })
	require.NoError(t, l.ReadLock())
	closed := make(chan struct{})
	go func() {
		require.NoError(t, l.StartClose())
		l.FinishClose()
		close(closed)
	}()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned while a Read held a reference")
	default:
	}
	require.ErrorIs(t, l.Incref(), net.ErrClosed)
	l.ReadUnlock()
	<-closed
	<-destroyed
	require.True(t, errors.Is(l.StartClose(), net.ErrClosed))
}

// BenchmarkWaiterPingPong measures one notify and wake-up between two
// goroutines, the cost a scheduler pays per completion it delivers.
func BenchmarkWaiterPingPong(b *testing.B) {
	a, c := newWaiter(), newWaiter()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < b.N; i++ {
			a.Wait()
			c.Notify()
		}
	}()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Notify()
		c.Wait()
	}
	wg.Wait()
}
