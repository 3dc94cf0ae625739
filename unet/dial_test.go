package unet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// fakeDNS answers A and AAAA queries for the names in its table over UDP
// on loopback, so that a net.Resolver pointed at it resolves a host name
// to addresses a test chose, in the order the test chose.
type fakeDNS struct {
	pc    net.PacketConn
	hosts map[string][]netip.Addr // fully qualified name -> addresses
}

// newFakeDNS starts a fake DNS server for hosts until the test ends.
func newFakeDNS(t testing.TB, hosts map[string][]netip.Addr) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	s := &fakeDNS{pc: pc, hosts: hosts}
	var wg sync.WaitGroup
	wg.Go(s.serve)
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return s
}

func (s *fakeDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, err := s.answer(buf[:n]); err == nil {
			s.pc.WriteTo(resp, from)
		}
	}
}

func (s *fakeDNS) answer(query []byte) ([]byte, error) {
	var q dnsmessage.Message
	if err := q.Unpack(query); err != nil || len(q.Questions) != 1 {
		return nil, fmt.Errorf("bad query: %v", err)
	}
	question := q.Questions[0]
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true, RecursionDesired: q.RecursionDesired},
		Questions: q.Questions,
	}
	addrs, ok := s.hosts[question.Name.String()]
	if !ok {
		resp.RCode = dnsmessage.RCodeNameError
	}
	for _, a := range addrs {
		h := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case a.Is4() && question.Type == dnsmessage.TypeA:
			h.Type = dnsmessage.TypeA
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
		case a.Is6() && question.Type == dnsmessage.TypeAAAA:
			h.Type = dnsmessage.TypeAAAA
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	return resp.Pack()
}

// resolver returns a pure-Go resolver that asks only s.
func (s *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp4", s.pc.LocalAddr().String())
		},
	}
}

// fullBacklogAt binds a TCP socket to sa, listens with the smallest
// backlog and fills its accept queue, so that a further connect's SYN is
// dropped: a dial to it hangs until its timeout. It returns the address.
func fullBacklogAt(t testing.TB, family int, sa unix.Sockaddr) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	require.NoError(t, unix.Bind(fd, sa))
	require.NoError(t, unix.Listen(fd, 0))
	bound, err := unix.Getsockname(fd)
	require.NoError(t, err)
	var ap netip.AddrPort
	switch bound := bound.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(bound.Addr), uint16(bound.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(bound.Addr), uint16(bound.Port))
	}
	for i := 0; ; i++ {
		require.Less(t, i, 16, "could not fill the accept queue")
		c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
		if err != nil {
			require.True(t, err.(net.Error).Timeout(), "filling backlog: %v", err)
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return ap
}

// echoServer echoes every conn accepted on ln until ln is closed and the
// conns end; the test waits for it.
func echoServer(t testing.TB, ln net.Listener) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				// Hide the conn's ReadFrom: std's splices through pooled
				// pipes that only the GC closes, which the descriptor
				// check would count as a leak.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// requireEcho checks that c works both ways: a message written comes back.
func requireEcho(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write([]byte(msg))
	require.NoError(t, err, "Write on a dialed conn")
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err, "Read on a dialed conn")
	require.Equal(t, msg, string(buf))
	require.NoError(t, c.SetDeadline(time.Time{}))
}

// errShape is what a test compares of an error against std's: the type
// chain, the OpError fields and the message.
func errShape(err error) string {
	if err == nil {
		return "<nil>"
	}
	var parts []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		s := fmt.Sprintf("%T", e)
		if oe, ok := e.(*net.OpError); ok {
			s += fmt.Sprintf("{Op:%s Net:%s Source:%v Addr:%v}", oe.Op, oe.Net, oe.Source, oe.Addr)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " > ") + ": " + err.Error()
}

// requireNoConn checks that a failed dial returned a nil net.Conn, as net
// does: not even a typed nil, which compares unequal to nil. A conn
// returned anyway is closed.
func requireNoConn(t testing.TB, c net.Conn, what string) {
	t.Helper()
	if c == nil {
		return
	}
	if p, ok := c.(*unet.Conn); ok && p == nil {
		t.Fatalf("%s: returned a typed nil %T, which is not == nil", what, c)
	}
	c.Close()
	t.Fatalf("%s: returned a conn (%v -> %v)", what, c.LocalAddr(), c.RemoteAddr())
}

// TestDialCanceledBefore: a context cancelled before the dial fails it as
// net does, on TCP and on unix sockets, and leaves no descriptor behind.
func TestDialCanceledBefore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		tcpLn := listen(t, b, "tcp", "127.0.0.1:0")
		path := filepath.Join(t.TempDir(), "sock")
		unixLn := listen(t, b, "unix", path)
		for _, tc := range []struct{ network, addr string }{
			{"tcp", tcpLn.Addr().String()},
			{"unix", path},
			{"unix", "@unet-no-such-abstract-socket"},
		} {
			t.Run(tc.network+" "+tc.addr, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, stdErr := (&net.Dialer{}).DialContext(ctx, tc.network, tc.addr)
				require.ErrorIs(t, stdErr, context.Canceled)
				before := countFDs()
				c, err := (&unet.Dialer{Backend: b}).DialContext(ctx, tc.network, tc.addr)
				requireNoConn(t, c, "dial with a cancelled context")
				require.Equal(t, errShape(stdErr), errShape(err))
				require.Equal(t, before, countFDs())
			})
		}
		// Nothing reached the listeners.
		for _, ln := range []net.Listener{tcpLn, unixLn} {
			ln.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now().Add(20 * time.Millisecond))
			c, err := ln.Accept()
			if c != nil {
				c.Close()
			}
			requireTimeout(t, err, "accept")
		}
	})
}

// TestDialCancelRace cancels dials at random small delays while they
// connect, from several goroutines at once so that cancels land in every
// step of the dial: a dial either fails with the context's error or
// returns a conn that works, never a conn poisoned by the cancel
// (go.dev/issue/16523).
func TestDialCancelRace(t *testing.T) {
	const workers = 4
	iters := 500 // per worker
	if testing.Short() {
		iters = 100
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(network, func(t *testing.T) {
				addr := "127.0.0.1:0"
				if network == "unix" {
					addr = filepath.Join(t.TempDir(), "sock")
				}
				ln := listen(t, b, network, addr)
				echoServer(t, ln)
				d := &unet.Dialer{Backend: b}
				var ok, canceled atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, workers)
				for w := range workers {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(w), uint64(len(b))))
						for i := range iters {
							if err := cancelRaceOnce(d, network, ln.Addr().String(), rng, &ok, &canceled); err != nil {
								errs <- fmt.Errorf("worker %d iteration %d: %w", w, i, err)
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				t.Logf("%d dials: %d connected, %d cancelled", workers*iters, ok.Load(), canceled.Load())
			})
		}
	})
}

// cancelRaceOnce dials with a cancel at a random delay of up to 100µs and
// checks the outcome.
func cancelRaceOnce(d *unet.Dialer, network, addr string, rng *rand.Rand, ok, canceled *atomic.Int64) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(time.Duration(rng.IntN(100))*time.Microsecond, cancel)
	defer stop.Stop()
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		var oe *net.OpError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "dial" {
			return fmt.Errorf("dial failed with %v, want a dial *net.OpError wrapping context.Canceled", err)
		}
		canceled.Add(1)
		return nil
	}
	defer c.Close()
	ok.Add(1)
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	msg := []byte("echo")
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("Write on a dialed conn: %w", err)
	}
	if _, err := io.ReadFull(c, msg); err != nil {
		return fmt.Errorf("Read on a dialed conn: %w", err)
	}
	return nil
}

// unixFullBacklog listens on a unix socket path with the smallest backlog
// and fills it, so that a further connect fails with EAGAIN.
func unixFullBacklog(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "full")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
	require.NoError(t, unix.Listen(fd, 0))
	for i := 0; ; i++ {
		require.Less(t, i, 16, "could not fill the unix backlog")
		c, err := net.Dial("unix", path)
		if err != nil {
			require.ErrorIs(t, err, syscall.EAGAIN, "filling the unix backlog")
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return path
}

// TestDialUnixFullBacklog: connecting to a unix socket whose backlog is
// full fails at once with EAGAIN, as in net, never with a conn that is not
// connected.
func TestDialUnixFullBacklog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		path := unixFullBacklog(t)
		_, stdErr := net.Dial("unix", path)
		require.ErrorIs(t, stdErr, syscall.EAGAIN)
		before := countFDs()
		start := time.Now()
		c, err := (&unet.Dialer{Backend: b, Timeout: 5 * time.Second}).Dial("unix", path)
		requireNoConn(t, c, "dial to a full unix backlog")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Equal(t, errShape(stdErr), errShape(err))
		require.Equal(t, before, countFDs())
	})
}

// TestDialUnixAbstract dials an abstract unix socket by its "@name".
func TestDialUnixAbstract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		name := fmt.Sprintf("@unet-test-%d-%s", os.Getpid(), b)
		ln := listen(t, b, "unix", name)
		echoServer(t, ln)
		c := dial(t, b, "unix", name)
		requireEcho(t, c, "abstract")
		require.Equal(t, &net.UnixAddr{Name: name, Net: "unix"}, c.RemoteAddr())
	})
}

// dualHost serves a host name whose first address, [::1]:port, never
// answers (its accept queue is full) and whose second, 127.0.0.1:port,
// listens with backend b. It returns the name with the port and the
// resolver that knows it.
func dualHost(t *testing.T, b string) (string, *net.Resolver) {
	t.Helper()
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback on this machine")
	}
	ln := listen(t, b, "tcp4", "127.0.0.1:0")
	echoServer(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	fullBacklogAt(t, unix.AF_INET6, &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16(), Port: port})
	dns := newFakeDNS(t, map[string][]netip.Addr{
		"dual.unet.test.": {netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})},
	})
	return net.JoinHostPort("dual.unet.test", fmt.Sprint(port)), dns.resolver()
}

// TestDialFallback: a host name whose IPv6 address does not answer and
// whose IPv4 address listens connects over IPv4 after the fallback delay
// (RFC 6555, net.Dialer.FallbackDelay); without the fallback, the addresses
// are tried in turn, each with its share of the timeout. net is the oracle
// for which address wins and when.
func TestDialFallback(t *testing.T) {
	cases := []struct {
		name          string
		fallbackDelay time.Duration
		min, max      time.Duration
	}{
		{"default 300ms", 0, 250 * time.Millisecond, 2 * time.Second},
		{"50ms", 50 * time.Millisecond, 40 * time.Millisecond, time.Second},
		// Serial: [::1] gets half of the 4 s timeout (net's partial
		// deadline, at least 2 s), then 127.0.0.1 connects.
		{"serial", -1, 1900 * time.Millisecond, 3500 * time.Millisecond},
	}
	forEachBackend(t, func(t *testing.T, b string) {
		addr, resolver := dualHost(t, b)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.fallbackDelay < 0 && testing.Short() {
					t.Skip("takes 2 s")
				}
				nd := &net.Dialer{Timeout: 4 * time.Second, FallbackDelay: tc.fallbackDelay, Resolver: resolver}
				start := time.Now()
				sc, err := nd.Dial("tcp", addr)
				stdTook := time.Since(start)
				require.NoError(t, err, "std")
				sc.Close()
				ud := &unet.Dialer{Backend: b, Timeout: 4 * time.Second, FallbackDelay: tc.fallbackDelay, Resolver: resolver}
				start = time.Now()
				c, err := ud.Dial("tcp", addr)
				took := time.Since(start)
				require.NoError(t, err, "after %v (std took %v)", took, stdTook)
				defer c.Close()
				checkConnType(t, b, c)
				require.Equal(t, sc.RemoteAddr(), c.RemoteAddr())
				requireEcho(t, c, "fallback")
				require.True(t, took >= tc.min && took < tc.max, "dial took %v, std %v, want [%v, %v)", took, stdTook, tc.min, tc.max)
			})
		}
	})
}

// TestDialControl: Control and ControlContext run as in net.Dialer, once
// per socket with the network and address net passes, and an error from
// them fails the dial as it fails net's.
func TestDialControl(t *testing.T) {
	type call struct{ network, address string }
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		echoServer(t, ln)
		addr := ln.Addr().String()

		// The refused dial comes first, while no conn exists: the echo
		// server accepting or closing an earlier conn would move the
		// descriptor count under the check (CI saw 13 against 12).
		refuse := func(string, string, syscall.RawConn) error { return errors.New("refused by Control") }
		_, stdErr := (&net.Dialer{Control: refuse}).Dial("tcp", addr)
		require.Error(t, stdErr)
		before := countFDs()
		c, err := (&unet.Dialer{Backend: b, Control: refuse}).Dial("tcp", addr)
		requireNoConn(t, c, "dial refused by Control")
		require.Equal(t, errShape(stdErr), errShape(err))
		require.Equal(t, before, countFDs(), "the refused dial left a descriptor")

		type ctxKey struct{}
		key := ctxKey{}
		record := func(calls *[]call) (func(string, string, syscall.RawConn) error, func(context.Context, string, string, syscall.RawConn) error) {
			control := func(network, address string, c syscall.RawConn) error {
				var typ int
				require.NoError(t, c.Control(func(fd uintptr) { typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }))
				require.Equal(t, unix.SOCK_STREAM, typ)
				*calls = append(*calls, call{network, address})
				return nil
			}
			controlCtx := func(ctx context.Context, network, address string, c syscall.RawConn) error {
				require.Equal(t, "value", ctx.Value(key))
				return control(network, address, c)
			}
			return control, controlCtx
		}
		ctx := context.WithValue(context.Background(), key, "value")
		var stdCalls, calls []call
		stdControl, _ := record(&stdCalls)
		control, controlCtx := record(&calls)
		sc, err := (&net.Dialer{Control: stdControl}).DialContext(ctx, "tcp", addr)
		require.NoError(t, err)
		sc.Close()
		c, err = (&unet.Dialer{Backend: b, Control: control}).DialContext(ctx, "tcp", addr)
		require.NoError(t, err)
		requireEcho(t, c, "control")
		c.Close()
		require.Equal(t, stdCalls, calls)
		calls = nil
		c, err = (&unet.Dialer{Backend: b, ControlContext: controlCtx}).DialContext(ctx, "tcp", addr)
		require.NoError(t, err)
		c.Close()
		require.Equal(t, stdCalls, calls)

	})
}

// TestDialMultipathTCP: SetMultipathTCP asks for MPTCP as net.Dialer's
// does; where the kernel has MPTCP the conn uses it, as std's does.
func TestDialMultipathTCP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		echoServer(t, ln)
		for _, use := range []bool{false, true} {
			var nd net.Dialer
			nd.SetMultipathTCP(use)
			sc, err := nd.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			stdMPTCP, stdErr := sc.(*net.TCPConn).MultipathTCP()
			sc.Close()
			d := &unet.Dialer{Backend: b}
			require.Equal(t, (&net.Dialer{}).MultipathTCP(), d.MultipathTCP(), "default")
			d.SetMultipathTCP(use)
			require.Equal(t, nd.MultipathTCP(), d.MultipathTCP())
			c := dialWith(t, d, "tcp", ln.Addr().String())
			requireEcho(t, c, "mptcp")
			got, err := c.(interface{ MultipathTCP() (bool, error) }).MultipathTCP()
			require.Equal(t, stdErr, err)
			require.Equal(t, stdMPTCP, got, "SetMultipathTCP(%v)", use)
		}
	})
}

// dial2 dials with d and closes the conn at the end of the test.
func dialWith(t testing.TB, d *unet.Dialer, network, addr string) net.Conn {
	t.Helper()
	c, err := d.Dial(network, addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDialUnknownNetwork: a network the backends do not serve fails as
// net fails an unknown one; std serves what net serves.
func TestDialUnknownNetwork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		_, stdErr := net.Dial("bogus", "127.0.0.1:1")
		_, err := (&unet.Dialer{Backend: b}).Dial("bogus", "127.0.0.1:1")
		require.Equal(t, errShape(stdErr), errShape(err))
		if b == "std" {
			return
		}
		c, err := (&unet.Dialer{Backend: b}).Dial("udp", "127.0.0.1:1")
		requireNoConn(t, c, "dial udp")
		oe := requireOpError(t, err, "dial")
		require.Equal(t, "udp", oe.Net)
		require.Equal(t, net.UnknownNetworkError("udp"), oe.Err)
	})
}
