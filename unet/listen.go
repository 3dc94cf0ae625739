//go:build linux

package unet

import (
	"context"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListenConfig holds options for listening, like net.ListenConfig.
type ListenConfig struct {
	// Backend overrides UNET_BACKEND: "uring", "epoll", "std" or "auto".
	Backend string
	// ReusePort sets SO_REUSEPORT, so several listeners can share the
	// address and the kernel spreads connections among them.
	ReusePort bool
	// KeepAlive and KeepAliveConfig configure accepted TCP connections
	// exactly as in net.ListenConfig.
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Control, if not nil, is called after creating the socket and before
	// binding it, as in net.ListenConfig.
	Control func(network, address string, c syscall.RawConn) error
}

// Listen announces on the local network address with the backend in force
// (see Backend). Networks are "tcp", "tcp4", "tcp6" and "unix".
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// Listen announces on the local network address. The socket is created,
// bound and set listening by package net, so address resolution, dual-stack
// sockets, SO_REUSEADDR and the backlog from
// /proc/sys/net/core/somaxconn are exactly net's; the listening descriptor
// then moves to the backend's scheduler.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	sched, err := scheduler(lc.Backend)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	nlc := net.ListenConfig{KeepAlive: lc.KeepAlive, KeepAliveConfig: lc.KeepAliveConfig, Control: lc.control}
	if sched == nil {
		return nlc.Listen(ctx, network, address)
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	std, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	unlink := ""
	if ul, ok := std.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
		unlink = address
	}
	return lc.takeListener(sched, std, network, unlink, func(err error) error {
		return &net.OpError{Op: "listen", Net: network, Addr: std.Addr(), Err: err}
	})
}

func (lc *ListenConfig) control(network, address string, c syscall.RawConn) error {
	if lc.ReusePort {
		var serr error
		if err := c.Control(func(s uintptr) { serr = unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
			return err
		}
		if serr != nil {
			return wrapSyscallError("setsockopt", serr)
		}
	}
	if lc.Control != nil {
		return lc.Control(network, address, c)
	}
	return nil
}
