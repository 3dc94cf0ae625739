//go:build linux

package unet_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// exchange writes msg on a and reads it on b, failing after 10s.
func exchange(t testing.TB, a, b net.Conn, msg string) {
	t.Helper()
	require.NoError(t, b.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := a.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// requireBackend checks that v, a listener or conn, is served by backend:
// net's own type for std, and Backend() naming it for the others.
func requireBackend(t testing.TB, backend string, v any) {
	t.Helper()
	b, ok := v.(interface{ Backend() unet.BackendName })
	if backend == unet.BackendStd {
		require.False(t, ok, "std served %T, not the standard library's type", v)
		return
	}
	require.True(t, ok, "%T has no Backend method", v)
	require.Equal(t, backend, b.Backend())
}

// listenerFile is a listening TCP socket as systemd hands it over: a
// file, with the net listener that created it already closed.
func listenerFile(t *testing.T) (*os.File, string) {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f, err := nl.(*net.TCPListener).File()
	require.NoError(t, err)
	require.NoError(t, nl.Close())
	t.Cleanup(func() { f.Close() })
	return f, nl.Addr().String()
}

func TestFileListener(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		for _, how := range []string{"ListenConfig", "package"} {
			t.Run(how, func(t *testing.T) {
				f, addr := listenerFile(t)
				var (
					ln  net.Listener
					err error
				)
				if how == "package" {
					t.Setenv(unet.EnvBackend, b)
					ln, err = unet.FileListener(f)
				} else {
					ln, err = (&unet.ListenConfig{Backend: b}).FileListener(f)
				}
				require.NoError(t, err)
				defer ln.Close()
				checkListenerType(t, b, ln)
				requireBackend(t, b, ln)
				require.Equal(t, addr, ln.Addr().String())

				c := dial(t, b, "tcp", addr)
				s := accept(t, ln)
				checkConnType(t, b, s)
				exchange(t, c, s, "activated")
				exchange(t, s, c, "reply")

				// Closing the listener leaves the caller's file listening.
				require.NoError(t, ln.Close())
				again, err := net.FileListener(f)
				require.NoError(t, err)
				defer again.Close()
				c2 := dial(t, b, "tcp", addr)
				exchange(t, c2, accept(t, again), "still listening")
			})
		}
	})
}

func TestFileListenerCallerClosesFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		f, addr := listenerFile(t)
		ln, err := (&unet.ListenConfig{Backend: b}).FileListener(f)
		require.NoError(t, err)
		defer ln.Close()
		// The listener has its own copy: closing the file leaves it serving.
		require.NoError(t, f.Close())
		c := dial(t, b, "tcp", addr)
		exchange(t, c, accept(t, ln), "own copy")
	})
}

func TestFileListenerErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		// A regular file is no socket: net's error, whatever the backend.
		f, err := os.Open(os.Args[0])
		require.NoError(t, err)
		defer f.Close()
		_, err = (&unet.ListenConfig{Backend: b}).FileListener(f)
		oe := requireOpError(t, err, "file")
		require.Equal(t, "file+net", oe.Net)
	})
	t.Run("unknown backend", func(t *testing.T) {
		f, _ := listenerFile(t)
		_, err := (&unet.ListenConfig{Backend: "bogus"}).FileListener(f)
		oe := requireOpError(t, err, "file")
		require.Equal(t, f.Name(), oe.Addr.String())
		require.Contains(t, err.Error(), "bogus")
	})
}

func TestNewListenerTCP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := nl.Addr().String()
		// A conn waiting in the backlog carries over with the socket.
		waiting := dial(t, b, "tcp", addr)

		ln, err := (&unet.ListenConfig{Backend: b}).NewListener(nl)
		require.NoError(t, err)
		defer ln.Close()
		checkListenerType(t, b, ln)
		requireBackend(t, b, ln)
		require.Equal(t, addr, ln.Addr().String())
		if b == unet.BackendStd {
			require.Same(t, nl, ln, "std keeps the listener as it is")
		} else {
			_, err := nl.Accept()
			requireClosedErr(t, err, "accept")
		}
		exchange(t, waiting, accept(t, ln), "from the backlog")
		exchange(t, dial(t, b, "tcp", addr), accept(t, ln), "new conn")
	})
}

func TestNewListenerUnix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		path := filepath.Join(t.TempDir(), "sock")
		nl, err := net.Listen("unix", path)
		require.NoError(t, err)
		ln, err := (&unet.ListenConfig{Backend: b}).NewListener(nl)
		require.NoError(t, err)
		defer ln.Close()
		requireBackend(t, b, ln)
		require.Equal(t, path, ln.Addr().String())
		c, err := (&unet.Dialer{Backend: b}).Dial("unix", path)
		require.NoError(t, err)
		defer c.Close()
		exchange(t, c, accept(t, ln), "over unix")
		// Moving did not remove the socket file; Close does, as net's.
		_, err = os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, ln.Close())
		_, err = os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

// otherListener is a net.Listener of a type the backends cannot take over.
type otherListener struct{ net.Listener }

func TestNewListenerErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer nl.Close()
		other := otherListener{nl}
		ln, err := (&unet.ListenConfig{Backend: b}).NewListener(other)
		if b == unet.BackendStd {
			require.NoError(t, err)
			require.Equal(t, other, ln, "std keeps any listener as it is")
			return
		}
		require.Nil(t, ln)
		requireOpError(t, err, "listen")
		require.Contains(t, err.Error(), "unet_test.otherListener")
		_, err = nl.Accept()
		requireClosedErr(t, err, "accept") // NewListener took ownership
	})
	t.Run("unknown backend", func(t *testing.T) {
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, err = (&unet.ListenConfig{Backend: "bogus"}).NewListener(nl)
		requireOpError(t, err, "listen")
		_, err = nl.Accept()
		requireClosedErr(t, err, "accept")
	})
	t.Run("package", func(t *testing.T) {
		for _, b := range backends {
			t.Setenv(unet.EnvBackend, b)
			nl, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ln, err := unet.NewListener(nl)
			require.NoError(t, err)
			requireBackend(t, b, ln)
			require.NoError(t, ln.Close())
		}
	})
}

// socketpair returns the two ends of a Unix socket pair of the given type
// as files.
func socketpair(t *testing.T, typ int) (*os.File, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestFileConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		t.Setenv(unet.EnvBackend, b)
		ln := listen(t, "std", "tcp", "127.0.0.1:0")
		nc, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		peer := accept(t, ln)
		f, err := nc.(*net.TCPConn).File()
		require.NoError(t, err)
		defer f.Close()
		laddr, raddr := nc.LocalAddr().String(), nc.RemoteAddr().String()
		require.NoError(t, nc.Close())

		c, err := unet.FileConn(f)
		require.NoError(t, err)
		checkConnType(t, b, c)
		requireBackend(t, b, c)
		require.Equal(t, laddr, c.LocalAddr().String())
		require.Equal(t, raddr, c.RemoteAddr().String())
		exchange(t, c, peer, "handed over")
		exchange(t, peer, c, "reply")

		// Closing the conn leaves the caller's file connected.
		require.NoError(t, c.Close())
		again, err := net.FileConn(f)
		require.NoError(t, err)
		exchange(t, again, peer, "file still open")
		require.NoError(t, again.Close())
		require.NoError(t, f.Close())
		// Every copy is closed now: the peer reads EOF.
		require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = peer.Read(make([]byte, 1))
		require.Equal(t, io.EOF, err)
	})
}

func TestFileConnUnix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		t.Setenv(unet.EnvBackend, b)
		fa, fb := socketpair(t, syscall.SOCK_STREAM)
		c, err := unet.FileConn(fa)
		require.NoError(t, err)
		defer c.Close()
		requireBackend(t, b, c)
		require.Equal(t, "unix", c.LocalAddr().Network())
		peer, err := net.FileConn(fb)
		require.NoError(t, err)
		defer peer.Close()
		exchange(t, c, peer, "unix stream")
		exchange(t, peer, c, "reply")
	})
}

func TestFileConnRejectsDatagrams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		t.Setenv(unet.EnvBackend, b)
		fa, _ := socketpair(t, syscall.SOCK_DGRAM)
		c, err := unet.FileConn(fa)
		if b == unet.BackendStd {
			require.NoError(t, err)
			require.IsType(t, &net.UnixConn{}, c, "std is net.FileConn")
			c.Close()
			return
		}
		require.Nil(t, c)
		oe := requireOpError(t, err, "file")
		require.Equal(t, net.UnknownNetworkError("unixgram"), oe.Err)
	})
}

func TestListenerAndConnBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		requireBackend(t, b, ln)
		c := dial(t, b, "tcp", ln.Addr().String())
		requireBackend(t, b, c)
		requireBackend(t, b, accept(t, ln))
	})
	t.Run("auto", func(t *testing.T) {
		checkFDs(t)
		t.Setenv(unet.EnvBackend, "")
		ln, err := unet.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		requireBackend(t, unet.Backend(), ln)
	})
}

func TestBackendNames(t *testing.T) {
	require.Equal(t, []string{"auto", "uring", "epoll", "std"},
		[]string{unet.BackendAuto, unet.BackendURing, unet.BackendEpoll, unet.BackendStd})
	// The constants fill the Backend fields, which are strings.
	_ = unet.ListenConfig{Backend: unet.BackendEpoll}
	_ = unet.Dialer{Backend: unet.BackendURing}
	for _, b := range backends {
		t.Setenv(unet.EnvBackend, b)
		require.Equal(t, b, unet.Backend())
	}
}
