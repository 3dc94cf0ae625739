//go:build !linux

package unet

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"
)

// ListenConfig holds options for listening, like net.ListenConfig. On
// this system every listener is the standard library's.
type ListenConfig struct {
	// Backend overrides UNET_BACKEND: "uring", "epoll", "std" or "auto".
	// uring and epoll need Linux and make Listen fail here.
	Backend string
	// ReusePort sets SO_REUSEPORT on Linux; here it makes Listen fail,
	// since no other system spreads connections over the listeners.
	ReusePort bool
	// KeepAlive and KeepAliveConfig configure accepted TCP connections
	// exactly as in net.ListenConfig.
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Control, if not nil, is called after creating the socket and before
	// binding it, as in net.ListenConfig.
	Control func(network, address string, c syscall.RawConn) error
}

// errReusePort is Listen's error for ReusePort on a system other than Linux.
var errReusePort = errors.New("unet: ReusePort needs Linux")

// Listen announces on the local network address with the standard
// library, the one backend on this system.
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// Listen announces on the local network address with net.ListenConfig,
// after checking that lc names no backend and no option that needs Linux.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	err := checkBackend(lc.Backend)
	if err == nil && lc.ReusePort {
		err = errReusePort
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	nlc := net.ListenConfig{KeepAlive: lc.KeepAlive, KeepAliveConfig: lc.KeepAliveConfig, Control: lc.Control}
	return nlc.Listen(ctx, network, address)
}
