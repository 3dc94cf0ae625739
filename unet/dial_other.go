//go:build !linux

package unet

import (
	"context"
	"net"
	"time"
)

// Dialer holds options for connecting, like net.Dialer. On this system
// every conn is the standard library's.
type Dialer struct {
	// Timeout, Deadline, LocalAddr, KeepAlive and KeepAliveConfig mean
	// what they mean in net.Dialer.
	Timeout         time.Duration
	Deadline        time.Time
	LocalAddr       net.Addr
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Backend overrides UNET_BACKEND: "uring", "epoll", "std" or "auto".
	// uring and epoll need Linux and make Dial fail here.
	Backend string
}

// Dial connects to the address on the named network with the standard
// library, the one backend on this system.
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.DialContext(context.Background(), network, address)
}

// Dial connects to the address on the named network.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects with net.Dialer, after checking that d names no
// backend that needs Linux.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkBackend(d.Backend); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: err}
	}
	nd := net.Dialer{Timeout: d.Timeout, Deadline: d.Deadline, LocalAddr: d.LocalAddr, KeepAlive: d.KeepAlive, KeepAliveConfig: d.KeepAliveConfig}
	return nd.DialContext(ctx, network, address)
}
