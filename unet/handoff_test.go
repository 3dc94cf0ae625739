package unet_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	unetrt "github.com/unetio/unet/runtime"
	"github.com/unetio/unet/unet"
)

// The hand-off tests hold raw access to a conn's socket (SyscallConn,
// File, sendfile) against std's: raw code must see the stream as it would
// on a net conn, wait on the right direction, and honour deadlines.

// rawReadAll reads c's socket through SyscallConn until want bytes came
// or EOF, as database drivers and splicing proxies read a socket.
func rawReadAll(t testing.TB, c net.Conn, want int, d time.Duration) []byte {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	defer c.SetReadDeadline(time.Time{})
	var got []byte
	buf := make([]byte, 64<<10)
	for len(got) < want {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			return rerr != unix.EAGAIN
		})
		require.NoError(t, err, "raw read after %d of %d bytes", len(got), want)
		require.NoError(t, rerr)
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	return got
}

// TestRawReadAfterRead: the peer sends "AB", the conn Reads one byte, the
// peer sends "C": a raw read must return "BC", as the bytes are still in
// the socket on std. A backend that reads ahead holds "B" instead.
func TestRawReadAfterRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		client, server := pair(t, b)
		_, err := client.Write([]byte("AB"))
		require.NoError(t, err)
		buf := make([]byte, 1)
		require.NoError(t, server.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := server.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "A", string(buf[:n]))
		_, err = client.Write([]byte("C"))
		require.NoError(t, err)
		waitQueued(t, server, 2)
		require.Equal(t, "BC", string(rawReadAll(t, server, 2, 5*time.Second)))
		// And the conn reads on after the raw read.
		_, err = client.Write([]byte("D"))
		require.NoError(t, err)
		n, err = server.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "D", string(buf[:n]))
	})
}

// TestRawReadAfterRawWriteWaited: once a raw write waited for room, a raw
// read must still be woken by readability, also while another goroutine's
// raw write is blocked.
func TestRawReadAfterRawWriteWaited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		client, server := pair(t, b)
		smallBuffers(t, server, client)
		rc, err := server.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		rawWrite := func(total int) <-chan error {
			done := make(chan error, 1)
			go func() {
				chunk := make([]byte, 32<<10)
				sent := 0
				done <- rc.Write(func(fd uintptr) bool {
					for sent < total {
						n, err := unix.Write(int(fd), chunk[:min(len(chunk), total-sent)])
						if err == unix.EAGAIN {
							return false
						}
						if err != nil {
							return true
						}
						sent += n
					}
					return true
				})
			}()
			return done
		}
		rawRead := func() <-chan string {
			got := make(chan string, 1)
			go func() {
				buf := make([]byte, 16)
				var n int
				err := rc.Read(func(fd uintptr) bool {
					var rerr error
					n, rerr = unix.Read(int(fd), buf)
					return rerr != unix.EAGAIN
				})
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(buf[:max(n, 0)])
			}()
			return got
		}
		require.NoError(t, server.SetDeadline(time.Now().Add(10*time.Second)))
		drained := make(chan []byte, 1)
		const total = 4 << 20
		// A raw write that has to wait for room, until the client drains.
		w := rawWrite(total)
		notYet(t, w, 100*time.Millisecond, "raw write into a full socket")
		go func() {
			got, _ := io.ReadAll(io.LimitReader(client, total))
			drained <- got
		}()
		require.NoError(t, recv(t, w, 10*time.Second, "raw write"))
		require.Len(t, recv(t, drained, 10*time.Second, "drain"), total)

		// A raw read woken by a byte that comes after it started waiting.
		r := rawRead()
		notYet(t, r, 50*time.Millisecond, "raw read with nothing to read")
		start := time.Now()
		_, err = client.Write([]byte("x"))
		require.NoError(t, err)
		require.Equal(t, "x", recv(t, r, 5*time.Second, "raw read"))
		require.Less(t, time.Since(start), time.Second, "the raw read waited for its deadline")

		// The same while another raw write is blocked.
		w = rawWrite(total)
		notYet(t, w, 100*time.Millisecond, "raw write into a full socket")
		r = rawRead()
		notYet(t, r, 50*time.Millisecond, "raw read with nothing to read")
		start = time.Now()
		_, err = client.Write([]byte("y"))
		require.NoError(t, err)
		require.Equal(t, "y", recv(t, r, 5*time.Second, "raw read"))
		require.Less(t, time.Since(start), time.Second, "the raw read waited for its deadline")
		go func() {
			got, _ := io.ReadAll(io.LimitReader(client, total))
			drained <- got
		}()
		require.NoError(t, recv(t, w, 10*time.Second, "raw write"))
		require.Len(t, recv(t, drained, 10*time.Second, "drain"), total)
	})
}

// TestRawDeadlinePassed: raw I/O and sendfile after the deadline passed
// fail with a timeout before touching the socket, as internal/poll's do.
func TestRawDeadlinePassed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		client, server := pair(t, b)
		f, _ := makeFile(t, 64<<10)
		require.NoError(t, server.SetWriteDeadline(time.Now().Add(-time.Second)))
		n, err := asTCP(t, server).ReadFrom(f)
		require.Zero(t, n)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr)
		require.Equal(t, "readfrom", opErr.Op)

		rc, err := server.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		called := false
		err = rc.Write(func(uintptr) bool { called = true; return true })
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.False(t, called, "raw write ran after its deadline")
		require.NoError(t, server.SetReadDeadline(time.Now().Add(-time.Second)))
		err = rc.Read(func(uintptr) bool { called = true; return true })
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.False(t, called, "raw read ran after its deadline")

		// Nothing was sent.
		require.NoError(t, client.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		_, err = client.Read(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})
}

// TestHandOffAfterRead: a header is Read, then the rest of the stream is
// read by raw code (a splicing io.Copy) or through File after Close: both
// must get every byte, and the peer must see no reset.
func TestHandOffAfterRead(t *testing.T) {
	const header, total = 100, 256 << 10
	msg := randomish(total)
	for _, how := range []string{"raw", "file"} {
		t.Run(how, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b string) {
				client, server := pair(t, b)
				go func() {
					client.Write(msg)
					asTCP(t, client).CloseWrite()
				}()
				buf := make([]byte, header)
				_, err := io.ReadFull(server, buf)
				require.NoError(t, err)
				require.Equal(t, msg[:header], buf)
				var rest []byte
				switch how {
				case "raw":
					rest = rawReadAll(t, server, total-header, 10*time.Second)
				case "file":
					f, err := server.(interface{ File() (*os.File, error) }).File()
					require.NoError(t, err)
					require.NoError(t, server.Close())
					dup, err := net.FileConn(f)
					require.NoError(t, err)
					require.NoError(t, f.Close())
					rest = readAll(t, dup, 10*time.Second)
					_, err = dup.Write([]byte("bye"))
					require.NoError(t, err)
					require.NoError(t, dup.Close())
					require.Equal(t, "bye", string(readAll(t, client, 5*time.Second)), "the peer must see the duplicate's bytes and a clean close")
				}
				require.Equal(t, len(msg)-header, len(rest))
				require.True(t, bytes.Equal(msg[header:], rest), "the bytes after the header differ")
			})
		})
	}
}

// TestUnixReadAfterRights: the kernel ends a read of a Unix stream at a
// message that carried SCM_RIGHTS even with more data queued; the next
// Read must return that data at once.
func TestUnixReadAfterRights(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		path := filepath.Join(t.TempDir(), "sock")
		ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "unix", path)
		require.NoError(t, err)
		defer ln.Close()
		ch := goAccept(ln)
		client, err := net.Dial("unix", path)
		require.NoError(t, err)
		defer client.Close()
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		server := r.c
		defer server.Close()

		rc, err := client.(*net.UnixConn).SyscallConn()
		require.NoError(t, err)
		var serr error
		require.NoError(t, rc.Write(func(fd uintptr) bool {
			serr = unix.Sendmsg(int(fd), []byte("hello"), unix.UnixRights(int(os.Stdin.Fd())), nil, 0)
			return serr != unix.EAGAIN
		}))
		require.NoError(t, serr)
		_, err = client.Write([]byte("world"))
		require.NoError(t, err)
		waitQueued(t, server, 10)
		// Let the scheduler see every readiness edge before the reads.
		time.Sleep(20 * time.Millisecond)

		require.NoError(t, server.SetReadDeadline(time.Now().Add(5*time.Second)))
		var got []byte
		buf := make([]byte, 64)
		start := time.Now()
		for len(got) < 10 {
			n, err := server.Read(buf)
			require.NoError(t, err, "after %q", got)
			got = append(got, buf[:n]...)
		}
		require.Equal(t, "helloworld", string(got))
		require.Less(t, time.Since(start), time.Second, "a Read waited for data already queued")
	})
}

// TestUnixAcceptedPeerAddr holds the address of accepted Unix peers
// against std's: unnamed ("@"), abstract ("@name") and a path, one after
// the other on one listener, so that no peer reports an earlier one's.
func TestUnixAcceptedPeerAddr(t *testing.T) {
	dir := t.TempDir()
	peers := []struct {
		name  string
		local *net.UnixAddr
	}{
		{"path", &net.UnixAddr{Name: filepath.Join(dir, "client"), Net: "unix"}},
		{"unnamed", nil},
		{"abstract", &net.UnixAddr{Name: "@unet-test-peer-" + filepath.Base(dir), Net: "unix"}},
		{"unnamed again", nil},
	}
	want := map[string]string{}
	forEachBackend(t, func(t *testing.T, b string) {
		path := filepath.Join(dir, "sock-"+b)
		ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), "unix", path)
		require.NoError(t, err)
		defer ln.Close()
		for _, p := range peers {
			ch := goAccept(ln)
			d := net.Dialer{}
			if p.local != nil {
				d.LocalAddr = p.local
			}
			c, err := d.Dial("unix", path)
			require.NoError(t, err)
			r := recv(t, ch, 5*time.Second, "Accept")
			require.NoError(t, r.err)
			got := r.c.RemoteAddr()
			require.IsType(t, &net.UnixAddr{}, got)
			key := p.name
			if b == "std" {
				want[key] = got.String()
			} else {
				require.Equal(t, want[key], got.String(), "peer %s", p.name)
			}
			r.c.Close()
			c.Close()
			if p.local != nil && p.local.Name[0] != '@' {
				os.Remove(p.local.Name)
			}
		}
	})
	require.Equal(t, "@", want["unnamed"], "std's own report of an unnamed peer")
}

// TestFileWithUnreadReadAhead: if a backend has already taken bytes from
// the socket that no Read returned, File must fail clearly rather than
// hand out a socket with a hole in its stream; on std, and on backends
// that did not read ahead, it succeeds.
func TestFileWithUnreadReadAhead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		client, server := pair(t, b)
		// A large Read that gets a few bytes leaves room to read ahead.
		_, err := client.Write([]byte("first"))
		require.NoError(t, err)
		buf := make([]byte, 32<<10)
		require.NoError(t, server.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := server.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "first", string(buf[:n]))
		_, err = client.Write([]byte("second"))
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		f, err := server.(interface{ File() (*os.File, error) }).File()
		if err != nil {
			require.NotEqual(t, "std", b)
			require.ErrorIs(t, err, unetrt.ErrUnreadData)
			n, err = server.Read(buf)
			require.NoError(t, err)
			require.Equal(t, "second", string(buf[:n]), "the bytes read ahead are still the conn's")
			return
		}
		defer f.Close()
		dup, err := net.FileConn(f)
		require.NoError(t, err)
		defer dup.Close()
		require.Equal(t, "second", string(rawReadAll(t, dup, 6, 5*time.Second)))
	})
}
