//go:build linux

package unet

import (
	"net"
	"runtime"
	"syscall"
)

// rawConn implements syscall.RawConn for a Conn, as net's rawConn does.
// It holds the Conn, so that a RawConn in use keeps the conn, and with it
// the descriptor, from being closed by the conn's cleanup.
type rawConn struct {
	c *Conn
}

func (rc *rawConn) Control(f func(fd uintptr)) error {
	err := rc.c.fd.RawControl(func(s int) { f(uintptr(s)) })
	runtime.KeepAlive(rc.c)
	return rc.c.localOpError("raw-control", err)
}

func (rc *rawConn) Read(f func(fd uintptr) bool) error {
	err := rc.c.fd.RawRead(func(s int) bool { return f(uintptr(s)) })
	runtime.KeepAlive(rc.c)
	return rc.c.opError("raw-read", "", err)
}

func (rc *rawConn) Write(f func(fd uintptr) bool) error {
	err := rc.c.fd.RawWrite(func(s int) bool { return f(uintptr(s)) })
	runtime.KeepAlive(rc.c)
	return rc.c.opError("raw-write", "", err)
}

// rawListener implements syscall.RawConn for a Listener, as net's
// rawListener does: Control only, Read and Write fail with EINVAL. It
// holds the Listener, for the same reason rawConn holds its Conn.
type rawListener struct {
	l *Listener
}

func (rl *rawListener) Control(f func(fd uintptr)) error {
	err := rl.l.fd.RawControl(func(s int) { f(uintptr(s)) })
	runtime.KeepAlive(rl.l)
	if err != nil {
		return &net.OpError{Op: "raw-control", Net: rl.l.network, Addr: rl.l.addr, Err: err}
	}
	return nil
}

func (rl *rawListener) Read(func(uintptr) bool) error { return syscall.EINVAL }

func (rl *rawListener) Write(func(uintptr) bool) error { return syscall.EINVAL }
