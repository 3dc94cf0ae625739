package unet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// requireOpError checks that err is a *net.OpError for op and returns it.
func requireOpError(t testing.TB, err error, op string) *net.OpError {
	t.Helper()
	require.Error(t, err)
	var oe *net.OpError
	require.True(t, errors.As(err, &oe), "want *net.OpError, got %T: %v", err, err)
	require.Equal(t, op, oe.Op, "Op of %v", err)
	return oe
}

// requireClosedErr checks the use-after-close contract.
func requireClosedErr(t testing.TB, err error, op string) {
	t.Helper()
	requireOpError(t, err, op)
	require.ErrorIs(t, err, net.ErrClosed)
}

// requireTimeout checks the timeout contract of conn and listener
// operations.
func requireTimeout(t testing.TB, err error, op string) {
	t.Helper()
	requireOpError(t, err, op)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne), "want net.Error, got %T", err)
	require.True(t, ne.Timeout(), "Timeout() of %v", err)
}

// recv waits for a value on ch, failing after d.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
		panic("unreachable")
	}
}

// notYet checks that nothing arrives on ch for d.
func notYet[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s returned early: %v", what, v)
	case <-time.After(d):
	}
}

type acceptResult struct {
	c   net.Conn
	err error
}

func goAccept(ln net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := ln.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func rawControl(t testing.TB, v any, f func(fd int)) {
	t.Helper()
	sc, ok := v.(syscall.Conn)
	require.True(t, ok, "%T has no SyscallConn", v)
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	require.NoError(t, rc.Control(func(fd uintptr) { f(int(fd)) }))
}

func getsockoptInt(t testing.TB, v any, level, opt int) int {
	t.Helper()
	var (
		val  int
		gerr error
	)
	rawControl(t, v, func(fd int) { val, gerr = unix.GetsockoptInt(fd, level, opt) })
	require.NoError(t, gerr)
	return val
}

func TestListenerAddr(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		a, ok := ln.Addr().(*net.TCPAddr)
		require.True(t, ok, "Addr is %T", ln.Addr())
		require.True(t, a.IP.Equal(net.IPv4(127, 0, 0, 1)), "IP %v", a.IP)
		require.NotZero(t, a.Port)
		ln.Close()
		require.Equal(t, a, ln.Addr(), "Addr after Close")
	})
}

func TestListenerCloseUnblocksAccept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		ch := goAccept(ln)
		notYet(t, ch, 50*time.Millisecond, "Accept")
		start := time.Now()
		require.NoError(t, ln.Close())
		r := recv(t, ch, 5*time.Second, "Accept to return after Close")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Nil(t, r.c)
		requireClosedErr(t, r.err, "accept")
	})
}

func TestListenerAcceptAfterClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		// A conn waiting in the backlog must not be handed out after Close.
		c := dial(t, b, "tcp", ln.Addr().String())
		require.NoError(t, ln.Close())
		for range 3 {
			r := recv(t, goAccept(ln), 5*time.Second, "Accept after Close")
			require.Nil(t, r.c)
			requireClosedErr(t, r.err, "accept")
		}
		// The pending conn was reset or closed by the kernel.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err)
		require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "queued conn not torn down by listener Close")
	})
}

func TestListenerCloseTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		require.NoError(t, ln.Close())
		// As net: the second Close reports use of a closed listener.
		err := ln.Close()
		if err != nil {
			requireClosedErr(t, err, "close")
		}
		// A descriptor reused by a new listener must not be touched by a
		// further Close of the old one.
		ln2 := listen(t, b, "tcp", "127.0.0.1:0")
		ln.Close()
		ch := goAccept(ln2)
		c := dial(t, b, "tcp", ln2.Addr().String())
		r := recv(t, ch, 5*time.Second, "Accept on the new listener")
		require.NoError(t, r.err)
		defer r.c.Close()
		_, err = c.Write([]byte("x"))
		require.NoError(t, err)
		buf := make([]byte, 1)
		_, err = io.ReadFull(r.c, buf)
		require.NoError(t, err)
	})
}

func TestListenerConcurrentCloseAccept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		for range 20 {
			ln := listen(t, b, "tcp", "127.0.0.1:0")
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 4 {
				wg.Go(func() {
					c, err := ln.Accept()
					if c != nil {
						c.Close()
					}
					errs <- err
				})
			}
			for range 4 {
				wg.Go(func() { ln.Close() })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				requireClosedErr(t, err, "accept")
			}
		}
	})
}

func TestListenerConcurrentAccept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		const n = 32
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					buf := make([]byte, 16)
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					k, _ := io.ReadFull(c, buf)
					mu.Lock()
					seen[string(buf[:k])]++
					mu.Unlock()
					c.Close()
				}
			})
		}
		for i := range n {
			c := dial(t, b, "tcp", ln.Addr().String())
			_, err := fmt.Fprintf(c, "%016d", i)
			require.NoError(t, err)
		}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == n
		}, 10*time.Second, 5*time.Millisecond)
		ln.Close()
		wg.Wait()
		for k, v := range seen {
			require.Equal(t, 1, v, "conn %s accepted %d times", k, v)
		}
	})
}

func TestListenerSetDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		dl, ok := ln.(interface{ SetDeadline(time.Time) error })
		require.True(t, ok, "%T has no SetDeadline", ln)

		// A deadline in the future interrupts a parked Accept.
		require.NoError(t, dl.SetDeadline(time.Now().Add(100*time.Millisecond)))
		start := time.Now()
		_, err := ln.Accept()
		el := time.Since(start)
		requireTimeout(t, err, "accept")
		require.GreaterOrEqual(t, el, 80*time.Millisecond)
		require.Less(t, el, 3*time.Second)

		// A past deadline fails at once even with a conn queued.
		c := dial(t, b, "tcp", ln.Addr().String())
		require.NoError(t, dl.SetDeadline(time.Now().Add(-time.Second)))
		_, err = ln.Accept()
		requireTimeout(t, err, "accept")

		// Moving the deadline from another goroutine wakes a parked Accept.
		require.NoError(t, dl.SetDeadline(time.Time{}))
		ac := accept(t, ln) // takes the queued conn
		require.NoError(t, dl.SetDeadline(time.Now().Add(time.Hour)))
		ch := goAccept(ln)
		notYet(t, ch, 50*time.Millisecond, "Accept")
		require.NoError(t, dl.SetDeadline(time.Now().Add(20*time.Millisecond)))
		r := recv(t, ch, 3*time.Second, "Accept woken by the new deadline")
		requireTimeout(t, r.err, "accept")

		// Clearing it makes the listener usable again.
		require.NoError(t, dl.SetDeadline(time.Time{}))
		ch = goAccept(ln)
		c2 := dial(t, b, "tcp", ln.Addr().String())
		r = recv(t, ch, 5*time.Second, "Accept after clearing the deadline")
		require.NoError(t, r.err)
		defer r.c.Close()
		require.Equal(t, c2.LocalAddr().String(), r.c.RemoteAddr().String())
		_ = ac
		_ = c

		ln.Close()
		// net returns the bare closed error here.
		require.ErrorIs(t, dl.SetDeadline(time.Now()), net.ErrClosed)
	})
}

func TestListenerSyscallConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		require.Equal(t, 1, getsockoptInt(t, ln, unix.SOL_SOCKET, unix.SO_ACCEPTCONN))
		require.Equal(t, unix.SOCK_STREAM, getsockoptInt(t, ln, unix.SOL_SOCKET, unix.SO_TYPE))
		var sa unix.Sockaddr
		rawControl(t, ln, func(fd int) { sa, _ = unix.Getsockname(fd) })
		sa4, ok := sa.(*unix.SockaddrInet4)
		require.True(t, ok, "sockname %T", sa)
		require.Equal(t, ln.Addr().(*net.TCPAddr).Port, sa4.Port)
		// The descriptor is close-on-exec and non-blocking.
		rawControl(t, ln, func(fd int) {
			fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			require.NoError(t, err)
			require.NotZero(t, fl&unix.FD_CLOEXEC, "listener fd not close-on-exec")
			fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			require.NoError(t, err)
			require.NotZero(t, fl&unix.O_NONBLOCK, "listener fd blocking")
		})
	})
}

func TestListenConfigControl(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		var called []string
		lc := &unet.ListenConfig{Backend: b, Control: func(network, address string, c syscall.RawConn) error {
			called = append(called, network+" "+address)
			var serr error
			err := c.Control(func(fd uintptr) {
				// Before bind: the socket has no port yet.
				sa, err := unix.Getsockname(int(fd))
				if err != nil {
					serr = err
					return
				}
				if p := sa.(*unix.SockaddrInet4).Port; p != 0 {
					serr = fmt.Errorf("socket already bound to port %d", p)
					return
				}
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 65536)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		require.Equal(t, []string{"tcp4 127.0.0.1:0"}, called)
		// Linux doubles the value set.
		require.Equal(t, 2*65536, getsockoptInt(t, ln, unix.SOL_SOCKET, unix.SO_RCVBUF))

		// An error from Control fails Listen and leaks no descriptor.
		before := countFDs()
		boom := errors.New("boom")
		lc.Control = func(string, string, syscall.RawConn) error { return boom }
		ln2, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.Nil(t, ln2)
		require.ErrorIs(t, err, boom)
		requireOpError(t, err, "listen")
		require.Equal(t, before, countFDs())
	})
}

func TestListenReusePort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		lc := &unet.ListenConfig{Backend: b, ReusePort: true}
		ln1, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln1.Close()
		require.Equal(t, 1, getsockoptInt(t, ln1, unix.SOL_SOCKET, unix.SO_REUSEPORT))
		ln2, err := lc.Listen(context.Background(), "tcp", ln1.Addr().String())
		require.NoError(t, err, "second listener on the same port with ReusePort")
		defer ln2.Close()

		// Without ReusePort the port is in use.
		_, err = (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "tcp", ln1.Addr().String())
		requireOpError(t, err, "listen")
		require.ErrorIs(t, err, syscall.EADDRINUSE)

		// Both listeners serve; the kernel spreads conns by hash.
		var mu sync.Mutex
		got := map[int]int{}
		var wg sync.WaitGroup
		for i, ln := range []net.Listener{ln1, ln2} {
			wg.Go(func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					got[i]++
					mu.Unlock()
					c.Close()
				}
			})
		}
		const n = 64
		for range n {
			c, err := (&unet.Dialer{Backend: b}).Dial("tcp", ln1.Addr().String())
			require.NoError(t, err)
			c.Close()
		}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return got[0]+got[1] == n
		}, 10*time.Second, 5*time.Millisecond)
		ln1.Close()
		ln2.Close()
		wg.Wait()
		require.NotZero(t, got[0], "first listener got no conn")
		require.NotZero(t, got[1], "second listener got no conn")
	})
}

// keepAliveCases are the settings of ListenConfig.KeepAlive and
// Dialer.KeepAlive with the socket options net gives them.
var keepAliveCases = []struct {
	name      string
	keepAlive time.Duration
	on        bool
	idle      int // seconds
	intvl     int
	cnt       int
}{
	{"default", 0, true, 15, 15, 9},
	{"30s", 30 * time.Second, true, 30, 15, 9},
	{"disabled", -1, false, 0, 0, 0},
}

func checkKeepAlive(t testing.TB, c net.Conn, on bool, idle, intvl, cnt int) {
	t.Helper()
	if !on {
		require.Equal(t, 0, getsockoptInt(t, c, unix.SOL_SOCKET, unix.SO_KEEPALIVE), "SO_KEEPALIVE")
		return
	}
	require.Equal(t, 1, getsockoptInt(t, c, unix.SOL_SOCKET, unix.SO_KEEPALIVE), "SO_KEEPALIVE")
	require.Equal(t, idle, getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), "TCP_KEEPIDLE")
	require.Equal(t, intvl, getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL), "TCP_KEEPINTVL")
	require.Equal(t, cnt, getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_KEEPCNT), "TCP_KEEPCNT")
}

func TestListenKeepAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		for _, tc := range keepAliveCases {
			t.Run(tc.name, func(t *testing.T) {
				ln, err := (&unet.ListenConfig{Backend: b, KeepAlive: tc.keepAlive}).Listen(context.Background(), "tcp", "127.0.0.1:0")
				require.NoError(t, err)
				defer ln.Close()
				ch := goAccept(ln)
				c := dial(t, b, "tcp", ln.Addr().String())
				_ = c
				r := recv(t, ch, 5*time.Second, "Accept")
				require.NoError(t, r.err)
				defer r.c.Close()
				checkKeepAlive(t, r.c, tc.on, tc.idle, tc.intvl, tc.cnt)
				// net turns Nagle off on every accepted conn.
				require.Equal(t, 1, getsockoptInt(t, r.c, unix.IPPROTO_TCP, unix.TCP_NODELAY), "TCP_NODELAY")
			})
		}
	})
}

func TestDialKeepAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		for _, tc := range keepAliveCases {
			t.Run(tc.name, func(t *testing.T) {
				c, err := (&unet.Dialer{Backend: b, KeepAlive: tc.keepAlive}).Dial("tcp", ln.Addr().String())
				require.NoError(t, err)
				defer c.Close()
				checkKeepAlive(t, c, tc.on, tc.idle, tc.intvl, tc.cnt)
				require.Equal(t, 1, getsockoptInt(t, c, unix.IPPROTO_TCP, unix.TCP_NODELAY), "TCP_NODELAY")
				sc := accept(t, ln)
				sc.Close()
			})
		}
	})
}

func TestListenAddrInUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		before := countFDs()
		ln2, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "tcp", ln.Addr().String())
		require.Nil(t, ln2)
		requireOpError(t, err, "listen")
		require.ErrorIs(t, err, syscall.EADDRINUSE)
		require.Equal(t, before, countFDs())
	})
}

func TestListenUnsupportedNetwork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		for _, network := range []string{"udp", "ip4:icmp", "bogus"} {
			ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), network, "127.0.0.1:0")
			if ln != nil {
				ln.Close()
			}
			require.Error(t, err, "Listen(%q)", network)
			requireOpError(t, err, "listen")
		}
	})
}

func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestTCP6(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback on this machine")
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, tc := range []struct{ lnet, laddr, dnet, daddr string }{
			{"tcp6", "[::1]:0", "tcp6", "[::1]"},
			{"tcp", "[::1]:0", "tcp", "[::1]"},
			{"tcp", ":0", "tcp6", "[::1]"},     // dual-stack listener, v6 client
			{"tcp", ":0", "tcp4", "127.0.0.1"}, // dual-stack listener, v4 client
			{"tcp4", "127.0.0.1:0", "tcp", "127.0.0.1"},
		} {
			t.Run(tc.lnet+" "+tc.laddr+" <- "+tc.dnet+" "+tc.daddr, func(t *testing.T) {
				ln := listen(t, b, tc.lnet, tc.laddr)
				port := ln.Addr().(*net.TCPAddr).Port
				ch := goAccept(ln)
				c := dial(t, b, tc.dnet, net.JoinHostPort(strings.Trim(tc.daddr, "[]"), fmt.Sprint(port)))
				r := recv(t, ch, 5*time.Second, "Accept")
				require.NoError(t, r.err)
				defer r.c.Close()
				ra, ok := r.c.RemoteAddr().(*net.TCPAddr)
				require.True(t, ok, "RemoteAddr %T", r.c.RemoteAddr())
				la, ok := c.LocalAddr().(*net.TCPAddr)
				require.True(t, ok, "LocalAddr %T", c.LocalAddr())
				require.Equal(t, la.Port, ra.Port)
				require.True(t, la.IP.Equal(ra.IP), "client %v, server sees %v", la, ra)
				wantV4 := strings.Contains(tc.daddr, ".")
				require.Equal(t, wantV4, c.RemoteAddr().(*net.TCPAddr).IP.To4() != nil)
				msg := []byte("over " + tc.dnet)
				_, err := c.Write(msg)
				require.NoError(t, err)
				buf := make([]byte, len(msg))
				r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = io.ReadFull(r.c, buf)
				require.NoError(t, err)
				require.Equal(t, msg, buf)
			})
		}
	})
}

// TestAutoSelectsURing checks what auto picks. With UNET_REQUIRE_URING set
// (CI sets it wherever kernel.io_uring_disabled is 0) it must be io_uring:
// a silent fallback to epoll would leave the uring backend untested.
func TestAutoSelectsURing(t *testing.T) {
	for _, v := range []string{"", "auto"} {
		t.Run("auto="+v, func(t *testing.T) {
			t.Setenv("UNET_BACKEND", v)
			got := unet.Backend()
			if os.Getenv("UNET_REQUIRE_URING") != "" {
				require.Equal(t, "uring", got, "io_uring is required here but auto chose %q", got)
			} else {
				require.Contains(t, []string{"uring", "epoll", "std"}, got)
				t.Logf("auto chose %s", got)
			}
			ln, err := unet.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			checkListenerType(t, got, ln)
			ln.Close()
		})
	}
}

func TestBackendEnv(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			checkFDs(t)
			t.Setenv("UNET_BACKEND", b)
			require.Equal(t, b, unet.Backend())
			ln, err := unet.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			checkListenerType(t, b, ln)
			c, err := unet.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			checkConnType(t, b, c)
			// An explicit Backend overrides the environment.
			for _, other := range backends {
				ln2, err := (&unet.ListenConfig{Backend: other}).Listen(context.Background(), "tcp", "127.0.0.1:0")
				require.NoError(t, err)
				checkListenerType(t, other, ln2)
				c2, err := (&unet.Dialer{Backend: other}).Dial("tcp", ln2.Addr().String())
				require.NoError(t, err)
				checkConnType(t, other, c2)
				c2.Close()
				ln2.Close()
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		checkFDs(t)
		t.Setenv("UNET_BACKEND", "bogus")
		_ = unet.Backend() // must not panic
		ln, err := unet.Listen("tcp", "127.0.0.1:0")
		require.Nil(t, ln)
		requireOpError(t, err, "listen")
		require.Contains(t, err.Error(), "bogus")
		ln, err = (&unet.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.Nil(t, ln)
		require.Error(t, err)
		c, err := unet.Dial("tcp", "127.0.0.1:1")
		require.Nil(t, c)
		requireOpError(t, err, "dial")
		require.NotErrorIs(t, err, syscall.ECONNREFUSED, "dial went ahead with an unknown backend")
		// An explicit valid Backend still works.
		ln, err = (&unet.ListenConfig{Backend: "epoll"}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ln.Close()
	})
	t.Run("unknown explicit", func(t *testing.T) {
		t.Setenv("UNET_BACKEND", "std")
		ln, err := (&unet.ListenConfig{Backend: "io_uring"}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.Nil(t, ln)
		requireOpError(t, err, "listen")
		c, err := (&unet.Dialer{Backend: "EPOLL"}).Dial("tcp", "127.0.0.1:1")
		require.Nil(t, c)
		requireOpError(t, err, "dial")
	})
}

func TestDialRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		before := countFDs()
		c, err := (&unet.Dialer{Backend: b}).Dial("tcp", addr)
		require.Nil(t, c)
		oe := requireOpError(t, err, "dial")
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		require.Equal(t, "tcp", oe.Net)
		require.Equal(t, addr, oe.Addr.String())
		var ne net.Error
		require.True(t, errors.As(err, &ne))
		require.False(t, ne.Timeout())
		require.Equal(t, before, countFDs())
	})
}

// fullBacklog returns the address of a listening socket on 127.0.0.1
// that never accepts and whose accept queue is full: a dial timeout on
// loopback.
func fullBacklog(t *testing.T) string {
	t.Helper()
	return fullBacklogAt(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}).String()
}

func TestDialTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		addr := fullBacklog(t)
		check := func(t *testing.T, err error, el time.Duration) {
			requireOpError(t, err, "dial")
			var ne net.Error
			require.True(t, errors.As(err, &ne), "%T", err)
			require.True(t, ne.Timeout(), "Timeout() of %v", err)
			// net reports either error, depending on which fires first.
			require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded),
				"want a deadline error, got %v", err)
			require.Less(t, el, 3*time.Second)
		}
		t.Run("Timeout", func(t *testing.T) {
			before := countFDs()
			start := time.Now()
			c, err := (&unet.Dialer{Backend: b, Timeout: 150 * time.Millisecond}).Dial("tcp", addr)
			el := time.Since(start)
			require.Nil(t, c)
			check(t, err, el)
			require.GreaterOrEqual(t, el, 120*time.Millisecond)
			require.Equal(t, before, countFDs())
		})
		t.Run("Deadline", func(t *testing.T) {
			start := time.Now()
			c, err := (&unet.Dialer{Backend: b, Deadline: time.Now().Add(150 * time.Millisecond)}).Dial("tcp", addr)
			el := time.Since(start)
			require.Nil(t, c)
			check(t, err, el)
			require.GreaterOrEqual(t, el, 120*time.Millisecond)
		})
		t.Run("PastDeadline", func(t *testing.T) {
			start := time.Now()
			c, err := (&unet.Dialer{Backend: b, Deadline: time.Now().Add(-time.Second)}).Dial("tcp", addr)
			require.Nil(t, c)
			check(t, err, time.Since(start))
		})
		t.Run("ContextDeadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			c, err := (&unet.Dialer{Backend: b}).DialContext(ctx, "tcp", addr)
			el := time.Since(start)
			require.Nil(t, c)
			check(t, err, el)
			require.GreaterOrEqual(t, el, 120*time.Millisecond)
		})
		t.Run("ContextCancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			c, err := (&unet.Dialer{Backend: b}).DialContext(ctx, "tcp", addr)
			el := time.Since(start)
			require.Nil(t, c)
			requireOpError(t, err, "dial")
			require.ErrorIs(t, err, context.Canceled)
			require.GreaterOrEqual(t, el, 80*time.Millisecond)
			require.Less(t, el, 3*time.Second)
		})
		t.Run("ContextCanceledBefore", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			c, err := (&unet.Dialer{Backend: b}).DialContext(ctx, "tcp", addr)
			require.Nil(t, c)
			requireOpError(t, err, "dial")
			require.ErrorIs(t, err, context.Canceled)
		})
	})
}

func TestDialLocalAddr(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		// Another loopback address as the source.
		laddr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
		ch := goAccept(ln)
		c, err := (&unet.Dialer{Backend: b, LocalAddr: laddr}).Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		defer r.c.Close()
		la := c.LocalAddr().(*net.TCPAddr)
		require.True(t, la.IP.Equal(laddr.IP), "local %v", la)
		ra := r.c.RemoteAddr().(*net.TCPAddr)
		require.True(t, ra.IP.Equal(laddr.IP), "server sees %v", ra)
		require.Equal(t, la.Port, ra.Port)

		// A local address already in use fails the dial.
		c2, err := (&unet.Dialer{Backend: b, LocalAddr: ln.Addr()}).Dial("tcp", ln.Addr().String())
		if c2 != nil {
			c2.Close()
		}
		requireOpError(t, err, "dial")
		require.ErrorIs(t, err, syscall.EADDRINUSE)
	})
}

func TestDialResolve(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		ch := goAccept(ln)
		c := dial(t, b, "tcp4", net.JoinHostPort("localhost", port))
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		r.c.Close()
		require.True(t, c.RemoteAddr().(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)))
		_, err := (&unet.Dialer{Backend: b}).Dial("tcp", "no-port")
		requireOpError(t, err, "dial")
	})
}

// TestAcceptEMFILE runs each backend in a child process whose descriptor
// table is full: Accept must fail with a temporary error and succeed again
// once a descriptor is free.
func TestAcceptEMFILE(t *testing.T) {
	if b := os.Getenv("UNET_TEST_EMFILE_CHILD"); b != "" {
		emfileChild(t, b)
		return
	}
	forEachBackend(t, func(t *testing.T, b string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAcceptEMFILE$", "-test.v", "-test.count=1", "-test.timeout=50s")
		cmd.Env = append(os.Environ(), "UNET_TEST_EMFILE_CHILD="+b)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child:\n%s", out)
		require.Contains(t, string(out), "EMFILE-OK "+b, "child:\n%s", out)
	})
}

func emfileChild(t *testing.T, b string) {
	ln := listen(t, b, "tcp", "127.0.0.1:0")
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	lim.Cur = uint64(countFDs() + 32)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	var fillers []*os.File
	fill := func() {
		for {
			f, err := os.Open(os.DevNull)
			if err != nil {
				require.ErrorIs(t, err, syscall.EMFILE)
				return
			}
			fillers = append(fillers, f)
		}
	}
	// Fill twice: a descriptor that something closes meanwhile (a
	// collector's cleanup, under GOGC=1) is taken too.
	fill()
	time.Sleep(20 * time.Millisecond)
	fill()
	// One descriptor for the client socket, none left for Accept.
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	r := recv(t, goAccept(ln), 10*time.Second, "Accept with no descriptor left")
	if r.c != nil {
		r.c.Close()
	}
	err = r.err
	requireOpError(t, err, "accept")
	require.ErrorIs(t, err, syscall.EMFILE)
	var te interface{ Temporary() bool }
	require.True(t, errors.As(err, &te) && te.Temporary(), "EMFILE accept error not Temporary: %v", err)
	for _, f := range fillers {
		f.Close()
	}
	r = recv(t, goAccept(ln), 10*time.Second, "Accept after descriptors were freed")
	require.NoError(t, r.err, "Accept after descriptors were freed")
	sc := r.c
	defer sc.Close()
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(sc, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))
	fmt.Println("EMFILE-OK " + b)
}
