package uringsched

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	unetrt "github.com/unetio/unet/runtime"
	"github.com/unetio/unet/runtime/fdtest"
	"golang.org/x/sys/unix"
)

// testScheduler starts a private scheduler with cfg, stopped at cleanup.
func testScheduler(t *testing.T, cfg config) *Scheduler {
	t.Helper()
	s, err := startShards(cfg)
	require.NoError(t, err)
	t.Cleanup(s.stop)
	return s
}

// tcpPair returns two connected fds on s over 127.0.0.1.
func tcpPair(t *testing.T, s *Scheduler) (a, b unetrt.FD) {
	t.Helper()
	ln := listenFD(t, s)
	port := boundPort(t, ln)
	sysfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	c, err := s.NewFD(sysfd)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- c.Connect(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}) }()
	nfd, _, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, <-errc)
	srv, err := s.NewFD(nfd)
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, srv
}

func listenFD(t *testing.T, s *Scheduler) unetrt.FD {
	t.Helper()
	sysfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(sysfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(sysfd, 4096))
	ln, err := s.NewFD(sysfd)
	require.NoError(t, err)
	return ln
}

func boundPort(t *testing.T, fd unetrt.FD) int {
	var port int
	require.NoError(t, fd.RawControl(func(s int) {
		sa, err := unix.Getsockname(s)
		require.NoError(t, err)
		port = sa.(*unix.SockaddrInet4).Port
	}))
	return port
}

// configs are the receive strategies every test runs with.
var configs = map[string]func() config{
	"multishot": func() config { return defaultConfig },
	"single": func() config {
		c := defaultConfig
		c.multishotRecv = false
		return c
	},
	"sharded": func() config {
		// Descriptors spread over two rings, each with its own loop.
		c := defaultConfig
		c.shards = 2
		return c
	},
	"growingbufs": func() config {
		// The kernel starts with 4 of 64 buffers and is given more as
		// the load takes them.
		c := defaultConfig
		c.bufCount, c.bufInitial = 64, 4
		return c
	},
	"directsend": func() config {
		c := defaultConfig
		c.directSend = true
		return c
	},
	"netpollrounds": func() config {
		// The loop waits for the scheduler's network poll between
		// rounds, and one-shot receives, which it was measured with.
		c := defaultConfig
		c.roundByNetpoll, c.multishotRecv = true, false
		return c
	},
	"tinyring": func() config {
		// A ring far smaller than the load: the submission queue fills,
		// the completion queue overflows, provided buffers run out.
		c := defaultConfig
		c.sqEntries, c.cqEntries, c.bufCount, c.bufSize, c.maxQueued = 8, 16, 8, 512, 2048
		return c
	},
}

func forEachConfig(t *testing.T, fn func(t *testing.T, s *Scheduler)) {
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) { fn(t, testScheduler(t, cfg())) })
	}
}

// TestConformance runs the descriptor contract's shared table on every
// configuration, both receive modes included.
func TestConformance(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *Scheduler) { fdtest.Run(t, s) })
}

func TestEcho(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *Scheduler) {
		a, b := tcpPair(t, s)
		n, err := a.Write([]byte("hello"))
		require.NoError(t, err)
		require.Equal(t, 5, n)
		buf := make([]byte, 64)
		n, err = b.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "hello", string(buf[:n]))
		require.NoError(t, a.Shutdown(unix.SHUT_WR))
		_, err = b.Read(buf)
		require.Equal(t, io.EOF, err)
		_, err = b.Read(buf)
		require.Equal(t, io.EOF, err, "EOF must stay")
	})
}

// TestStressEcho runs many conns echoing distinct random data of random
// chunk sizes, over open/close cycles that reuse fd numbers: every byte
// must come back, in order, on its own conn.
func TestStressEcho(t *testing.T) {
	conns, cycles := 100, 3
	if testing.Short() {
		conns, cycles = 30, 2
	}
	forEachConfig(t, func(t *testing.T, s *Scheduler) {
		for cycle := 0; cycle < cycles; cycle++ {
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := 0; i < conns; i++ {
				a, b := tcpPair(t, s)
				wg.Add(2)
				go func() { defer wg.Done(); echo(b) }()
				go func(seed uint64) {
					defer wg.Done()
					errs <- roundTrip(a, seed)
				}(uint64(cycle*conns + i))
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
		}
	})
}

// echo copies what it reads back until EOF, then half-closes.
func echo(fd unetrt.FD) {
	buf := make([]byte, 1+rand.IntN(64<<10))
	for {
		n, err := fd.Read(buf)
		if n > 0 {
			if _, err := fd.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			fd.Shutdown(unix.SHUT_WR)
			return
		}
	}
}

func roundTrip(fd unetrt.FD, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed))
	want := make([]byte, 256<<10+rng.IntN(256<<10))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	done := make(chan error, 1)
	go func() {
		for off := 0; off < len(want); {
			n := min(1+rng.IntN(64<<10), len(want)-off)
			if _, err := fd.Write(want[off : off+n]); err != nil {
				done <- err
				return
			}
			off += n
		}
		done <- fd.Shutdown(unix.SHUT_WR)
	}()
	var got bytes.Buffer
	buf := make([]byte, 1+rand.IntN(64<<10))
	for {
		n, err := fd.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := <-done; err != nil {
		return err
	}
	if !bytes.Equal(got.Bytes(), want) {
		return errors.New("echoed bytes differ")
	}
	return nil
}

func TestSetupRefused(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS, unix.ENOMEM} {
		t.Run(errno.Error(), func(t *testing.T) {
			old := testHookSetup
			testHookSetup = func() error { return os.NewSyscallError("io_uring_setup", errno) }
			defer func() { testHookSetup = old }()
			_, err := start(defaultConfig, new(unetrt.Counters))
			require.ErrorIs(t, err, errno)
			require.Contains(t, err.Error(), "io_uring_setup")
		})
	}
}

func TestMissingOpcodeRefused(t *testing.T) {
	old := testHookProbe
	testHookProbe = func() error { return errors.New("kernel lacks IORING_OP_RECV") }
	defer func() { testHookProbe = old }()
	_, err := start(defaultConfig, new(unetrt.Counters))
	require.ErrorContains(t, err, "IORING_OP_RECV")
}

// TestIOURingDisabledSysctl turns io_uring off for real, machine-wide, and
// checks that setup fails with a reason naming the sysctl. Other test
// processes would fail meanwhile, so it runs only when asked
// (UNET_TEST_SYSCTL=1), alone; .ci/run does so.
func TestIOURingDisabledSysctl(t *testing.T) {
	const path = "/proc/sys/kernel/io_uring_disabled"
	if os.Getenv("UNET_TEST_SYSCTL") == "" {
		t.Skip("changes a machine-wide sysctl: set UNET_TEST_SYSCTL=1 and run alone")
	}
	old, err := os.ReadFile(path)
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and kernel.io_uring_disabled (Linux 6.6+)")
	}
	if err := os.WriteFile(path, []byte("2"), 0o644); err != nil {
		t.Skipf("cannot write %s: %v", path, err)
	}
	defer os.WriteFile(path, old, 0o644)
	_, err = start(defaultConfig, new(unetrt.Counters))
	require.Error(t, err)
	require.Contains(t, err.Error(), "io_uring_disabled")
}

// TestShardsSpreadFDs: with two shards, descriptors land on both rings,
// which share one set of counters.
func TestShardsSpreadFDs(t *testing.T) {
	cfg := defaultConfig
	cfg.shards = 2
	s := testScheduler(t, cfg)
	require.Len(t, s.shards, 2)
	require.Same(t, s.shards[0].Counters(), s.shards[1].Counters())
	rings := map[*Scheduler]bool{}
	for range 4 {
		a, b := tcpPair(t, s)
		rings[a.(*fd).s], rings[b.(*fd).s] = true, true
		_, err := a.Write([]byte("x"))
		require.NoError(t, err)
		_, err = b.Read(make([]byte, 1))
		require.NoError(t, err)
	}
	require.Len(t, rings, 2)
}
