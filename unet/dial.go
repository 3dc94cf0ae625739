//go:build linux

package unet

import (
	"context"
	"net"
	"syscall"
	"time"
)

// Dialer holds options for connecting, like net.Dialer. The zero value
// dials with the backend in force and net's defaults.
//
// On every backend the connection is made by a net.Dialer with these
// options, so resolving, Happy Eyeballs (RFC 6555), deadlines split across
// addresses, cancellation and every error are exactly net's; on uring and
// epoll the connected socket then moves to the backend's scheduler.
type Dialer struct {
	// Timeout, Deadline, LocalAddr, FallbackDelay, KeepAlive,
	// KeepAliveConfig, Resolver, Control and ControlContext mean what they
	// mean in net.Dialer.
	Timeout         time.Duration
	Deadline        time.Time
	LocalAddr       net.Addr
	FallbackDelay   time.Duration
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	Resolver        *net.Resolver
	Control         func(network, address string, c syscall.RawConn) error
	ControlContext  func(ctx context.Context, network, address string, c syscall.RawConn) error
	// Backend overrides UNET_BACKEND: "uring", "epoll", "std" or "auto".
	Backend string

	// mptcp is what SetMultipathTCP asked for, if it was called.
	mptcp mptcpChoice
}

// mptcpChoice is a Dialer's Multipath TCP setting: net's default unless
// SetMultipathTCP was called.
type mptcpChoice uint8

const (
	mptcpDefault mptcpChoice = iota
	mptcpOn
	mptcpOff
)

// Dial connects to the address on the named network with the backend in
// force; see Dialer.Dial.
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.DialContext(context.Background(), network, address)
}

// Dial connects to the address on the named network.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to the address on the named network using the
// provided context, as (*net.Dialer).DialContext. Networks are "tcp",
// "tcp4", "tcp6" and "unix"; the std backend dials whatever net dials.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	sched, err := scheduler(d.Backend)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: err}
	}
	nd := d.netDialer()
	if sched == nil {
		return nd.DialContext(ctx, network, address)
	}
	if err := checkNetwork(network); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	nc, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c, err := takeConn(sched, network, nc)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: nc.LocalAddr(), Addr: nc.RemoteAddr(), Err: err}
	}
	return c, nil
}

// MultipathTCP reports whether the Dialer will use Multipath TCP, as
// (*net.Dialer).MultipathTCP.
func (d *Dialer) MultipathTCP() bool {
	nd := d.netDialer()
	return nd.MultipathTCP()
}

// SetMultipathTCP directs Dial to use, or not to use, Multipath TCP if
// the host supports it, as (*net.Dialer).SetMultipathTCP.
func (d *Dialer) SetMultipathTCP(use bool) {
	d.mptcp = mptcpOff
	if use {
		d.mptcp = mptcpOn
	}
}

// netDialer is the net.Dialer that does d's dialing.
func (d *Dialer) netDialer() *net.Dialer {
	nd := &net.Dialer{
		Timeout:         d.Timeout,
		Deadline:        d.Deadline,
		LocalAddr:       d.LocalAddr,
		FallbackDelay:   d.FallbackDelay,
		KeepAlive:       d.KeepAlive,
		KeepAliveConfig: d.KeepAliveConfig,
		Resolver:        d.Resolver,
		Control:         d.Control,
		ControlContext:  d.ControlContext,
	}
	if d.mptcp != mptcpDefault {
		nd.SetMultipathTCP(d.mptcp == mptcpOn)
	}
	return nd
}

// checkNetwork accepts the stream networks the backends serve.
func checkNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return nil
	}
	return net.UnknownNetworkError(network)
}
