package unet_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/unetio/unet/unet"
)

// pairOn returns a connected (client, server) pair of the backend over
// the network: "tcp" on 127.0.0.1 or "unix" on a fresh path.
func pairOn(t testing.TB, backend, network string) (client, server net.Conn) {
	t.Helper()
	if network == "tcp" {
		return pair(t, backend)
	}
	dir, err := os.MkdirTemp("", "unet")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln := listen(t, backend, network, filepath.Join(dir, "sock"))
	ch := goAccept(ln)
	client = dial(t, backend, network, ln.Addr().String())
	r := recv(t, ch, 5*time.Second, "Accept")
	require.NoError(t, r.err)
	t.Cleanup(func() { r.c.Close() })
	ln.Close()
	return client, r.c
}

// connSetup brings a fresh pair into the state an error case needs.
type connSetup string

const (
	setupClosed   connSetup = "closed"   // the conn was closed
	setupDeadline connSetup = "deadline" // its deadline has passed
	setupReset    connSetup = "reset"    // the peer reset it (TCP only)
	setupOpen     connSetup = "open"     // nothing: errors of a working conn
)

func (s connSetup) apply(t testing.TB, c, peer net.Conn) {
	t.Helper()
	switch s {
	case setupClosed:
		require.NoError(t, c.Close())
	case setupDeadline:
		require.NoError(t, c.SetDeadline(time.Now().Add(-time.Second)))
	case setupReset:
		require.NoError(t, peer.(tcpConn).SetLinger(0))
		require.NoError(t, peer.Close())
		// Wait for the RST to close the socket, without reading its
		// error, which the kernel reports only once.
		deadline := time.Now().Add(5 * time.Second)
		for {
			var state uint8
			rawControl(t, c, func(fd int) {
				if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
					state = info.State
				}
			})
			if state == tcpClose {
				return
			}
			require.True(t, time.Now().Before(deadline), "no RST within 5s (TCP state %d)", state)
			time.Sleep(time.Millisecond)
		}
	}
}

// tcpClose is the kernel's TCP_CLOSE state, where a reset leaves a socket.
const tcpClose = 7

// rawOp runs an operation of a syscall.RawConn with a function that
// reads or writes once, and reports the error and whether f ran.
func rawOp(rc syscall.RawConn, op string) (string, error) {
	called := false
	var err error
	switch op {
	case "Control":
		err = rc.Control(func(uintptr) { called = true })
	case "Read":
		err = rc.Read(func(fd uintptr) bool {
			called = true
			var buf [1]byte
			_, rerr := unix.Read(int(fd), buf[:])
			return rerr != unix.EAGAIN
		})
	case "Write":
		err = rc.Write(func(fd uintptr) bool {
			called = true
			_, werr := unix.Write(int(fd), []byte("x"))
			return werr != unix.EAGAIN
		})
	}
	return fmt.Sprintf("f called %v", called), err
}

// connErrCase is one method call on a conn in one state; it returns what
// it saw besides the error (a count, a flag) for the comparison, and ok
// false when the conn lacks the method (std's unix conns lack the TCP
// ones).
type connErrCase struct {
	name   string
	setups []connSetup
	call   func(t testing.TB, c net.Conn, rc syscall.RawConn) (what string, err error, ok bool)
}

func connErrCases(t testing.TB) []connErrCase {
	all := []connSetup{setupClosed, setupDeadline, setupReset}
	closed := []connSetup{setupClosed}
	// A file to send, for ReadFrom's sendfile path.
	path := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("f"), 64<<10), 0o600))
	type tcpOnly = tcpConn
	method := func(name string, setups []connSetup, f func(c tcpOnly) error) connErrCase {
		return connErrCase{name, setups, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			tc, ok := c.(tcpOnly)
			if !ok {
				return "", nil, false
			}
			return "", f(tc), true
		}}
	}
	cases := []connErrCase{
		{"Read", all, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			n, err := c.Read(make([]byte, 8))
			return fmt.Sprint("n=", n), err, true
		}},
		{"Write", all, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			n, err := c.Write([]byte("payload"))
			return fmt.Sprint("n=", n), err, true
		}},
		{"Close", all, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) { return "", c.Close(), true }},
		{"CloseRead", all, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.(interface{ CloseRead() error }).CloseRead(), true
		}},
		{"CloseWrite", all, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.(interface{ CloseWrite() error }).CloseWrite(), true
		}},
		{"SetDeadline", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.SetDeadline(time.Now()), true
		}},
		{"SetReadDeadline", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.SetReadDeadline(time.Now()), true
		}},
		{"SetWriteDeadline", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.SetWriteDeadline(time.Now()), true
		}},
		method("SetNoDelay", closed, func(c tcpOnly) error { return c.SetNoDelay(true) }),
		method("SetKeepAlive", closed, func(c tcpOnly) error { return c.SetKeepAlive(true) }),
		method("SetKeepAlivePeriod", closed, func(c tcpOnly) error { return c.SetKeepAlivePeriod(time.Minute) }),
		method("SetKeepAlivePeriod(huge)", []connSetup{setupOpen}, func(c tcpOnly) error { return c.SetKeepAlivePeriod(1 << 62) }),
		method("SetKeepAliveConfig", closed, func(c tcpOnly) error {
			return c.(keepAliveConfigConn).SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})
		}),
		method("SetKeepAliveConfig(count 1000)", []connSetup{setupOpen}, func(c tcpOnly) error {
			return c.(keepAliveConfigConn).SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Count: 1000})
		}),
		method("SetLinger", closed, func(c tcpOnly) error { return c.SetLinger(1) }),
		{"SetReadBuffer", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096), true
		}},
		{"SetWriteBuffer", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			return "", c.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(4096), true
		}},
		{"SyscallConn", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			rc, err := c.(syscall.Conn).SyscallConn()
			return fmt.Sprint("rc nil ", rc == nil), err, true
		}},
		{"File", closed, func(_ testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
			f, err := c.(interface{ File() (*os.File, error) }).File()
			if f != nil {
				f.Close()
			}
			return fmt.Sprint("file nil ", f == nil), err, true
		}},
		method("MultipathTCP", []connSetup{setupClosed, setupOpen}, func(c tcpOnly) error {
			// The result is part of the comparison through the error
			// text: MultipathTCP reports no error in net.
			use, err := c.(interface{ MultipathTCP() (bool, error) }).MultipathTCP()
			if err == nil {
				return fmt.Errorf("no error, use=%v", use)
			}
			return err
		}),
		method("ReadFrom(reader)", all, func(c tcpOnly) error {
			_, err := c.ReadFrom(strings.NewReader("from a reader"))
			return err
		}),
		method("ReadFrom(file)", all, func(c tcpOnly) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = c.ReadFrom(f)
			return err
		}),
		method("WriteTo", all, func(c tcpOnly) error {
			_, err := c.(io.WriterTo).WriteTo(io.Discard)
			return err
		}),
	}
	for _, op := range []string{"Control", "Read", "Write"} {
		setups := []connSetup{setupClosed, setupDeadline}
		if op == "Control" {
			setups = closed
		}
		// The RawConn taken before the setup, and one taken after.
		cases = append(cases,
			connErrCase{"raw " + op, setups, func(_ testing.TB, _ net.Conn, rc syscall.RawConn) (string, error, bool) {
				what, err := rawOp(rc, op)
				return what, err, true
			}},
			connErrCase{"SyscallConn then raw " + op, setups, func(t testing.TB, c net.Conn, _ syscall.RawConn) (string, error, bool) {
				rc, err := c.(syscall.Conn).SyscallConn()
				require.NoError(t, err)
				what, err := rawOp(rc, op)
				return what, err, true
			}},
		)
	}
	return cases
}

// TestConnErrorsAsStd calls every method of a conn in every state that
// makes it fail (closed, past its deadline, reset by the peer) on a std
// conn and on a backend's, over TCP and unix sockets, and compares what
// they return: the error's type chain, its *net.OpError's Op, Net,
// Source and Addr (the conn's own addresses named LOCAL and REMOTE), and
// its message.
func TestConnErrorsAsStd(t *testing.T) {
	cases := connErrCases(t)
	forEachBackend(t, func(t *testing.T, b string) {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(network, func(t *testing.T) {
				for _, tc := range cases {
					for _, setup := range tc.setups {
						if setup == setupReset && network != "tcp" {
							continue
						}
						t.Run(tc.name+" "+string(setup), func(t *testing.T) {
							run := func(backend string) (string, bool) {
								c, s := pairOn(t, backend, network)
								rc, err := c.(syscall.Conn).SyscallConn()
								require.NoError(t, err)
								setup.apply(t, c, s)
								what, err, ok := tc.call(t, c, rc)
								return what + " | " + errShapeOf(err, c), ok
							}
							want, ok := run("std")
							if !ok {
								t.Skipf("std's %s conn has no %s", network, tc.name)
							}
							got, _ := run(b)
							require.Equal(t, want, got)
						})
					}
				}
			})
		}
	})
}

// TestListenerErrorsAsStd does for listeners what TestConnErrorsAsStd
// does for conns.
func TestListenerErrorsAsStd(t *testing.T) {
	type listener interface {
		net.Listener
		SetDeadline(time.Time) error
		File() (*os.File, error)
		syscall.Conn
	}
	cases := []struct {
		name  string
		setup connSetup
		call  func(t testing.TB, ln listener, rc syscall.RawConn) (string, error)
	}{
		{"Accept", setupClosed, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) {
			c, err := ln.Accept()
			return fmt.Sprint("conn nil ", c == nil), err
		}},
		{"Accept", setupDeadline, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) {
			c, err := ln.Accept()
			return fmt.Sprint("conn nil ", c == nil), err
		}},
		{"Close", setupClosed, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) { return "", ln.Close() }},
		{"SetDeadline", setupClosed, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) {
			return "", ln.SetDeadline(time.Now())
		}},
		{"File", setupClosed, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) {
			f, err := ln.File()
			if f != nil {
				f.Close()
			}
			return fmt.Sprint("file nil ", f == nil), err
		}},
		{"SyscallConn", setupClosed, func(_ testing.TB, ln listener, _ syscall.RawConn) (string, error) {
			rc, err := ln.SyscallConn()
			return fmt.Sprint("rc nil ", rc == nil), err
		}},
	}
	for _, op := range []string{"Control", "Read", "Write"} {
		for _, setup := range []connSetup{setupClosed, setupOpen} {
			cases = append(cases, struct {
				name  string
				setup connSetup
				call  func(t testing.TB, ln listener, rc syscall.RawConn) (string, error)
			}{"raw " + op, setup, func(_ testing.TB, _ listener, rc syscall.RawConn) (string, error) { return rawOp(rc, op) }})
		}
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(network, func(t *testing.T) {
				for _, tc := range cases {
					t.Run(tc.name+" "+string(tc.setup), func(t *testing.T) {
						run := func(backend string) string {
							addr := "127.0.0.1:0"
							if network == "unix" {
								addr = filepath.Join(t.TempDir(), "sock")
							}
							ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), network, addr)
							require.NoError(t, err)
							t.Cleanup(func() { ln.Close() })
							l := ln.(listener)
							rc, err := l.SyscallConn()
							require.NoError(t, err)
							switch tc.setup {
							case setupClosed:
								require.NoError(t, ln.Close())
							case setupDeadline:
								require.NoError(t, l.SetDeadline(time.Now().Add(-time.Second)))
							}
							what, err := tc.call(t, l, rc)
							return what + " | " + strings.ReplaceAll(errShape(err), ln.Addr().String(), "LISTENER")
						}
						require.Equal(t, run("std"), run(b))
					})
				}
			})
		}
	})
}
