package unet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// unreachableRawConn dials ln with the backend and returns only the
// conn's RawConn: nothing else refers to the conn.
func unreachableRawConn(t *testing.T, b string, ln net.Listener) syscall.RawConn {
	t.Helper()
	c, err := (&unet.Dialer{Backend: b}).Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	rc, err := c.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	return rc
}

// TestRawConnKeepsConnAlive: a RawConn in use keeps its conn, and the
// descriptor, alive although nothing else refers to the conn, as net's
// does; once the RawConn is dropped too, the conn is closed by the GC.
func TestRawConnKeepsConnAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		ch := goAccept(ln)
		rc := unreachableRawConn(t, b, ln)
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		s := r.c
		defer s.Close()

		// Collect garbage while rc.Read waits, then send it a byte.
		stop := make(chan struct{})
		gcDone := make(chan struct{})
		go func() {
			defer close(gcDone)
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) {
				runtime.GC()
			}
			s.Write([]byte("x"))
			<-stop
		}()
		var got []byte
		err := rc.Read(func(fd uintptr) bool {
			runtime.GC()
			buf := make([]byte, 8)
			n, err := unix.Read(int(fd), buf)
			if err == unix.EAGAIN {
				return false
			}
			got = buf[:max(n, 0)]
			return true
		})
		close(stop)
		<-gcDone
		require.NoError(t, err, "RawConn.Read on a conn reachable only through its RawConn")
		require.Equal(t, "x", string(got))
		for range 3 {
			runtime.GC()
		}
		require.NoError(t, rc.Control(func(fd uintptr) {
			_, err := unix.Getpeername(int(fd))
			require.NoError(t, err)
		}))

		// Dropped, the conn is closed by its cleanup: the peer reads EOF.
		rc = nil
		require.NoError(t, s.SetReadDeadline(time.Now().Add(10*time.Second)))
		eof := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(s)
			eof <- err
		}()
		for {
			runtime.GC()
			select {
			case err := <-eof:
				require.NoError(t, err, "the dropped conn was not closed by the GC")
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
}

// TestListenerClosedByGC: a listener dropped without Close is closed by
// the GC, as net's are: dials to it are refused.
func TestListenerClosedByGC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		addrs := dropListeners(t, b, 10)
		deadline := time.Now().Add(5 * time.Second)
		for _, addr := range addrs {
			for {
				runtime.GC()
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					// Reset: the listener closed with this conn queued.
					require.True(t, errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET), "dial %s: %v", addr, err)
					break
				}
				c.Close()
				require.True(t, time.Now().Before(deadline), "listener %s still accepts 5s after it was dropped", addr)
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}

// dropListeners opens n listeners with the backend and keeps only their
// addresses.
func dropListeners(t *testing.T, b string, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}
