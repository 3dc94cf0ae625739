package unet_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// sockopts is a snapshot of the socket options that the setters of
// *net.TCPConn touch.
type sockopts struct {
	NoDelay, KeepAlive, KeepIdle, KeepIntvl, KeepCnt int
	Linger                                           unix.Linger
	RcvBuf, SndBuf                                   int
}

func readSockopts(t testing.TB, c net.Conn) sockopts {
	t.Helper()
	var o sockopts
	rawControl(t, c, func(fd int) {
		get := func(level, opt int) int {
			v, err := unix.GetsockoptInt(fd, level, opt)
			require.NoError(t, err)
			return v
		}
		o.NoDelay = get(unix.IPPROTO_TCP, unix.TCP_NODELAY)
		o.KeepAlive = get(unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		o.KeepIdle = get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		o.KeepIntvl = get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		o.KeepCnt = get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
		o.RcvBuf = get(unix.SOL_SOCKET, unix.SO_RCVBUF)
		o.SndBuf = get(unix.SOL_SOCKET, unix.SO_SNDBUF)
		l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
		require.NoError(t, err)
		o.Linger = *l
	})
	return o
}

// errShapeOf is errShape with c's own addresses named LOCAL and REMOTE,
// so that the errors of two conns compare equal when they say the same of
// their own conn.
func errShapeOf(err error, c net.Conn) string {
	s := errShape(err)
	if a := c.LocalAddr(); a != nil {
		s = strings.ReplaceAll(s, a.String(), "LOCAL")
	}
	if a := c.RemoteAddr(); a != nil {
		s = strings.ReplaceAll(s, a.String(), "REMOTE")
	}
	return s
}

// keepAliveConfigConn is the keep-alive setter that *net.TCPConn has and
// the tcpConn interface leaves out.
type keepAliveConfigConn interface {
	SetKeepAliveConfig(net.KeepAliveConfig) error
}

// sockoptCases are the setters of *net.TCPConn with arguments at and
// beyond every edge: zero, negative, huge.
func sockoptCases() []struct {
	name string
	set  func(c net.Conn) error
} {
	type tc = struct {
		name string
		set  func(c net.Conn) error
	}
	var cases []tc
	add := func(name string, set func(c net.Conn) error) { cases = append(cases, tc{name, set}) }
	for _, d := range []time.Duration{0, -1, -time.Hour, 1, 1500 * time.Millisecond, 42 * time.Second, 32767 * time.Second, 32768 * time.Second, math.MaxInt64} {
		add(fmt.Sprintf("SetKeepAlivePeriod(%v)", d), func(c net.Conn) error { return c.(tcpConn).SetKeepAlivePeriod(d) })
	}
	for _, on := range []bool{false, true} {
		add(fmt.Sprintf("SetKeepAlive(%v)", on), func(c net.Conn) error { return c.(tcpConn).SetKeepAlive(on) })
		add(fmt.Sprintf("SetNoDelay(%v)", on), func(c net.Conn) error { return c.(tcpConn).SetNoDelay(on) })
	}
	for _, cfg := range []net.KeepAliveConfig{
		{},
		{Enable: true},
		{Enable: false, Idle: 5 * time.Second, Interval: 6 * time.Second, Count: 7},
		{Enable: true, Idle: 5 * time.Second, Interval: 6 * time.Second, Count: 7},
		{Enable: true, Idle: -1, Interval: -1, Count: -1},
		{Enable: false, Idle: -1, Interval: -1, Count: -1},
		{Enable: true, Idle: 1, Interval: 1, Count: 1},
		{Enable: true, Count: 1000},
		{Enable: true, Interval: 40000 * time.Second},
		{Enable: true, Idle: math.MaxInt64},
	} {
		add(fmt.Sprintf("SetKeepAliveConfig(%+v)", cfg), func(c net.Conn) error { return c.(keepAliveConfigConn).SetKeepAliveConfig(cfg) })
	}
	for _, sec := range []int{math.MinInt, -1, 0, 1, 5, 1 << 31, math.MaxInt} {
		add(fmt.Sprintf("SetLinger(%d)", sec), func(c net.Conn) error { return c.(tcpConn).SetLinger(sec) })
	}
	for _, n := range []int{math.MinInt, -1, 0, 1, 8192, 1 << 30, 1 << 32, math.MaxInt} {
		add(fmt.Sprintf("SetReadBuffer(%d)", n), func(c net.Conn) error { return c.(tcpConn).SetReadBuffer(n) })
		add(fmt.Sprintf("SetWriteBuffer(%d)", n), func(c net.Conn) error { return c.(tcpConn).SetWriteBuffer(n) })
	}
	return cases
}

// TestSockoptsAsStd applies every socket-option setter, with every edge
// of its argument, to a std conn and to a backend's conn, dialed and
// accepted, and compares the options the kernel then holds and the errors.
func TestSockoptsAsStd(t *testing.T) {
	cases := sockoptCases()
	forEachBackend(t, func(t *testing.T, b string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				stdC, stdS := pair(t, "std")
				c, s := pair(t, b)
				for _, side := range []struct {
					name      string
					std, conn net.Conn
				}{{"dialed", stdC, c}, {"accepted", stdS, s}} {
					require.Equal(t, readSockopts(t, side.std), readSockopts(t, side.conn), "%s: options before", side.name)
					stdErr := tc.set(side.std)
					err := tc.set(side.conn)
					require.Equal(t, errShapeOf(stdErr, side.std), errShapeOf(err, side.conn), "%s: error", side.name)
					require.Equal(t, readSockopts(t, side.std), readSockopts(t, side.conn), "%s: options after", side.name)
				}
			})
		}
	})
}

// TestListenKeepAliveAsStd: the keep-alive options of accepted conns are
// the ones std's accepted conns get, for every way ListenConfig can say
// it.
func TestListenKeepAliveAsStd(t *testing.T) {
	cases := []struct {
		keepAlive time.Duration
		config    net.KeepAliveConfig
	}{
		{0, net.KeepAliveConfig{}},
		{-1, net.KeepAliveConfig{}},
		{1, net.KeepAliveConfig{}},
		{30 * time.Second, net.KeepAliveConfig{}},
		{math.MaxInt64, net.KeepAliveConfig{}},
		{-1, net.KeepAliveConfig{Enable: false, Idle: 5 * time.Second, Interval: 6 * time.Second, Count: 7}},
		{0, net.KeepAliveConfig{Enable: true, Idle: -1, Interval: 3 * time.Second, Count: -1}},
		{30 * time.Second, net.KeepAliveConfig{Enable: true, Idle: 4 * time.Second, Interval: 5 * time.Second, Count: 6}},
		{0, net.KeepAliveConfig{Enable: true, Count: 1000}},
	}
	accepted := func(t *testing.T, b string, keepAlive time.Duration, config net.KeepAliveConfig) net.Conn {
		ln, err := (&unet.ListenConfig{Backend: b, KeepAlive: keepAlive, KeepAliveConfig: config}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		ch := goAccept(ln)
		dial(t, b, "tcp", ln.Addr().String())
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		t.Cleanup(func() { r.c.Close() })
		return r.c
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%v %+v", tc.keepAlive, tc.config), func(t *testing.T) {
				want := readSockopts(t, accepted(t, "std", tc.keepAlive, tc.config))
				require.Equal(t, want, readSockopts(t, accepted(t, b, tc.keepAlive, tc.config)))
			})
		}
	})
}
