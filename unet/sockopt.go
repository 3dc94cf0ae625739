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

// SetKeepAlivePeriod sets the idle time before keep-alive probes start.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	return c.setsockopt(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, seconds(d))
}

// SetKeepAliveConfig configures keep-alive as (*net.TCPConn).SetKeepAliveConfig.
func (c *Conn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	var serr error
	if err := c.fd.RawControl(func(s int) { serr = setKeepAliveConfig(s, config) }); err != nil {
		return c.opError("set", "setsockopt", err)
	}
	return c.opError("set", "setsockopt", serr)
}

// SetLinger sets the behaviour of Close on a connection with unsent data,
// as (*net.TCPConn).SetLinger: sec < 0 the default, 0 discard (reset),
// sec > 0 linger up to sec seconds.
func (c *Conn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	var serr error
	if err := c.fd.RawControl(func(s int) { serr = unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &l) }); err != nil {
		return c.opError("set", "setsockopt", err)
	}
	return c.opError("set", "setsockopt", serr)
}

// SetReadBuffer sets the size of the kernel's receive buffer.
func (c *Conn) SetReadBuffer(bytes int) error {
	return c.setsockopt(unix.SOL_SOCKET, unix.SO_RCVBUF, bytes)
}

// SetWriteBuffer sets the size of the kernel's send buffer.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return c.setsockopt(unix.SOL_SOCKET, unix.SO_SNDBUF, bytes)
}

func (c *Conn) setsockopt(level, opt, value int) error {
	var serr error
	if err := c.fd.RawControl(func(s int) { serr = unix.SetsockoptInt(s, level, opt, value) }); err != nil {
		return c.opError("set", "setsockopt", err)
	}
	return c.opError("set", "setsockopt", serr)
}

// setKeepAliveConfig applies config as package net does: a zero field
// takes net's default, a negative one is left as it is.
func setKeepAliveConfig(s int, config net.KeepAliveConfig) error {
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(config.Enable)); err != nil {
		return err
	}
	if !config.Enable {
		return nil
	}
	opts := []struct {
		opt, value int
	}{
		{unix.TCP_KEEPIDLE, keepAliveValue(config.Idle, seconds(defaultKeepAliveIdle), seconds)},
		{unix.TCP_KEEPINTVL, keepAliveValue(config.Interval, seconds(defaultKeepAliveInterval), seconds)},
		{unix.TCP_KEEPCNT, keepAliveValue(time.Duration(config.Count), defaultKeepAliveCount, func(d time.Duration) int { return int(d) })},
	}
	for _, o := range opts {
		if o.value < 0 {
			continue
		}
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, o.opt, o.value); err != nil {
			return err
		}
	}
	return nil
}

// keepAliveValue maps a keep-alive field to the value to set: negative
// means leave alone, zero means the default.
func keepAliveValue(v time.Duration, def int, conv func(time.Duration) int) int {
	switch {
	case v < 0:
		return -1
	case v == 0:
		return def
	}
	return conv(v)
}

// keepAliveFor turns net's two ways of saying keep-alive into one config,
// as net.newTCPConn does.
func keepAliveFor(idle time.Duration, config net.KeepAliveConfig) net.KeepAliveConfig {
	if !config.Enable && idle >= 0 {
		return net.KeepAliveConfig{Enable: true, Idle: idle}
	}
	return config
}

// seconds rounds d up to whole seconds, at least one, as net does.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}
