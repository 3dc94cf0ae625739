package uringsched

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// The fault tests drive the scheduler into its rare paths: a cancel that
// races the completion it cancels, a completion queue that overflows, a
// provided-buffer ring that runs dry; and each checks afterwards that
// nothing stayed registered.

// checkReleased registers a cleanup that runs after every fd of the test
// is closed (register it after testScheduler and before tcpPair): the op
// table must be empty again and, with provided buffers, every buffer back
// in the ring.
func checkReleased(t *testing.T, s *Scheduler) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			return // a failed test may leave fds to its goroutines
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && (s.table.entries.Load() != 0 ||
			(s.bufs != nil && s.pool.free.Load() != s.pool.circulating.Load())) {
			time.Sleep(time.Millisecond)
		}
		if n := s.table.entries.Load(); n != 0 {
			t.Errorf("op table: %d entries registered after every fd was closed", n)
		}
		if s.bufs != nil {
			if n, given := s.pool.free.Load(), s.pool.circulating.Load(); n != given {
				t.Errorf("provided buffers: %d of %d back in the ring after every fd was closed", n, given)
			}
		}
	})
}

// waitWithin waits for wg, failing with every goroutine's stack after d.
func waitWithin(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
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

// spin busy-waits for d: time.Sleep is far too coarse for microseconds.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// TestFaultCancelRacesCompletion sends a few bytes at a random microsecond
// while a Read with a deadline a few microseconds ahead waits for them, so
// that the deadline's cancel and the receive's completion race, over and
// over. Each time the bytes must be read exactly once, in order, by that
// Read or by the next one; at the end nothing more is readable.
func TestFaultCancelRacesCompletion(t *testing.T) {
	iters := 3000
	if testing.Short() {
		iters = 800
	}
	forEachConfig(t, func(t *testing.T, s *Scheduler) {
		checkReleased(t, s)
		a, b := tcpPair(t, s)
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 64)
		sent, read := 0, 0
		var hits, timeouts int
		expect := func(p []byte) {
			t.Helper()
			for j, c := range p {
				if c != byte(read+j) {
					t.Fatalf("byte %d: got %d, want %d (a byte lost or read twice)", read+j, c, byte(read+j))
				}
			}
			read += len(p)
			if read > sent {
				t.Fatalf("read %d bytes, only %d sent", read, sent)
			}
		}
		cancels := s.counters.Cancels.Load()
		for range iters {
			chunk := make([]byte, 1+rng.IntN(3))
			for j := range chunk {
				chunk[j] = byte(sent + j)
			}
			writeDelay := time.Duration(rng.IntN(40)) * time.Microsecond
			readDeadline := time.Duration(rng.IntN(40)) * time.Microsecond
			start := make(chan struct{})
			werr := make(chan error, 1)
			go func() {
				<-start
				spin(writeDelay)
				_, err := a.Write(chunk)
				werr <- err
			}()
			require.NoError(t, b.SetDeadline(time.Now().Add(readDeadline), unetrt.ModeRead))
			close(start)
			n, err := b.Read(buf)
			require.NoError(t, <-werr)
			sent += len(chunk)
			expect(buf[:n])
			switch {
			case err == nil:
				hits++
			case errors.Is(err, os.ErrDeadlineExceeded):
				timeouts++
			default:
				t.Fatalf("Read: %v", err)
			}
			// The rest comes with the next Read.
			require.NoError(t, b.SetDeadline(time.Now().Add(5*time.Second), unetrt.ModeRead))
			for read < sent {
				n, err := b.Read(buf)
				require.NoError(t, err, "after %d of %d bytes", read, sent)
				expect(buf[:n])
			}
		}
		// Nothing was duplicated: there is nothing more to read.
		require.NoError(t, b.SetDeadline(time.Now().Add(20*time.Millisecond), unetrt.ModeRead))
		n, err := b.Read(buf)
		require.Zero(t, n, "extra bytes: %v", buf[:n])
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		t.Logf("%d reads got their bytes, %d timed out, %d cancels", hits, timeouts, s.counters.Cancels.Load()-cancels)
		require.NotZero(t, timeouts, "no deadline expired: the race was not exercised")
		require.NotZero(t, hits, "no read got its bytes in time: the race was not exercised")
	})
}

// TestFaultCQOverflow parks a Read on each of 1000 conns of the tinyring
// config (16 CQEs), then makes every peer send one byte at once, which
// each echoes back: far more completions than the completion queue holds.
// With IORING_FEAT_NODROP none may be lost: every conn gets its byte back.
func TestFaultCQOverflow(t *testing.T) {
	conns := 1000
	if testing.Short() {
		conns = 300
	}
	s := testScheduler(t, configs["tinyring"]())
	checkReleased(t, s)
	clients := make([]unetrt.FD, conns)
	servers := make([]unetrt.FD, conns)
	for i := range conns {
		clients[i], servers[i] = tcpPair(t, s)
	}
	errs := make(chan error, conns*2)
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for i, srv := range servers {
		wg.Go(func() {
			srv.SetDeadline(deadline, unetrt.ModeRead|unetrt.ModeWrite)
			buf := make([]byte, 1)
			n, err := srv.Read(buf)
			if err != nil || n != 1 || buf[0] != byte(i) {
				errs <- fmt.Errorf("server %d: read %d bytes %v: %v", i, n, buf[:n], err)
				return
			}
			if _, err := srv.Write(buf); err != nil {
				errs <- fmt.Errorf("server %d: echo: %v", i, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // let the Reads park
	start := make(chan struct{})
	for i, c := range clients {
		wg.Go(func() {
			c.SetDeadline(deadline, unetrt.ModeRead|unetrt.ModeWrite)
			<-start
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				errs <- fmt.Errorf("client %d: write: %v", i, err)
				return
			}
			buf := make([]byte, 1)
			n, err := c.Read(buf)
			if err != nil || n != 1 || buf[0] != byte(i) {
				errs <- fmt.Errorf("client %d: echo: read %d bytes %v: %v", i, n, buf[:n], err)
			}
		})
	}
	close(start)
	waitWithin(t, &wg, 40*time.Second, "the echoes")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := s.counters
	t.Logf("%d conns: %d CQ overflows, %d buffer exhaustions, %d CQEs, %d enters, %d fallbacks",
		conns, c.CQOverflows.Load(), c.BufferExhaustions.Load(), c.CQEs.Load(), c.Enters.Load(), c.Fallbacks.Load())
}

// TestFaultBufferExhaustion arms the multishot receive of many conns over a
// ring of 16 buffers of 1 KiB, then has every peer send 32 KiB while the
// readers do not read: the ring runs dry (ENOBUFS), receives stop and
// fall back. When the readers finally read, every byte must arrive, in
// order, on its own conn.
func TestFaultBufferExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial uint16 // buffers given to the kernel at start, of 16
	}{
		{"all buffers given at start", 16},
		{"buffers given as the load asks", 2},
	} {
		t.Run(tc.name, func(t *testing.T) { testBufferExhaustion(t, tc.initial) })
	}
}

func testBufferExhaustion(t *testing.T, initial uint16) {
	conns := 64
	if testing.Short() {
		conns = 24
	}
	const size = 32 << 10
	cfg := defaultConfig
	cfg.bufCount, cfg.bufSize, cfg.bufInitial = 16, 1024, initial
	cfg.maxQueued = 4 << 20 // the ring, not the per-conn cap, must run out
	s := testScheduler(t, cfg)
	checkReleased(t, s)
	clients := make([]unetrt.FD, conns)
	servers := make([]unetrt.FD, conns)
	payloads := make([][]byte, conns)
	for i := range conns {
		clients[i], servers[i] = tcpPair(t, s)
		p := make([]byte, 1+size)
		rand.NewChaCha8([32]byte{byte(i), 1}).Read(p)
		payloads[i] = p
		// One byte and one Read arm the conn's multishot receive, with
		// room for the whole payload: read-ahead is bounded by the
		// Read's length.
		_, err := clients[i].Write(p[:1])
		require.NoError(t, err)
		b := make([]byte, 2*size)
		n, err := servers[i].Read(b)
		require.NoError(t, err)
		require.Equal(t, p[:1], b[:n])
	}
	exhaustions := s.counters.BufferExhaustions.Load()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		wg.Go(func() {
			c.SetDeadline(time.Now().Add(30*time.Second), unetrt.ModeWrite)
			if _, err := c.Write(payloads[i][1:]); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		})
	}
	waitWithin(t, &wg, 40*time.Second, "the writes")
	time.Sleep(100 * time.Millisecond) // the readers are busy elsewhere
	require.Greater(t, s.counters.BufferExhaustions.Load(), exhaustions, "the buffer ring never ran out")
	for i, srv := range servers {
		wg.Go(func() {
			srv.SetDeadline(time.Now().Add(30*time.Second), unetrt.ModeRead)
			want := payloads[i][1:]
			got := make([]byte, 0, len(want))
			buf := make([]byte, 1+i*300)
			for len(got) < len(want) {
				n, err := srv.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					errs <- fmt.Errorf("server %d: after %d of %d bytes: %v", i, len(got), len(want), err)
					return
				}
			}
			if !bytes.Equal(got, want) {
				errs <- fmt.Errorf("server %d: the bytes differ from those sent", i)
			}
		})
	}
	waitWithin(t, &wg, 40*time.Second, "the reads")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.EqualValues(t, cfg.bufCount, s.bufs.Given(), "the ring did not grow to its size under load")
	c := s.counters
	t.Logf("%d conns: %d buffer exhaustions, %d fallbacks, %d cancels", conns,
		c.BufferExhaustions.Load()-exhaustions, c.Fallbacks.Load(), c.Cancels.Load())
}

// TestFaultOpTableLeak closes fds while requests of every kind are in the
// kernel or just cancelled: a parked Read (multishot or one-shot), a Write
// parked on full buffers, an Accept, a Read whose deadline has just
// expired. Once every fd is closed the op table must be empty and every
// provided buffer back (checkReleased).
func TestFaultOpTableLeak(t *testing.T) {
	iters := 40
	if testing.Short() {
		iters = 15
	}
	forEachConfig(t, func(t *testing.T, s *Scheduler) {
		checkReleased(t, s)
		for i := range iters {
			a, b := tcpPair(t, s)
			ln := listenFD(t, s)
			require.NoError(t, a.RawControl(func(fd int) {
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<10)
			}))
			var wg sync.WaitGroup
			wg.Go(func() { b.Read(make([]byte, 64)) })     // parked receive
			wg.Go(func() { a.Write(make([]byte, 4<<20)) }) // parked send: b reads 64 bytes at most
			wg.Go(func() { ln.Accept() })                  // parked accept
			b.SetDeadline(time.Now().Add(time.Duration(i)*50*time.Microsecond), unetrt.ModeRead)
			wg.Go(func() { a.Read(make([]byte, 64)) }) // a receive on the sender
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			// Close in a random order, sometimes racing each other.
			fds := []unetrt.FD{a, b, ln}
			rand.Shuffle(len(fds), func(i, j int) { fds[i], fds[j] = fds[j], fds[i] })
			var cw sync.WaitGroup
			for k, fd := range fds {
				if k == 0 && i%2 == 0 {
					cw.Go(func() { fd.Close() })
					continue
				}
				fd.Close()
			}
			cw.Wait()
			waitWithin(t, &wg, 10*time.Second, "operations woken by Close")
			for _, fd := range fds {
				require.ErrorIs(t, fd.Close(), net.ErrClosed)
			}
		}
		require.Eventually(t, func() bool { return s.table.entries.Load() == 0 }, 5*time.Second, time.Millisecond,
			"op table: %d entries after every fd was closed", s.table.entries.Load())
	})
}

// TestFaultResetAfterCappedReceive resets a conn whose reader lags, so
// that its multishot receive keeps being cancelled at the 256 KiB cap and
// re-armed, while the peer streams 4 MiB and then resets (SO_LINGER 0):
// the Read must end with ECONNRESET, never park for good.
//
// It fails today, in about one run in two: when the reset arrives while
// the queue is capped, the receive re-armed afterwards drains the bytes
// still queued in the socket, its last completion has no
// IORING_CQE_F_SOCK_NONEMPTY, and then it never completes, although
// poll(2) reports POLLIN|POLLERR|POLLHUP and SO_ERROR holds ECONNRESET:
// fdinfo shows it in the ring's PollList (op 27, RECV). The wake-ups of
// the reset came before the request was armed, and the kernel's
// multishot retry waits for another one that never comes. With the cap
// raised out of reach (no cancel, no re-arm) it does not happen.
func TestFaultResetAfterCappedReceive(t *testing.T) {
	iters := 200
	if testing.Short() {
		iters = 50
	}
	s := testScheduler(t, defaultConfig)
	checkReleased(t, s)
	for i := range iters {
		a, b := tcpPair(t, s) // a reads, b writes then resets
		var wg sync.WaitGroup
		wg.Go(func() {
			buf := make([]byte, 16<<10)
			for range 256 {
				if _, err := b.Write(buf); err != nil {
					return
				}
			}
		})
		rerr := make(chan error, 1)
		go func() {
			buf := make([]byte, 1024+(i%10)*4096) // smaller than what arrives: the queue caps
			for {
				if _, err := a.Read(buf); err != nil {
					rerr <- err
					return
				}
			}
		}()
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		require.NoError(t, b.RawControl(func(fd int) {
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
		}))
		require.NoError(t, b.Close())
		select {
		case err := <-rerr:
			require.ErrorIs(t, err, unix.ECONNRESET, "iteration %d", i)
		case <-time.After(3 * time.Second):
			f := a.(*fd)
			pfd := []unix.PollFd{{Fd: int32(f.Sysfd), Events: unix.POLLIN}}
			unix.Poll(pfd, 0)
			f.qmu.Lock()
			armed, inflight := f.state, f.inflight.Load()
			f.qmu.Unlock()
			soerr, _ := unix.GetsockoptInt(f.Sysfd, unix.SOL_SOCKET, unix.SO_ERROR)
			a.Close() // wakes the Read
			<-rerr
			t.Fatalf("iteration %d: Read still parked 3s after the peer's reset: receive state %d, requests in the kernel %d, poll(2) revents %#x, SO_ERROR %d (%v), %d cancels so far",
				i, armed, inflight, pfd[0].Revents, soerr, unix.Errno(soerr), s.counters.Cancels.Load())
		}
		waitWithin(t, &wg, 5*time.Second, "the writer")
		a.Close()
	}
}
