//go:build linux

package unet

import (
	"net"
	"os"
	"syscall"
	"time"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// Listener is a stream listener served by the uring or epoll backend. It
// behaves like *net.TCPListener (or *net.UnixListener).
type Listener struct {
	sched     unetrt.Scheduler
	fd        unetrt.FD
	network   string
	addr      net.Addr
	keepAlive net.KeepAliveConfig
	unlink    string // the Unix socket path that Close removes
}

// Accept waits for and returns the next connection. EMFILE and ENFILE come
// back as temporary errors, so that http.Server backs off and serves again
// once descriptors free up.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptUnet()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptUnet is Accept returning the concrete *Conn, like
// (*net.TCPListener).AcceptTCP.
func (l *Listener) AcceptUnet() (*Conn, error) {
	sysfd, peer, err := l.fd.Accept()
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: l.network, Addr: l.addr, Err: wrapSyscallError("accept", err)}
	}
	if _, ok := l.addr.(*net.TCPAddr); ok {
		// Errors are ignored as net ignores them: the conn may already be
		// reset, which its first Read reports.
		_ = unix.SetsockoptInt(sysfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if l.keepAlive.Enable {
			_ = setKeepAliveConfig(sysfd, l.keepAlive)
		}
	}
	fd, err := l.sched.NewFD(sysfd)
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: l.network, Addr: l.addr, Err: err}
	}
	return newConn(l.sched, fd, l.network, l.connLocalAddr(sysfd), sockaddrToAddr(l.network, peer)), nil
}

// connLocalAddr is the local address of a conn accepted on l: the
// listener's own unless it listens on a wildcard address, which only
// getsockname can resolve, as package net does for every conn.
func (l *Listener) connLocalAddr(sysfd int) net.Addr {
	if a, ok := l.addr.(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		return localAddr(l.network, sysfd)
	}
	return l.addr
}

// Close stops listening. Accept calls parked on l return an error wrapping
// net.ErrClosed; closing twice returns that error too, as net does.
func (l *Listener) Close() error {
	err := l.fd.Close()
	if err != nil {
		return &net.OpError{Op: "close", Net: l.network, Addr: l.addr, Err: err}
	}
	if l.unlink != "" {
		_ = os.Remove(l.unlink)
	}
	return nil
}

// Addr returns the listener's network address.
func (l *Listener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline for Accept; the zero time clears it. Its
// error is bare, as (*net.TCPListener).SetDeadline's is.
func (l *Listener) SetDeadline(t time.Time) error {
	return l.fd.SetDeadline(t, unetrt.ModeRead)
}

// SyscallConn returns a raw network connection. Only its Control works,
// as with net's listeners.
func (l *Listener) SyscallConn() (syscall.RawConn, error) {
	return &rawListener{l: l}, nil
}

// File returns a duplicate of the listening socket.
func (l *Listener) File() (*os.File, error) {
	f, err := dupFile(l.fd, fileName(l.network, l.addr, nil))
	if err != nil {
		return nil, &net.OpError{Op: "file", Net: l.network, Addr: l.addr, Err: wrapSyscallError("fcntl", err)}
	}
	return f, nil
}
