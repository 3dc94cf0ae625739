//go:build linux

package unet

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// The keep-alive defaults of package net.
const (
	defaultKeepAliveIdle     = 15 * time.Second
	defaultKeepAliveInterval = 15 * time.Second
	defaultKeepAliveCount    = 9
)

// SetNoDelay controls Nagle's algorithm; it is on (no delay) by default.
func (c *Conn) SetNoDelay(noDelay bool) error {
	return c.setsockopt(unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(noDelay))
}

// SetKeepAlive sets whether the kernel sends keep-alive probes.
func (c *Conn) SetKeepAlive(keepalive bool) error {
	return c.setsockopt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(keepalive))
}

// SetKeepAlivePeriod sets the idle time before keep-alive probes start,
// as (*net.TCPConn).SetKeepAlivePeriod: zero sets net's default of 15 s, a
// negative period leaves the socket as it is.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d < 0 {
		return nil // net leaves the socket alone, closed or not
	}
	return c.control(func(s int) error { return setKeepAliveIdle(s, d) })
}

// SetKeepAliveConfig configures keep-alive as (*net.TCPConn).SetKeepAliveConfig.
func (c *Conn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	return c.control(func(s int) error { return setKeepAliveConfig(s, config) })
}

// SetLinger sets the behaviour of Close on a connection with unsent data,
// as (*net.TCPConn).SetLinger: sec < 0 the default, 0 discard (reset),
// sec > 0 linger up to sec seconds.
func (c *Conn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	return c.control(func(s int) error { return unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &l) })
}

// SetReadBuffer sets the size of the kernel's receive buffer.
func (c *Conn) SetReadBuffer(bytes int) error {
	return c.localOpError("set", c.setsockoptErr(func(s int) error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes) }))
}

// SetWriteBuffer sets the size of the kernel's send buffer.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return c.localOpError("set", c.setsockoptErr(func(s int) error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes) }))
}

func (c *Conn) setsockopt(level, opt, value int) error {
	return c.control(func(s int) error { return unix.SetsockoptInt(s, level, opt, value) })
}

// control runs set, a setsockopt, on the socket and wraps its error as
// net wraps a TCP setter's.
func (c *Conn) control(set func(s int) error) error {
	return c.opError("set", "", c.setsockoptErr(set))
}

// setsockoptErr runs set on the socket and returns its error named as
// net names it: "setsockopt" for an errno, net.ErrClosed as it is.
func (c *Conn) setsockoptErr(set func(s int) error) error {
	var serr error
	if err := c.fd.RawControl(func(s int) { serr = set(s) }); err != nil {
		return err
	}
	return wrapSyscallError("setsockopt", serr)
}

// setKeepAliveConfig applies config as net's SetKeepAliveConfig does:
// SO_KEEPALIVE as Enable says, then idle, interval and count whether or
// not keep-alive is on, a zero field as net's default, a negative one not
// at all.
func setKeepAliveConfig(s int, config net.KeepAliveConfig) error {
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(config.Enable)); err != nil {
		return err
	}
	if err := setKeepAliveIdle(s, config.Idle); err != nil {
		return err
	}
	if err := setKeepAliveInterval(s, config.Interval); err != nil {
		return err
	}
	return setKeepAliveCount(s, config.Count)
}

// setKeepAliveIdle, setKeepAliveInterval and setKeepAliveCount are net's
// (tcpsockopt_unix.go): zero means net's default, negative leave alone.
func setKeepAliveIdle(s int, d time.Duration) error {
	if d == 0 {
		d = defaultKeepAliveIdle
	} else if d < 0 {
		return nil
	}
	return unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, roundSeconds(d))
}

func setKeepAliveInterval(s int, d time.Duration) error {
	if d == 0 {
		d = defaultKeepAliveInterval
	} else if d < 0 {
		return nil
	}
	return unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, roundSeconds(d))
}

func setKeepAliveCount(s, n int) error {
	if n == 0 {
		n = defaultKeepAliveCount
	} else if n < 0 {
		return nil
	}
	return unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, n)
}

// keepAliveFor turns net's two ways of saying keep-alive into one config,
// as net.newTCPConn does.
func keepAliveFor(idle time.Duration, config net.KeepAliveConfig) net.KeepAliveConfig {
	if !config.Enable && idle >= 0 {
		return net.KeepAliveConfig{Enable: true, Idle: idle}
	}
	return config
}

// roundSeconds rounds d up to whole seconds as net's roundDurationUp
// does, overflow included, so that a huge duration fails as it fails in
// net.
func roundSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}
