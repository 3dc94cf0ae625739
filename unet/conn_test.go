package unet_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// soak enables the long and big variants.
var soak = flag.Bool("soak", false, "run the soak variants (bigger, longer)")

// tcpConn is the *net.TCPConn method set that unet conns promise.
type tcpConn interface {
	net.Conn
	CloseRead() error
	CloseWrite() error
	SetNoDelay(bool) error
	SetKeepAlive(bool) error
	SetKeepAlivePeriod(time.Duration) error
	SetLinger(int) error
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
	SyscallConn() (syscall.RawConn, error)
	ReadFrom(io.Reader) (int64, error)
}

func asTCP(t testing.TB, c net.Conn) tcpConn {
	t.Helper()
	tc, ok := c.(tcpConn)
	require.True(t, ok, "%T lacks part of the *net.TCPConn method set", c)
	return tc
}

type ioResult struct {
	n   int
	err error
}

func goRead(c net.Conn, buf []byte) <-chan ioResult {
	ch := make(chan ioResult, 1)
	go func() {
		n, err := c.Read(buf)
		ch <- ioResult{n, err}
	}()
	return ch
}

// goWrite writes buf in one Write call.
func goWrite(c net.Conn, buf []byte) <-chan ioResult {
	ch := make(chan ioResult, 1)
	go func() {
		n, err := c.Write(buf)
		ch <- ioResult{n, err}
	}()
	return ch
}

// smallBuffers shrinks the send buffer of w and the receive buffer of r
// so that a few hundred KiB fill the path between them.
func smallBuffers(t testing.TB, w, r net.Conn) {
	t.Helper()
	require.NoError(t, asTCP(t, w).SetWriteBuffer(16<<10))
	require.NoError(t, asTCP(t, r).SetReadBuffer(16<<10))
}

// blockedWrite starts a Write of 8 MiB from w, which r never reads, and
// checks that it stays parked.
func blockedWrite(t testing.TB, w, r net.Conn) <-chan ioResult {
	t.Helper()
	smallBuffers(t, w, r)
	ch := goWrite(w, make([]byte, 8<<20))
	notYet(t, ch, 100*time.Millisecond, "Write into a full socket buffer")
	return ch
}

// readAll reads c to EOF with a deadline.
func readAll(t testing.TB, c net.Conn, d time.Duration) []byte {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	return b
}

// waitReadable waits until c has n bytes queued in the kernel.
func waitQueued(t testing.TB, c net.Conn, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var q int
		rawControl(t, c, func(fd int) { q, _ = unix.IoctlGetInt(fd, unix.SIOCINQ) })
		return q >= n
	}, 5*time.Second, time.Millisecond)
}

func TestConnMethodSet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		want := reflect.TypeOf(&net.TCPConn{})
		for _, v := range []net.Conn{c, s} {
			got := reflect.TypeOf(v)
			for i := range want.NumMethod() {
				m := want.Method(i)
				gm, ok := got.MethodByName(m.Name)
				if !ok {
					t.Errorf("%v lacks method %s of *net.TCPConn", got, m.Name)
					continue
				}
				// Compare the signatures without the receiver.
				if m.Type.NumIn() != gm.Type.NumIn() || m.Type.NumOut() != gm.Type.NumOut() {
					t.Errorf("%v.%s has signature %v, want %v", got, m.Name, gm.Type, m.Type)
					continue
				}
				for j := 1; j < m.Type.NumIn(); j++ {
					if m.Type.In(j) != gm.Type.In(j) {
						t.Errorf("%v.%s has signature %v, want %v", got, m.Name, gm.Type, m.Type)
					}
				}
				for j := range m.Type.NumOut() {
					if m.Type.Out(j) != gm.Type.Out(j) {
						t.Errorf("%v.%s has signature %v, want %v", got, m.Name, gm.Type, m.Type)
					}
				}
			}
			_ = asTCP(t, v)
			_, ok := v.(io.ReaderFrom)
			require.True(t, ok, "%T is not an io.ReaderFrom", v)
		}
	})
}

func TestConnBasicIO(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		msg := []byte("hello, unet")
		n, err := c.Write(msg)
		require.NoError(t, err)
		require.Equal(t, len(msg), n)
		buf := make([]byte, 64)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err = io.ReadAtLeast(s, buf, len(msg))
		require.NoError(t, err)
		require.Equal(t, msg, buf[:n])
		require.NoError(t, s.Close())
		// Peer FIN is a bare io.EOF, repeatedly.
		for range 2 {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err = c.Read(buf)
			require.Zero(t, n)
			require.True(t, err == io.EOF, "want bare io.EOF, got %#v", err)
		}
	})
}

func TestConnZeroByteIO(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		for _, buf := range [][]byte{nil, make([]byte, 0, 10)} {
			// Nothing queued: returns at once, does not wait for data.
			r := recv(t, goRead(c, buf), 2*time.Second, "zero-byte Read")
			require.Equal(t, ioResult{0, nil}, r)
			w := recv(t, goWrite(c, buf), 2*time.Second, "zero-byte Write")
			require.Equal(t, ioResult{0, nil}, w)
		}
		// With data queued the data stays for the next Read.
		_, err := s.Write([]byte("abc"))
		require.NoError(t, err)
		waitQueued(t, c, 3)
		n, err := c.Read(nil)
		require.Equal(t, 0, n)
		require.NoError(t, err)
		buf := make([]byte, 3)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "abc", string(buf))
		// Nothing reached the peer from the zero-byte writes.
		s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err = s.Read(buf)
		requireTimeout(t, err, "read")
	})
}

func TestConnCloseUnblocksRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, _ := pair(t, b)
		ch := goRead(c, make([]byte, 10))
		notYet(t, ch, 50*time.Millisecond, "Read")
		start := time.Now()
		require.NoError(t, c.Close())
		r := recv(t, ch, 5*time.Second, "Read to return after Close")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Zero(t, r.n)
		requireClosedErr(t, r.err, "read")
	})
}

func TestConnCloseUnblocksWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		ch := blockedWrite(t, c, s)
		start := time.Now()
		require.NoError(t, c.Close())
		r := recv(t, ch, 5*time.Second, "Write to return after Close")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Less(t, r.n, 8<<20)
		requireClosedErr(t, r.err, "write")
	})
}

func TestConnUseAfterClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		la, ra := c.LocalAddr(), c.RemoteAddr()
		sla := s.LocalAddr()
		require.NoError(t, c.Close())
		require.NoError(t, s.Close())
		_, err := c.Read(make([]byte, 1))
		requireClosedErr(t, err, "read")
		_, err = c.Write([]byte("x"))
		requireClosedErr(t, err, "write")
		requireClosedErr(t, c.Close(), "close")
		requireClosedErr(t, c.SetDeadline(time.Now()), "set")
		requireClosedErr(t, c.SetReadDeadline(time.Now()), "set")
		requireClosedErr(t, c.SetWriteDeadline(time.Now()), "set")
		requireClosedErr(t, asTCP(t, c).CloseWrite(), "close")
		requireClosedErr(t, asTCP(t, c).SetNoDelay(true), "set")
		// Addresses survive Close, as in net.
		require.Equal(t, la, c.LocalAddr())
		require.Equal(t, ra, c.RemoteAddr())
		require.Equal(t, sla, s.LocalAddr())
		rc, err := asTCP(t, c).SyscallConn()
		require.NoError(t, err)
		err = rc.Control(func(uintptr) { t.Error("Control ran on a closed conn") })
		require.ErrorIs(t, err, net.ErrClosed)
	})
}

// TestConnAcceptedLocalAddrAfterClose: an accepted conn whose address was
// never asked for still knows it after Close.
func TestConnAcceptedLocalAddrAfterClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		require.NoError(t, s.Close())
		la, ok := s.LocalAddr().(*net.TCPAddr)
		require.True(t, ok, "LocalAddr after Close is %#v", s.LocalAddr())
		require.Equal(t, c.RemoteAddr().String(), la.String())
	})
}

func TestConnCloseConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		for range 20 {
			c, s := pair(t, b)
			smallBuffers(t, c, s)
			var wg sync.WaitGroup
			rch := goRead(c, make([]byte, 10))
			wch := goWrite(c, make([]byte, 4<<20))
			time.Sleep(time.Millisecond)
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() { errs <- c.Close() })
			}
			wg.Wait()
			close(errs)
			nilCount := 0
			for err := range errs {
				if err == nil {
					nilCount++
				} else {
					requireClosedErr(t, err, "close")
				}
			}
			require.Equal(t, 1, nilCount, "exactly one Close succeeds")
			r := recv(t, rch, 5*time.Second, "Read after Close")
			requireClosedErr(t, r.err, "read")
			w := recv(t, wch, 5*time.Second, "Write after Close")
			requireClosedErr(t, w.err, "write")
			s.Close()
		}
	})
}

func TestConnPastDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		_, err := s.Write([]byte("buffered"))
		require.NoError(t, err)
		waitQueued(t, c, 8)

		// Data is queued, yet a past deadline fails at once.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
		buf := make([]byte, 16)
		for range 3 {
			start := time.Now()
			n, err := c.Read(buf)
			require.Less(t, time.Since(start), time.Second)
			require.Zero(t, n)
			requireTimeout(t, err, "read")
		}
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(-time.Second)))
		n, err := c.Write([]byte("never"))
		require.Zero(t, n)
		requireTimeout(t, err, "write")

		// Clearing the deadlines makes the conn usable again, data intact.
		require.NoError(t, c.SetDeadline(time.Time{}))
		n, err = io.ReadFull(c, buf[:8])
		require.NoError(t, err)
		require.Equal(t, "buffered", string(buf[:n]))
		_, err = c.Write([]byte("after"))
		require.NoError(t, err)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err = io.ReadFull(s, buf[:5])
		require.NoError(t, err)
		require.Equal(t, "after", string(buf[:n]), "the timed-out write leaked bytes")
	})
}

func TestConnReadTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		start := time.Now()
		n, err := c.Read(make([]byte, 10))
		el := time.Since(start)
		require.Zero(t, n)
		requireTimeout(t, err, "read")
		require.GreaterOrEqual(t, el, 90*time.Millisecond)
		require.Less(t, el, 2*time.Second)
		var oe *net.OpError
		require.True(t, errors.As(err, &oe))
		require.Equal(t, "tcp", oe.Net)
		require.Equal(t, c.LocalAddr().String(), oe.Source.String())
		require.Equal(t, c.RemoteAddr().String(), oe.Addr.String())
		require.NotErrorIs(t, err, io.EOF)

		// The deadline stays expired until it is moved.
		_, err = c.Read(make([]byte, 10))
		requireTimeout(t, err, "read")

		// A deadline in the future is no timeout: data arrives in time.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		time.AfterFunc(50*time.Millisecond, func() { s.Write([]byte("late")) })
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "late", string(buf))
	})
}

func TestConnWriteTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		smallBuffers(t, c, s)
		const size = 8 << 20
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
		start := time.Now()
		n, err := c.Write(data)
		el := time.Since(start)
		requireTimeout(t, err, "write")
		require.Less(t, n, size)
		require.GreaterOrEqual(t, el, 90*time.Millisecond)
		require.Less(t, el, 2*time.Second)

		// Exactly the n bytes reported went out, in order.
		require.NoError(t, c.Close())
		got := readAll(t, s, 10*time.Second)
		require.Equal(t, n, len(got), "Write reported %d bytes but the peer got %d", n, len(got))
		require.True(t, bytes.Equal(data[:n], got), "bytes differ")
	})
}

func TestConnDeadlineMovedWakesParked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		t.Run("read/shorten", func(t *testing.T) {
			c, _ := pair(t, b)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
			ch := goRead(c, make([]byte, 10))
			notYet(t, ch, 50*time.Millisecond, "Read")
			require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
			r := recv(t, ch, 3*time.Second, "Read woken by the shortened deadline")
			requireTimeout(t, r.err, "read")
		})
		t.Run("read/past", func(t *testing.T) {
			c, _ := pair(t, b)
			ch := goRead(c, make([]byte, 10))
			notYet(t, ch, 50*time.Millisecond, "Read")
			require.NoError(t, c.SetDeadline(time.Now().Add(-time.Second)))
			r := recv(t, ch, 3*time.Second, "Read woken by a past deadline")
			requireTimeout(t, r.err, "read")
		})
		t.Run("read/extend", func(t *testing.T) {
			c, s := pair(t, b)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
			ch := goRead(c, make([]byte, 10))
			time.Sleep(20 * time.Millisecond)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
			notYet(t, ch, 250*time.Millisecond, "Read with an extended deadline")
			_, err := s.Write([]byte("ok"))
			require.NoError(t, err)
			r := recv(t, ch, 3*time.Second, "Read")
			require.NoError(t, r.err)
			require.Equal(t, 2, r.n)
		})
		t.Run("write/shorten", func(t *testing.T) {
			c, s := pair(t, b)
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Hour)))
			ch := blockedWrite(t, c, s)
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(30*time.Millisecond)))
			r := recv(t, ch, 3*time.Second, "Write woken by the shortened deadline")
			requireTimeout(t, r.err, "write")
		})
		t.Run("read-deadline-leaves-write", func(t *testing.T) {
			c, s := pair(t, b)
			ch := blockedWrite(t, c, s)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
			notYet(t, ch, 100*time.Millisecond, "Write after a read deadline")
			require.NoError(t, c.SetWriteDeadline(time.Now()))
			r := recv(t, ch, 3*time.Second, "Write")
			requireTimeout(t, r.err, "write")
		})
	})
}

// TestConnDeadlineNoDataLoss reads a byte sequence with deadlines that keep
// expiring while the peer writes at random moments: an operation cancelled
// by its deadline must not swallow data.
func TestConnDeadlineNoDataLoss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		const total = 3000
		go func() {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < total; {
				k := min(1+rng.IntN(20), total-i)
				chunk := make([]byte, k)
				for j := range chunk {
					chunk[j] = byte(i + j)
				}
				if _, err := s.Write(chunk); err != nil {
					return
				}
				i += k
				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
				}
			}
		}()
		rng := rand.New(rand.NewPCG(3, 4))
		got := 0
		timeouts := 0
		buf := make([]byte, 7)
		deadline := time.Now().Add(20 * time.Second)
		for got < total {
			require.True(t, time.Now().Before(deadline), "stalled at %d/%d bytes", got, total)
			c.SetReadDeadline(time.Now().Add(time.Duration(rng.IntN(200)) * time.Microsecond))
			n, err := c.Read(buf)
			for j := range n {
				require.Equal(t, byte(got+j), buf[j], "byte %d", got+j)
			}
			got += n
			if err != nil {
				requireTimeout(t, err, "read")
				timeouts++
			}
		}
		t.Logf("%d timeouts", timeouts)
		require.NotZero(t, timeouts)
	})
}

func TestConnReset(t *testing.T) {
	checkReset := func(t *testing.T, err error, op string) {
		t.Helper()
		requireOpError(t, err, op)
		require.NotErrorIs(t, err, io.EOF)
		require.NotErrorIs(t, err, net.ErrClosed)
		var ne net.Error
		require.True(t, errors.As(err, &ne))
		require.False(t, ne.Timeout())
		var te interface{ Temporary() bool }
		require.True(t, errors.As(err, &te))
		require.False(t, te.Temporary(), "reset is Temporary: %v", err)
	}
	forEachBackend(t, func(t *testing.T, b string) {
		t.Run("linger0", func(t *testing.T) {
			c, s := pair(t, b)
			require.NoError(t, asTCP(t, s).SetLinger(0))
			require.NoError(t, s.Close())
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := c.Read(make([]byte, 10))
			checkReset(t, err, "read")
			require.ErrorIs(t, err, syscall.ECONNRESET)
			_, err = c.Write([]byte("x"))
			checkReset(t, err, "write")
			require.True(t, errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET), "%v", err)
		})
		t.Run("parked", func(t *testing.T) {
			c, s := pair(t, b)
			ch := goRead(c, make([]byte, 10))
			notYet(t, ch, 50*time.Millisecond, "Read")
			require.NoError(t, asTCP(t, s).SetLinger(0))
			require.NoError(t, s.Close())
			r := recv(t, ch, 5*time.Second, "parked Read after reset")
			checkReset(t, r.err, "read")
			require.ErrorIs(t, r.err, syscall.ECONNRESET)
		})
		t.Run("unread-data", func(t *testing.T) {
			// Closing with unread data makes the kernel send RST.
			c, s := pair(t, b)
			_, err := c.Write([]byte("unread"))
			require.NoError(t, err)
			waitQueued(t, s, 6)
			require.NoError(t, s.Close())
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 10))
			checkReset(t, err, "read")
		})
		t.Run("blocked-write", func(t *testing.T) {
			c, s := pair(t, b)
			ch := blockedWrite(t, c, s)
			require.NoError(t, asTCP(t, s).SetLinger(0))
			require.NoError(t, s.Close())
			r := recv(t, ch, 5*time.Second, "parked Write after reset")
			checkReset(t, r.err, "write")
		})
	})
}

// TestConnResetTakenByWrite: the kernel reports a reset once, to the
// first call that asks. With no Read waiting, that is the next write,
// whichever kind; reads then see the stream's end. uring's read-ahead,
// left armed by a Read that timed out, takes the reset from the kernel
// first; the conn must still hand it to that write, as std's does.
func TestConnResetTakenByWrite(t *testing.T) {
	writes := []struct {
		name  string
		write func(c net.Conn) error
	}{
		{"Write", func(c net.Conn) error { _, err := c.Write([]byte("x")); return err }},
		{"WriteZero", func(c net.Conn) error { _, err := c.Write(nil); return err }},
		{"RawWrite", func(c net.Conn) error {
			rc, err := c.(syscall.Conn).SyscallConn()
			if err != nil {
				return err
			}
			var werr error
			if err := rc.Write(func(fd uintptr) bool {
				_, werr = unix.Write(int(fd), []byte("x"))
				return true
			}); err != nil {
				return err
			}
			return werr
		}},
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				c, s := pair(t, b)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
				_, err := c.Read(make([]byte, 10))
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				require.NoError(t, asTCP(t, s).SetLinger(0))
				require.NoError(t, s.Close())
				waitHangUp(t, c)
				// Time for uring's receive to take the reset, if it will.
				time.Sleep(50 * time.Millisecond)
				require.ErrorIs(t, w.write(c), syscall.ECONNRESET)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
				_, err = c.Read(make([]byte, 10))
				require.ErrorIs(t, err, io.EOF)
			})
		}
	})
}

// waitHangUp waits until c's socket reports a hang-up, without reading.
func waitHangUp(t testing.TB, c net.Conn) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var hup bool
		require.NoError(t, rc.Control(func(fd uintptr) {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(pfd, 0)
			hup = err == nil && n == 1 && pfd[0].Revents&unix.POLLHUP != 0
		}))
		return hup
	}, 5*time.Second, time.Millisecond)
}

func TestConnCloseWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		_, err := c.Write([]byte("request"))
		require.NoError(t, err)
		require.NoError(t, asTCP(t, c).CloseWrite())
		// The peer reads the data, then a bare io.EOF.
		got := readAll(t, s, 5*time.Second)
		require.Equal(t, "request", string(got))
		n, err := s.Read(make([]byte, 1))
		require.Zero(t, n)
		require.True(t, err == io.EOF, "want bare io.EOF, got %#v", err)
		// The other direction still works.
		_, err = s.Write([]byte("response"))
		require.NoError(t, err)
		buf := make([]byte, 8)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "response", string(buf))
		// Writing after CloseWrite is a broken pipe.
		_, err = c.Write([]byte("more"))
		requireOpError(t, err, "write")
		require.ErrorIs(t, err, syscall.EPIPE)
		// Then the server half-closes too.
		require.NoError(t, asTCP(t, s).CloseWrite())
		n, err = c.Read(buf)
		require.Zero(t, n)
		require.True(t, err == io.EOF, "want bare io.EOF, got %#v", err)
	})
}

func TestConnCloseRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		ch := goRead(c, make([]byte, 10))
		notYet(t, ch, 50*time.Millisecond, "Read")
		require.NoError(t, asTCP(t, c).CloseRead())
		r := recv(t, ch, 5*time.Second, "parked Read after CloseRead")
		require.Zero(t, r.n)
		require.True(t, r.err == io.EOF, "want bare io.EOF, got %#v", r.err)
		n, err := c.Read(make([]byte, 10))
		require.Zero(t, n)
		require.True(t, err == io.EOF, "want bare io.EOF, got %#v", err)
		// Writing still works.
		_, err = c.Write([]byte("still"))
		require.NoError(t, err)
		buf := make([]byte, 5)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		require.Equal(t, "still", string(buf))
	})
}

func TestConnAddrs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		for _, a := range []net.Addr{c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr()} {
			ta, ok := a.(*net.TCPAddr)
			require.True(t, ok, "address %#v is not *net.TCPAddr", a)
			require.True(t, ta.IP.Equal(net.IPv4(127, 0, 0, 1)), "%v", ta)
			require.NotZero(t, ta.Port)
			require.Equal(t, "tcp", a.Network())
		}
		require.Equal(t, c.LocalAddr().String(), s.RemoteAddr().String())
		require.Equal(t, c.RemoteAddr().String(), s.LocalAddr().String())
	})
}

func TestConnSockopts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		for name, v := range map[string]net.Conn{"dialed": c, "accepted": s} {
			t.Run(name, func(t *testing.T) {
				tc := asTCP(t, v)
				// net's defaults.
				require.Equal(t, 1, getsockoptInt(t, v, unix.IPPROTO_TCP, unix.TCP_NODELAY))
				require.Equal(t, 1, getsockoptInt(t, v, unix.SOL_SOCKET, unix.SO_KEEPALIVE))

				require.NoError(t, tc.SetNoDelay(false))
				require.Equal(t, 0, getsockoptInt(t, v, unix.IPPROTO_TCP, unix.TCP_NODELAY))
				require.NoError(t, tc.SetNoDelay(true))
				require.Equal(t, 1, getsockoptInt(t, v, unix.IPPROTO_TCP, unix.TCP_NODELAY))

				require.NoError(t, tc.SetKeepAlive(false))
				require.Equal(t, 0, getsockoptInt(t, v, unix.SOL_SOCKET, unix.SO_KEEPALIVE))
				require.NoError(t, tc.SetKeepAlive(true))
				require.Equal(t, 1, getsockoptInt(t, v, unix.SOL_SOCKET, unix.SO_KEEPALIVE))
				require.NoError(t, tc.SetKeepAlivePeriod(42*time.Second))
				require.Equal(t, 42, getsockoptInt(t, v, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE))

				linger := func() unix.Linger {
					var l *unix.Linger
					var err error
					rawControl(t, v, func(fd int) { l, err = unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER) })
					require.NoError(t, err)
					return *l
				}
				require.NoError(t, tc.SetLinger(5))
				require.Equal(t, unix.Linger{Onoff: 1, Linger: 5}, linger())
				require.NoError(t, tc.SetLinger(0))
				require.Equal(t, unix.Linger{Onoff: 1, Linger: 0}, linger())
				require.NoError(t, tc.SetLinger(-1))
				require.Zero(t, linger().Onoff)

				// Linux doubles the value set.
				require.NoError(t, tc.SetReadBuffer(48<<10))
				require.Equal(t, 96<<10, getsockoptInt(t, v, unix.SOL_SOCKET, unix.SO_RCVBUF))
				require.NoError(t, tc.SetWriteBuffer(40<<10))
				require.Equal(t, 80<<10, getsockoptInt(t, v, unix.SOL_SOCKET, unix.SO_SNDBUF))
			})
		}
		// The conn still works after all that.
		_, err := c.Write([]byte("ok"))
		require.NoError(t, err)
		buf := make([]byte, 2)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
	})
}

func TestConnSyscallConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		rc, err := asTCP(t, c).SyscallConn()
		require.NoError(t, err)

		// Control sees the conn's own socket.
		var peer unix.Sockaddr
		var typ int
		require.NoError(t, rc.Control(func(fd uintptr) {
			typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
			peer, _ = unix.Getpeername(int(fd))
		}))
		require.Equal(t, unix.SOCK_STREAM, typ)
		require.Equal(t, c.RemoteAddr().(*net.TCPAddr).Port, peer.(*unix.SockaddrInet4).Port)

		// Read calls f again once the socket is readable.
		time.AfterFunc(50*time.Millisecond, func() { s.Write([]byte("raw data")) })
		var calls int
		var got []byte
		require.NoError(t, rc.Read(func(fd uintptr) bool {
			calls++
			buf := make([]byte, 64)
			n, err := unix.Read(int(fd), buf)
			if err == unix.EAGAIN {
				return false
			}
			require.NoError(t, err)
			got = buf[:n]
			return true
		}))
		require.Equal(t, "raw data", string(got))
		require.GreaterOrEqual(t, calls, 2, "f was not retried after EAGAIN")

		// Write.
		require.NoError(t, rc.Write(func(fd uintptr) bool {
			_, err := unix.Write(int(fd), []byte("raw write"))
			return err != unix.EAGAIN
		}))
		buf := make([]byte, 9)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		require.Equal(t, "raw write", string(buf))

		// A read deadline interrupts a waiting rc.Read.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
		err = rc.Read(func(fd uintptr) bool {
			_, err := unix.Read(int(fd), make([]byte, 1))
			return err != unix.EAGAIN
		})
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.NoError(t, c.SetReadDeadline(time.Time{}))

		// Close wakes a waiting rc.Read.
		done := make(chan error, 1)
		go func() {
			done <- rc.Read(func(fd uintptr) bool {
				_, err := unix.Read(int(fd), make([]byte, 1))
				return err != unix.EAGAIN
			})
		}()
		notYet(t, done, 50*time.Millisecond, "raw Read")
		c.Close()
		err = recv(t, done, 5*time.Second, "raw Read after Close")
		require.ErrorIs(t, err, net.ErrClosed)
	})
}

// makeFile writes a file of size random bytes and returns it opened.
func makeFile(t testing.TB, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size)}).Read(data)
	path := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, data
}

func TestConnReadFrom(t *testing.T) {
	const size = 3<<20 + 12345
	forEachBackend(t, func(t *testing.T, b string) {
		cases := []struct {
			name   string
			src    func(f *os.File) io.Reader
			offset int64 // file offset before
			want   func(data []byte) []byte
			after  int64 // file offset after
		}{
			{"file", func(f *os.File) io.Reader { return f }, 0,
				func(d []byte) []byte { return d }, size},
			{"file-offset", func(f *os.File) io.Reader { return f }, 1 << 20,
				func(d []byte) []byte { return d[1<<20:] }, size},
			{"limited", func(f *os.File) io.Reader { return &io.LimitedReader{R: f, N: 1<<20 + 7} }, 100,
				func(d []byte) []byte { return d[100 : 100+1<<20+7] }, 100 + 1<<20 + 7},
			{"reader", func(f *os.File) io.Reader { return struct{ io.Reader }{f} }, 0,
				func(d []byte) []byte { return d }, size},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f, data := makeFile(t, size)
				_, err := f.Seek(tc.offset, io.SeekStart)
				require.NoError(t, err)
				c, s := pair(t, b)
				want := tc.want(data)
				type res struct {
					n   int64
					err error
				}
				ch := make(chan res, 1)
				go func() {
					n, err := asTCP(t, s).ReadFrom(tc.src(f))
					s.(interface{ CloseWrite() error }).CloseWrite()
					ch <- res{n, err}
				}()
				got := readAll(t, c, 30*time.Second)
				r := recv(t, ch, 10*time.Second, "ReadFrom")
				require.NoError(t, r.err)
				require.Equal(t, int64(len(want)), r.n)
				require.Equal(t, len(want), len(got))
				require.Equal(t, sha256.Sum256(want), sha256.Sum256(got), "bytes differ")
				pos, err := f.Seek(0, io.SeekCurrent)
				require.NoError(t, err)
				require.Equal(t, tc.after, pos, "file offset after ReadFrom")
			})
		}
		t.Run("io.Copy", func(t *testing.T) {
			f, data := makeFile(t, size)
			c, s := pair(t, b)
			go func() {
				io.Copy(s, f)
				s.Close()
			}()
			got := readAll(t, c, 30*time.Second)
			require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
		})
		t.Run("deadline", func(t *testing.T) {
			// A sparse file far bigger than the socket buffers.
			f, err := os.Create(filepath.Join(t.TempDir(), "sparse"))
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, f.Truncate(64<<20))
			c, s := pair(t, b)
			smallBuffers(t, s, c)
			require.NoError(t, s.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			start := time.Now()
			n, err := asTCP(t, s).ReadFrom(f)
			el := time.Since(start)
			requireTimeout(t, err, "readfrom")
			require.Less(t, n, int64(64<<20))
			require.Less(t, el, 3*time.Second)
			// The peer gets exactly n bytes.
			s.Close()
			got := readAll(t, c, 10*time.Second)
			require.Equal(t, n, int64(len(got)))
		})
		t.Run("close", func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "sparse"))
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, f.Truncate(64<<20))
			c, s := pair(t, b)
			smallBuffers(t, s, c)
			ch := make(chan error, 1)
			go func() {
				_, err := asTCP(t, s).ReadFrom(f)
				ch <- err
			}()
			notYet(t, ch, 100*time.Millisecond, "ReadFrom into a full socket")
			s.Close()
			err = recv(t, ch, 5*time.Second, "ReadFrom after Close")
			require.ErrorIs(t, err, net.ErrClosed)
		})
	})
}

// TestConnFullDuplex writes 8 MiB each way at once through small socket
// buffers: Read and Write of one conn must not block each other.
func TestConnFullDuplex(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		smallBuffers(t, c, s)
		smallBuffers(t, s, c)
		const size = 8 << 20
		up, down := make([]byte, size), make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(up)
		rand.NewChaCha8([32]byte{2}).Read(down)
		var wg sync.WaitGroup
		var gotUp, gotDown []byte
		var errs [4]error
		wg.Go(func() { _, errs[0] = c.Write(up); asTCP(t, c).CloseWrite() })
		wg.Go(func() { _, errs[1] = s.Write(down); asTCP(t, s).CloseWrite() })
		wg.Go(func() { gotUp, errs[2] = io.ReadAll(s) })
		wg.Go(func() { gotDown, errs[3] = io.ReadAll(c) })
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			c.Close()
			s.Close()
			<-done
			t.Fatal("full-duplex transfer stalled")
		}
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.True(t, bytes.Equal(up, gotUp), "upstream bytes differ (%d/%d)", len(gotUp), size)
		require.True(t, bytes.Equal(down, gotDown), "downstream bytes differ (%d/%d)", len(gotDown), size)
	})
}

// TestConnStress runs many conns at once, each echoing its own random data
// in random chunks, over several open/close cycles so that descriptor
// numbers are reused.
func TestConnStress(t *testing.T) {
	conns, cycles, maxTotal := 200, 3, 192<<10
	if testing.Short() {
		conns, cycles, maxTotal = 50, 2, 64<<10
	}
	if *soak {
		conns, cycles, maxTotal = 1000, 5, 512<<10
	}
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		var served atomic.Int64
		var swg sync.WaitGroup
		swg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				swg.Go(func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(60 * time.Second))
					buf := make([]byte, 32<<10)
					for {
						n, err := c.Read(buf)
						if n > 0 {
							if _, werr := c.Write(buf[:n]); werr != nil {
								return
							}
						}
						if err == io.EOF {
							served.Add(1)
							c.(interface{ CloseWrite() error }).CloseWrite()
							return
						}
						if err != nil {
							return
						}
					}
				})
			}
		})
		defer func() {
			ln.Close()
			swg.Wait()
		}()
		for cycle := range cycles {
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := range conns {
				seed := uint64(cycle*100000 + i)
				wg.Go(func() {
					if err := stressConn(b, ln.Addr().String(), seed, maxTotal); err != nil {
						errs <- fmt.Errorf("cycle %d conn %d: %w", cycle, i, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
		}
		require.Eventually(t, func() bool { return served.Load() == int64(conns*cycles) }, 10*time.Second, 10*time.Millisecond)
	})
}

// stressConn sends a seeded random stream in random chunks and checks the
// echo, byte for byte, then half-closes and expects EOF.
func stressConn(backend, addr string, seed uint64, maxTotal int) error {
	c, err := dialBackend(backend, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	rng := rand.New(rand.NewPCG(seed, 42))
	total := 1 + rng.IntN(maxTotal)
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 7}).Read(data)
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < total; {
			var k int
			switch rng.IntN(3) {
			case 0:
				k = 1 + rng.IntN(16)
			case 1:
				k = 1 + rng.IntN(4<<10)
			default:
				k = 1 + rng.IntN(64<<10)
			}
			k = min(k, total-off)
			if _, err := c.Write(data[off : off+k]); err != nil {
				werr <- err
				return
			}
			off += k
		}
		werr <- c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got := make([]byte, 0, total)
	buf := make([]byte, 1+int(seed%(64<<10)))
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read after %d/%d bytes: %w", len(got), total, err)
		}
		if len(got) > total {
			return fmt.Errorf("got %d bytes, sent %d", len(got), total)
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if len(got) != total {
		return fmt.Errorf("got %d bytes back, sent %d", len(got), total)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for got[i] == data[i] {
			i++
		}
		return fmt.Errorf("echo differs at byte %d of %d", i, total)
	}
	return nil
}

func TestConnFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		fc, ok := c.(interface{ File() (*os.File, error) })
		require.True(t, ok, "%T has no File method", c)
		f, err := fc.File()
		require.NoError(t, err)
		defer f.Close()
		// A different descriptor for the same socket.
		var connFD int
		rawControl(t, c, func(fd int) { connFD = fd })
		require.NotEqual(t, uintptr(connFD), f.Fd())
		sa, err := unix.Getsockname(int(f.Fd()))
		require.NoError(t, err)
		require.Equal(t, c.LocalAddr().(*net.TCPAddr).Port, sa.(*unix.SockaddrInet4).Port)
		// Closing the file leaves the conn working.
		require.NoError(t, f.Close())
		_, err = c.Write([]byte("still"))
		require.NoError(t, err)
		buf := make([]byte, 5)
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		require.Equal(t, "still", string(buf))
		// Closing the conn leaves a file taken before open: the peer sees
		// no EOF until both are closed.
		f2, err := fc.File()
		require.NoError(t, err)
		require.NoError(t, c.Close())
		s.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err = s.Read(buf)
		requireTimeout(t, err, "read")
		require.NoError(t, f2.Close())
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = s.Read(buf)
		require.Equal(t, io.EOF, err)
	})
}

func TestUnixSocket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		path := filepath.Join(t.TempDir(), "sock")
		ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "unix", path)
		require.NoError(t, err)
		defer ln.Close()
		if b == "std" {
			require.IsType(t, &net.UnixListener{}, ln)
		} else {
			require.Equal(t, "*unet.Listener", fmt.Sprintf("%T", ln))
		}
		require.Equal(t, &net.UnixAddr{Name: path, Net: "unix"}, ln.Addr())
		ch := goAccept(ln)
		c, err := (&unet.Dialer{Backend: b}).Dial("unix", path)
		require.NoError(t, err)
		defer c.Close()
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		defer r.c.Close()
		_, ok := c.RemoteAddr().(*net.UnixAddr)
		require.True(t, ok, "RemoteAddr %#v", c.RemoteAddr())
		_, ok = r.c.LocalAddr().(*net.UnixAddr)
		require.True(t, ok, "LocalAddr %#v", r.c.LocalAddr())
		msg := randomish(256 << 10)
		go func() {
			c.Write(msg)
			c.(interface{ CloseWrite() error }).CloseWrite()
		}()
		got := readAll(t, r.c, 10*time.Second)
		require.True(t, bytes.Equal(msg, got), "bytes differ")
		// Close removes the socket file, as net does.
		require.NoError(t, ln.Close())
		_, err = os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func randomish(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{9}).Read(b)
	return b
}
