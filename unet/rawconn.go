//go:build linux

package unet

import (
	"net"

	unetrt "github.com/unetio/unet/runtime"
)

// rawConn implements syscall.RawConn over a scheduler's FD.
type rawConn struct {
	fd      unetrt.FD
	network string
	addr    net.Addr
}

func (c *rawConn) Control(f func(fd uintptr)) error {
	err := c.fd.RawControl(func(s int) { f(uintptr(s)) })
	return c.opError("raw-control", err)
}

func (c *rawConn) Read(f func(fd uintptr) bool) error {
	err := c.fd.RawRead(func(s int) bool { return f(uintptr(s)) })
	return c.opError("raw-read", err)
}

func (c *rawConn) Write(f func(fd uintptr) bool) error {
	err := c.fd.RawWrite(func(s int) bool { return f(uintptr(s)) })
	return c.opError("raw-write", err)
}

func (c *rawConn) opError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: c.network, Addr: c.addr, Err: err}
}
