package unet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fault tests run every backend through races and failures that a
// server meets under load: Close racing every other method, deadlines
// moved in a tight loop around parked operations, connection churn with
// resets, and peers that reset mid-stream.

// waitGroupWithin waits for wg, failing the test with every goroutine's
// stack if it takes longer than d: an operation that never returns is a
// hang of the backend.
func waitGroupWithin(t testing.TB, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s did not finish within %v\n%s", what, d, buf)
	}
}

// isOpErr reports whether err is a *net.OpError for op.
func isOpErr(err error, op string) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == op
}

func isTimeoutErr(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func isResetErr(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// checkNonTemporary checks the contract of an error a peer's reset
// causes: a *net.OpError for op, neither timeout nor temporary, wrapping
// ECONNRESET or EPIPE.
func checkNonTemporary(err error, op string) error {
	var oe *net.OpError
	if !errors.As(err, &oe) {
		return fmt.Errorf("%s: want *net.OpError, got %T: %v", op, err, err)
	}
	if oe.Op != op {
		return fmt.Errorf("%s: OpError.Op is %q: %v", op, oe.Op, err)
	}
	if oe.Timeout() {
		return fmt.Errorf("%s: reset reported as a timeout: %v", op, err)
	}
	if oe.Temporary() {
		return fmt.Errorf("%s: reset reported as temporary: %v", op, err)
	}
	if !isResetErr(err) {
		return fmt.Errorf("%s: want ECONNRESET or EPIPE, got %v", op, err)
	}
	return nil
}

// TestFaultCloseRace closes a conn while goroutines call every other method
// on it: Read, Write, SetDeadline, CloseWrite, LocalAddr and
// SyscallConn().Control, and two Closes. Nothing may panic or hang; every
// error is one the method may return; exactly one Close succeeds; and
// afterwards every method reports net.ErrClosed. forEachBackend checks
// that no descriptor leaks and TestMain that no goroutine does.
func TestFaultCloseRace(t *testing.T) {
	iters := 150
	if testing.Short() {
		iters = 40
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for i := range iters {
			closeRaceOnce(t, b, i)
			if t.Failed() {
				t.Fatalf("iteration %d failed", i)
			}
		}
	})
}

func closeRaceOnce(t *testing.T, b string, i int) {
	c, s := pair(t, b)
	defer s.Close()
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	if i%2 == 0 {
		smallBuffers(t, c, s) // Writes park on full buffers
	}
	var peer sync.WaitGroup
	if i%3 == 0 {
		peer.Go(func() { io.Copy(io.Discard, s) }) // Writes flow
	}
	if i%4 == 1 {
		peer.Go(func() { s.Write(randomish(64 << 10)) }) // Reads find data
	}
	errs := make(chan error, 64)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Errorf(format, args...):
		default:
		}
	}
	start := make(chan struct{})
	var closed atomic.Bool
	var wg sync.WaitGroup
	// until runs f in a loop until it reports net.ErrClosed; ok says
	// which other errors are acceptable for the method.
	until := func(name string, f func() error, ok func(error) bool) {
		wg.Go(func() {
			<-start
			for {
				err := f()
				if err == nil {
					runtime.Gosched()
					continue
				}
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if !ok(err) {
					report("%s: unexpected error %v (%T)", name, err, err)
					return
				}
				runtime.Gosched()
			}
		})
	}
	until("Read", func() error {
		_, err := c.Read(make([]byte, 1+rng.IntN(8<<10)))
		if err != nil && !isOpErr(err, "read") {
			return fmt.Errorf("not a read OpError: %w", err)
		}
		return err
	}, isTimeoutErr)
	until("Write", func() error {
		_, err := c.Write(make([]byte, 32<<10))
		if err != nil && !isOpErr(err, "write") {
			return fmt.Errorf("not a write OpError: %w", err)
		}
		return err
	}, func(err error) bool { return isTimeoutErr(err) || errors.Is(err, syscall.EPIPE) })
	dls := []time.Duration{-time.Second, 0, time.Millisecond, 50 * time.Microsecond, time.Hour}
	until("SetDeadline", func() error {
		d := dls[rand.IntN(len(dls))]
		dl := time.Time{}
		if d != 0 {
			dl = time.Now().Add(d)
		}
		switch rand.IntN(3) {
		case 0:
			return c.SetDeadline(dl)
		case 1:
			return c.SetReadDeadline(dl)
		}
		return c.SetWriteDeadline(dl)
	}, func(error) bool { return false })
	rc, err := c.(tcpConn).SyscallConn()
	require.NoError(t, err)
	until("Control", func() error {
		return rc.Control(func(fd uintptr) {
			if int(fd) <= 0 {
				report("Control got descriptor %d", fd)
			}
		})
	}, func(error) bool { return false })
	wg.Go(func() {
		<-start
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		if err := c.(tcpConn).CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
			report("CloseWrite: %v", err)
		}
	})
	wg.Go(func() {
		<-start
		for !closed.Load() {
			if c.LocalAddr() == nil {
				report("LocalAddr returned nil")
				return
			}
			runtime.Gosched()
		}
	})
	closeErrs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			<-start
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			err := c.Close()
			closed.Store(true)
			closeErrs <- err
		})
	}
	close(start)
	waitGroupWithin(t, &wg, 10*time.Second, fmt.Sprintf("iteration %d: methods racing Close", i))
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	nils := 0
	for range 2 {
		if err := <-closeErrs; err == nil {
			nils++
		} else if !errors.Is(err, net.ErrClosed) || !isOpErr(err, "close") {
			t.Errorf("second Close: want a close OpError wrapping net.ErrClosed, got %v", err)
		}
	}
	require.Equal(t, 1, nils, "exactly one Close succeeds")
	// After Close, every method fails with net.ErrClosed.
	_, err = c.Read(make([]byte, 1))
	requireClosedErr(t, err, "read")
	_, err = c.Write([]byte("x"))
	requireClosedErr(t, err, "write")
	requireClosedErr(t, c.SetDeadline(time.Now()), "set")
	requireClosedErr(t, c.(tcpConn).CloseWrite(), "close")
	require.ErrorIs(t, rc.Control(func(uintptr) { t.Error("Control ran after Close") }), net.ErrClosed)
	require.NotNil(t, c.LocalAddr())
	s.Close()
	waitGroupWithin(t, &peer, 10*time.Second, "the peer's goroutines")
}

// TestFaultDeadlineStorm moves a deadline in a tight loop (past, future,
// zero) around a parked Read or Write for a while, with data arriving or
// leaving meanwhile; then the deadline is cleared and every byte must
// arrive intact and in order: a cancelled operation must neither lose nor
// duplicate data, and a Write must report exactly what it sent.
func TestFaultDeadlineStorm(t *testing.T) {
	storm := 300 * time.Millisecond
	if testing.Short() {
		storm = 100 * time.Millisecond
	}
	// stormLoop moves the deadline with set until stop, then clears it.
	stormLoop := func(set func(time.Time) error, stop <-chan struct{}, seed uint64) (moves int) {
		rng := rand.New(rand.NewPCG(seed, 5))
		for {
			select {
			case <-stop:
				set(time.Time{})
				return moves
			default:
			}
			switch rng.IntN(3) {
			case 0:
				set(time.Now().Add(-time.Duration(rng.IntN(1000)) * time.Microsecond))
			case 1:
				set(time.Now().Add(time.Duration(rng.IntN(500)) * time.Microsecond))
			default:
				set(time.Time{})
			}
			moves++
			if moves%64 == 0 {
				runtime.Gosched()
			}
		}
	}
	forEachBackend(t, func(t *testing.T, b string) {
		t.Run("read", func(t *testing.T) {
			c, s := pair(t, b)
			want := randomish(256 << 10)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var got []byte
			var timeouts int
			var readErr error
			wg.Go(func() {
				buf := make([]byte, 4096)
				for len(got) < len(want) {
					n, err := c.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						if isTimeoutErr(err) && isOpErr(err, "read") {
							timeouts++
							continue
						}
						readErr = err
						return
					}
				}
			})
			var moves int
			wg.Go(func() { moves = stormLoop(c.SetReadDeadline, stop, 1) })
			// Nothing arrives for the first half of the storm; then data
			// trickles in while the deadline keeps moving; the rest comes
			// once it is cleared.
			time.Sleep(storm / 2)
			off := 0
			rng := rand.New(rand.NewPCG(2, 3))
			for end := time.Now().Add(storm / 2); time.Now().Before(end) && off < len(want)/2; {
				k := 1 + rng.IntN(2000)
				_, err := s.Write(want[off : off+k])
				require.NoError(t, err)
				off += k
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
			}
			close(stop)
			_, err := s.Write(want[off:])
			require.NoError(t, err)
			waitGroupWithin(t, &wg, 10*time.Second, "the Read after the storm")
			require.NoError(t, readErr)
			require.Equal(t, len(want), len(got), "bytes read")
			require.True(t, bytes.Equal(want, got), "the bytes read differ from those written, first at %d", firstDiff(got, want))
			t.Logf("%d deadline moves, %d timeouts, %d bytes during the storm", moves, timeouts, off)
			require.NotZero(t, timeouts)
		})
		t.Run("write", func(t *testing.T) {
			c, s := pair(t, b)
			smallBuffers(t, c, s)
			want := randomish(2 << 20)
			stop := make(chan struct{})
			stopped := make(chan struct{})
			var wg sync.WaitGroup
			var timeouts, writes int
			var writeErr error
			wg.Go(func() {
				for off := 0; off < len(want); {
					n, err := c.Write(want[off:])
					writes++
					if n < 0 || n > len(want)-off {
						writeErr = fmt.Errorf("Write returned n=%d for %d bytes", n, len(want)-off)
						return
					}
					off += n
					if err != nil {
						if isTimeoutErr(err) && isOpErr(err, "write") {
							timeouts++
							continue
						}
						writeErr = err
						return
					}
				}
			})
			var moves int
			wg.Go(func() {
				moves = stormLoop(c.SetWriteDeadline, stop, 2)
				close(stopped)
			})
			// The peer reads slowly during the storm, so the Write keeps
			// parking on full buffers, then at full speed.
			var got []byte
			var readErr error
			wg.Go(func() {
				s.SetReadDeadline(time.Now().Add(20 * time.Second))
				buf := make([]byte, 64<<10)
				for len(got) < len(want) {
					slow := false
					select {
					case <-stopped:
					default:
						slow = true
					}
					p := buf
					if slow {
						p = buf[:4<<10]
						time.Sleep(time.Millisecond)
					}
					n, err := s.Read(p)
					got = append(got, p[:n]...)
					if err != nil {
						readErr = err
						return
					}
				}
			})
			time.Sleep(storm)
			close(stop)
			waitGroupWithin(t, &wg, 20*time.Second, "the Write after the storm")
			require.NoError(t, writeErr)
			require.NoError(t, readErr)
			require.Equal(t, len(want), len(got), "bytes received")
			require.True(t, bytes.Equal(want, got), "the bytes received differ from those written, first at %d", firstDiff(got, want))
			t.Logf("%d deadline moves, %d Writes, %d timeouts", moves, writes, timeouts)
			require.NotZero(t, timeouts)
		})
	})
}

// churn ids: every conn's first 16 bytes name it, and its payload is a
// keystream of that id, so the server can tell whose bytes it reads.
const churnMagic = 0x554e4554 // "UNET"

const (
	churnNormal      = 0
	churnClientReset = 1 // the client resets mid-stream
	churnServerReset = 2 // the server resets mid-stream
)

type churnID [16]byte

func newChurnID(worker, iter int, mode byte, plen int, nonce uint32) churnID {
	var id churnID
	binary.BigEndian.PutUint32(id[0:], churnMagic)
	binary.BigEndian.PutUint16(id[4:], uint16(worker))
	binary.BigEndian.PutUint16(id[6:], uint16(iter))
	id[8] = mode
	id[9], id[10], id[11] = byte(plen>>16), byte(plen>>8), byte(plen)
	binary.BigEndian.PutUint32(id[12:], nonce)
	return id
}

func (id churnID) mode() byte { return id[8] }
func (id churnID) plen() int  { return int(id[9])<<16 | int(id[10])<<8 | int(id[11]) }
func (id churnID) valid() bool {
	return binary.BigEndian.Uint32(id[0:]) == churnMagic && id.mode() <= churnServerReset && id.plen() <= 1<<20
}

func (id churnID) payload() []byte {
	var seed [32]byte
	copy(seed[:], id[:])
	b := make([]byte, id.plen())
	rand.NewChaCha8(seed).Read(b)
	return b
}

// TestFaultChurnIsolation runs 64 goroutines that each dial, send their own
// 16-byte id and a random payload, check the echo and close, about 2000
// conns in all, with one in ten reset by the client (SetLinger(0) and
// Close) and one in twenty by the server mid-stream. Descriptor numbers
// are reused all the time: no byte may ever reach the wrong conn, on
// either side.
func TestFaultChurnIsolation(t *testing.T) {
	total := 2000
	if testing.Short() {
		total = 500
	}
	forEachBackend(t, func(t *testing.T, b string) {
		runChurn(t, b, 64, total)
	})
}

// TestFaultChurnGOMAXPROCS is TestFaultChurnIsolation with one P, where a
// scheduler goroutine that spins or waits for another goroutine starves,
// and with four, more than the machine's cores.
func TestFaultChurnGOMAXPROCS(t *testing.T) {
	total := 600
	if testing.Short() {
		total = 200
	}
	for _, procs := range []int{1, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			forEachBackend(t, func(t *testing.T, b string) {
				runChurn(t, b, 64, total)
			})
		})
	}
}

func runChurn(t *testing.T, b string, workers, total int) {
	ln := listen(t, b, "tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	errs := make(chan error, 100)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Errorf(format, args...):
		default:
		}
	}
	var served, resets atomic.Int64
	var srv sync.WaitGroup
	srv.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					report("accept: %v", err)
				}
				return
			}
			srv.Go(func() {
				defer c.Close()
				if err := serveChurn(c, &resets); err != nil {
					report("server: %v", err)
				}
				served.Add(1)
			})
		}
	})
	var cli sync.WaitGroup
	for w := range workers {
		n := total / workers
		if w < total%workers {
			n++
		}
		cli.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 77))
			for i := range n {
				if err := churnClient(b, addr, w, i, rng); err != nil {
					report("client %d/%d: %v", w, i, err)
					return
				}
			}
		})
	}
	waitGroupWithin(t, &cli, 60*time.Second, "the churn clients")
	ln.Close()
	waitGroupWithin(t, &srv, 20*time.Second, "the churn servers")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.Equal(t, int64(total), served.Load(), "conns served")
	t.Logf("%d conns, %d resets seen by the server", total, resets.Load())
}

// serveChurn echoes a churn conn, checking that everything it reads is the
// id of a conn followed by that id's payload, and resets the conn midway
// when the id asks for it.
func serveChurn(c net.Conn, resets *atomic.Int64) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var id churnID
	if _, err := io.ReadFull(c, id[:]); err != nil {
		// Every client sends its whole id before anything else happens.
		return fmt.Errorf("reading the id: %w", err)
	}
	if !id.valid() {
		return fmt.Errorf("the first 16 bytes are not an id: %x", id[:])
	}
	want := id.payload()
	if _, err := c.Write(id[:]); err != nil {
		if isResetErr(err) {
			resets.Add(1)
			return nil
		}
		return fmt.Errorf("%x: echoing the id: %w", id[:], err)
	}
	resetAt := -1
	if id.mode() == churnServerReset {
		resetAt = len(want) / 2
	}
	buf := make([]byte, 1+int(id[15])*64) // some conns read in tiny pieces
	off := 0
	for {
		if resetAt >= 0 && off >= resetAt {
			c.(tcpConn).SetLinger(0)
			return nil // the deferred Close resets
		}
		n, err := c.Read(buf)
		if n > 0 {
			if off+n > len(want) {
				return fmt.Errorf("%x: %d bytes after the id, the payload has %d", id[:], off+n, len(want))
			}
			if !bytes.Equal(buf[:n], want[off:off+n]) {
				return fmt.Errorf("%x: bytes %d..%d are not this conn's payload", id[:], off, off+n)
			}
			off += n
			if _, werr := c.Write(buf[:n]); werr != nil {
				if isResetErr(werr) && id.mode() == churnClientReset {
					resets.Add(1)
					return checkNonTemporary(werr, "write")
				}
				return fmt.Errorf("%x: echo: %w", id[:], werr)
			}
		}
		if err == io.EOF {
			if off != len(want) && id.mode() != churnClientReset {
				return fmt.Errorf("%x: EOF after %d of %d bytes", id[:], off, len(want))
			}
			err := c.(tcpConn).CloseWrite()
			if id.mode() == churnClientReset {
				return nil // the reset may have come first
			}
			return err
		}
		if err != nil {
			if isResetErr(err) && id.mode() == churnClientReset {
				resets.Add(1)
				return checkNonTemporary(err, "read")
			}
			return fmt.Errorf("%x: read after %d bytes: %w", id[:], off, err)
		}
	}
}

// churnClient runs one conn: it sends its id and payload and checks that
// everything echoed is its own, in order.
func churnClient(b, addr string, w, i int, rng *rand.Rand) error {
	mode := byte(churnNormal)
	switch r := rng.IntN(20); {
	case r < 2:
		mode = churnClientReset
	case r < 3:
		mode = churnServerReset
	}
	plen := rng.IntN(8 << 10)
	if rng.IntN(16) == 0 {
		plen = rng.IntN(128 << 10)
	}
	if mode != churnNormal {
		plen += 64 // something to cut in the middle
	}
	id := newChurnID(w, i, mode, plen, rng.Uint32())
	msg := append(id[:], id.payload()...)
	c, err := dialBackend(b, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))

	// The writer sends in random chunks; for a client reset it sends
	// half and leaves the rest.
	sendUpTo := len(msg)
	if mode == churnClientReset {
		sendUpTo = 16 + plen/2
	}
	werr := make(chan error, 1)
	chunkSeed := rng.Uint64()
	go func() {
		rng := rand.New(rand.NewPCG(chunkSeed, 1))
		for off := 0; off < sendUpTo; {
			k := min(1+rng.IntN(4<<10), sendUpTo-off)
			if _, err := c.Write(msg[off : off+k]); err != nil {
				werr <- err
				return
			}
			off += k
		}
		if mode == churnClientReset {
			werr <- nil
			return
		}
		werr <- c.(tcpConn).CloseWrite()
	}()

	got := make([]byte, 0, len(msg))
	buf := make([]byte, 1+rng.IntN(16<<10))
	for {
		if mode == churnClientReset && len(got) >= 16 {
			// The server is echoing: reset mid-stream.
			if err := <-werr; err != nil {
				return fmt.Errorf("write before the reset: %w", err)
			}
			if err := c.(tcpConn).SetLinger(0); err != nil {
				return err
			}
			return c.Close()
		}
		n, err := c.Read(buf)
		if len(got)+n > len(msg) || !bytes.Equal(buf[:n], msg[len(got):len(got)+n]) {
			return fmt.Errorf("conn %x received bytes that are not its own at offset %d: % x", id[:], len(got), buf[:min(n, 32)])
		}
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			if mode == churnServerReset {
				if e := checkNonTemporary(err, "read"); e != nil {
					return e
				}
				<-werr // may fail too, with a reset
				return nil
			}
			return fmt.Errorf("read after %d of %d bytes: %w", len(got), len(msg), err)
		}
	}
	if mode == churnServerReset {
		// The kernel reports a reset once, to the first system call that
		// looks: if the Write took it, the Read sees EOF.
		err := <-werr
		if err == nil {
			return fmt.Errorf("clean EOF from a server that resets, and the Write saw no reset either")
		}
		return checkNonTemporary(err, "write")
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if len(got) != len(msg) {
		return fmt.Errorf("echo of %d bytes, sent %d", len(got), len(msg))
	}
	return nil
}

// TestFaultPeerReset resets the peer (SetLinger(0) and Close) at random
// moments while a Read or a Write is moving a stream: the operation must
// return, promptly, a *net.OpError that is neither a timeout nor
// temporary and wraps ECONNRESET or EPIPE, and what arrived before must
// be a prefix of what was sent.
func TestFaultPeerReset(t *testing.T) {
	iters := 10
	if testing.Short() {
		iters = 4
	}
	forEachBackend(t, func(t *testing.T, b string) {
		t.Run("mid-read", func(t *testing.T) {
			for i := range iters {
				c, s := pair(t, b)
				want := randomish(4 << 20)
				var wg sync.WaitGroup
				wg.Go(func() {
					for off := 0; off < len(want); {
						n, err := s.Write(want[off:min(off+16<<10, len(want))])
						off += n
						if err != nil {
							return // the reset below closes s
						}
					}
				})
				var got []byte
				var rerr error
				wg.Go(func() {
					// What was queued before the reset is still read
					// first: the buffer must not be too small to drain it.
					buf := make([]byte, 1<<10+i*4<<10)
					for {
						n, err := c.Read(buf)
						got = append(got, buf[:n]...)
						if err != nil {
							rerr = err
							return
						}
					}
				})
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				require.NoError(t, asTCP(t, s).SetLinger(0))
				require.NoError(t, s.Close())
				waitGroupWithin(t, &wg, 5*time.Second, "the Read after the peer's reset")
				require.NoError(t, checkNonTemporary(rerr, "read"), "iteration %d after %d bytes", i, len(got))
				require.LessOrEqual(t, len(got), len(want))
				require.True(t, bytes.Equal(want[:len(got)], got), "iteration %d: bytes before the reset differ", i)
				c.Close()
			}
		})
		t.Run("mid-write", func(t *testing.T) {
			for i := range iters {
				c, s := pair(t, b)
				smallBuffers(t, c, s)
				want := randomish(8 << 20)
				var wg sync.WaitGroup
				var wn int
				var werr error
				wg.Go(func() { wn, werr = c.Write(want) })
				var got []byte
				readUpTo := rand.IntN(512 << 10)
				buf := make([]byte, 16<<10)
				s.SetReadDeadline(time.Now().Add(5 * time.Second))
				for len(got) < readUpTo {
					n, err := s.Read(buf)
					got = append(got, buf[:n]...)
					require.NoError(t, err)
				}
				require.NoError(t, asTCP(t, s).SetLinger(0))
				require.NoError(t, s.Close())
				waitGroupWithin(t, &wg, 5*time.Second, "the Write after the peer's reset")
				require.NoError(t, checkNonTemporary(werr, "write"), "iteration %d after %d bytes", i, wn)
				require.Less(t, wn, len(want))
				require.GreaterOrEqual(t, wn, len(got), "Write reported fewer bytes than the peer read")
				require.True(t, bytes.Equal(want[:len(got)], got), "iteration %d: bytes before the reset differ", i)
				// A Read on the reset conn fails too, at once.
				r := recv(t, goRead(c, make([]byte, 10)), 5*time.Second, "Read after the reset")
				require.True(t, isOpErr(r.err, "read") || r.err == io.EOF, "Read after the reset: %v", r.err)
				c.Close()
			}
		})
	})
}
