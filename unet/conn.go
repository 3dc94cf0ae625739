//go:build linux

package unet

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// Conn is a stream connection served by the uring or epoll backend. It has
// the method set of *net.TCPConn (and of *net.UnixConn's stream methods)
// and is safe for concurrent use.
type Conn struct {
	sched   unetrt.Scheduler // the backend, for Backend
	fd      unetrt.FD
	network string
	laddr   atomic.Pointer[net.Addr] // filled on first use: getsockname is rarely needed
	raddr   net.Addr
}

// newConn wraps fd, served by sched. A Conn that becomes unreachable
// without Close is closed by the garbage collector, as package net does
// for its conns.
func newConn(sched unetrt.Scheduler, fd unetrt.FD, network string, laddr, raddr net.Addr) *Conn {
	c := &Conn{sched: sched, fd: fd, network: network, raddr: raddr}
	if laddr != nil {
		c.laddr.Store(&laddr)
	}
	runtime.AddCleanup(c, func(fd unetrt.FD) { fd.Close() }, fd)
	return c
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.fd.Read(b)
	if err != nil && err != io.EOF {
		err = c.opError("read", "read", err)
	}
	return n, err
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.fd.Write(b)
	if err != nil {
		err = c.opError("write", "write", err)
	}
	return n, err
}

// Close closes the connection, waking every parked Read and Write.
func (c *Conn) Close() error {
	return c.opError("close", "", c.fd.Close())
}

// CloseRead shuts down the reading side of the connection.
func (c *Conn) CloseRead() error {
	return c.opError("close", "shutdown", c.fd.Shutdown(unix.SHUT_RD))
}

// CloseWrite shuts down the writing side: the peer reads io.EOF.
func (c *Conn) CloseWrite() error {
	return c.opError("close", "shutdown", c.fd.Shutdown(unix.SHUT_WR))
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr {
	if p := c.laddr.Load(); p != nil {
		return *p
	}
	var a net.Addr
	if err := c.fd.RawControl(func(s int) { a = localAddr(c.network, s) }); err != nil || a == nil {
		return nil
	}
	c.laddr.Store(&a)
	return a
}

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, unetrt.ModeRead|unetrt.ModeWrite)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, unetrt.ModeRead) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, unetrt.ModeWrite) }

// setDeadline sets the deadline of mode; its error names only the local
// address, as net.conn's SetDeadline does.
func (c *Conn) setDeadline(t time.Time, mode unetrt.Mode) error {
	return c.localOpError("set", c.fd.SetDeadline(t, mode))
}

// SyscallConn returns a raw network connection. It keeps c alive while
// it is in use, as net's does.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	return &rawConn{c: c}, nil
}

// File returns a duplicate of the socket as an *os.File, as
// (*net.TCPConn).File does; closing either leaves the other open.
func (c *Conn) File() (*os.File, error) {
	f, err := dupFile(c.fd, fileName(c.network, c.LocalAddr(), c.raddr))
	if err != nil {
		return nil, c.opError("file", "fcntl", err)
	}
	return f, nil
}

// ReadFrom implements io.ReaderFrom. From an *os.File it sends with
// sendfile(2), so net/http keeps its zero-copy path for static files.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.readFrom(r)
	if err != nil && err != io.EOF {
		err = c.opError("readfrom", "sendfile", err)
	}
	return n, err
}

func (c *Conn) readFrom(r io.Reader) (int64, error) {
	if n, handled, err := sendFile(c.fd, r); handled {
		return n, err
	}
	return io.Copy(writerOnly{c}, r)
}

// WriteTo implements io.WriterTo, as (*net.TCPConn).WriteTo does.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, readerOnly{c})
	if err != nil && err != io.EOF {
		err = c.opError("writeto", "", err)
	}
	return n, err
}

// MultipathTCP reports whether the connection uses MPTCP, as
// (*net.TCPConn).MultipathTCP: by net's own checks, and never with an
// error.
func (c *Conn) MultipathTCP() (bool, error) {
	return usingMultipathTCP(c.fd), nil
}

// readerOnly hides Conn.WriteTo from io.Copy, which would recurse.
type readerOnly struct{ io.Reader }

// writerOnly hides Conn.ReadFrom from io.Copy, which would recurse.
type writerOnly struct{ io.Writer }

// opError wraps a non-nil err of an operation on c as package net does
// for I/O and TCP methods: Source the local address, Addr the remote.
func (c *Conn) opError(op, syscallName string, err error) error {
	if err == nil {
		return nil
	}
	return opError(op, c.network, c.LocalAddr(), c.raddr, syscallName, err)
}

// localOpError wraps a non-nil err as net.conn's deadline and buffer
// setters and its RawConn's Control do: no Source, Addr the local
// address. err is already wrapped.
func (c *Conn) localOpError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: c.network, Addr: c.LocalAddr(), Err: err}
}

// fileName is the name net gives the *os.File of a socket:
// "network:local->remote", an address left out when there is none.
func fileName(network string, laddr, raddr net.Addr) string {
	var ls, rs string
	if laddr != nil {
		ls = laddr.String()
	}
	if raddr != nil {
		rs = raddr.String()
	}
	return network + ":" + ls + "->" + rs
}

// dupFile duplicates the socket as net's dup does, after the backend
// stopped anything it does with the socket on its own, so that the
// duplicate sees the stream as it would on a net conn; an errno is named
// "fcntl" by the caller, as internal/poll's DupCloseOnExec names it.
func dupFile(fd unetrt.FD, name string) (*os.File, error) {
	ns, err := fd.Dup()
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(ns), name), nil
}
