//go:build linux

package unet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// Dialer holds options for connecting, like net.Dialer. The zero value
// dials with the backend in force and net's defaults.
type Dialer struct {
	// Timeout, Deadline, LocalAddr, KeepAlive and KeepAliveConfig mean
	// what they mean in net.Dialer.
	Timeout         time.Duration
	Deadline        time.Time
	LocalAddr       net.Addr
	KeepAlive       time.Duration
	KeepAliveConfig net.KeepAliveConfig
	// Backend overrides UNET_BACKEND: "uring", "epoll", "std" or "auto".
	Backend string
}

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

// aLongTimeAgo is a deadline in the past, used to abort a connect.
var aLongTimeAgo = time.Unix(1, 0)

// DialContext connects to the address on the named network using the
// provided context, as (*net.Dialer).DialContext. The addresses a host name
// resolves to are tried in the resolver's order until one connects.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	sched, err := scheduler(d.Backend)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: err}
	}
	if sched == nil {
		nd := net.Dialer{Timeout: d.Timeout, Deadline: d.Deadline, LocalAddr: d.LocalAddr, KeepAlive: d.KeepAlive, KeepAliveConfig: d.KeepAliveConfig}
		return nd.DialContext(ctx, network, address)
	}
	if deadline, ok := d.deadline(time.Now()); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if network == "unix" {
		sa := &unix.SockaddrUnix{Name: address}
		return d.dialOne(ctx, sched, network, unix.AF_UNIX, sa, &net.UnixAddr{Name: address, Net: network})
	}
	addrs, err := resolve(ctx, network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Err: err}
	}
	var first error
	for _, ap := range addrs {
		family := unix.AF_INET6
		if ap.Addr().Unmap().Is4() && network != "tcp6" {
			family = unix.AF_INET
		}
		raddr := net.TCPAddrFromAddrPort(ap)
		c, err := d.dialOne(ctx, sched, network, family, tcpSockaddr(family, ap.Addr(), int(ap.Port())), raddr)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// deadline is the earliest of Timeout and Deadline, as in net.Dialer.
func (d *Dialer) deadline(now time.Time) (time.Time, bool) {
	var earliest time.Time
	if d.Timeout != 0 {
		earliest = now.Add(d.Timeout)
	}
	if !d.Deadline.IsZero() && (earliest.IsZero() || d.Deadline.Before(earliest)) {
		earliest = d.Deadline
	}
	return earliest, !earliest.IsZero()
}

// dialOne creates a socket and connects it to sa on the scheduler.
func (d *Dialer) dialOne(ctx context.Context, sched unetrt.Scheduler, network string, family int, sa unix.Sockaddr, raddr net.Addr) (*Conn, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Addr: raddr, Err: err}
	}
	sysfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opErr(os.NewSyscallError("socket", err))
	}
	if err := d.prepareSocket(sysfd, family); err != nil {
		unix.Close(sysfd)
		return nil, opErr(err)
	}
	fd, err := sched.NewFD(sysfd)
	if err != nil {
		return nil, opErr(err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		fd.SetDeadline(deadline, unetrt.ModeWrite)
	}
	stop := context.AfterFunc(ctx, func() { fd.SetDeadline(aLongTimeAgo, unetrt.ModeWrite) })
	err = fd.Connect(sa)
	if !stop() && err != nil {
		// The context ended the connect: report why, as net does.
		err = mapContextErr(ctx.Err())
	}
	if err != nil {
		fd.Close()
		return nil, opErr(wrapSyscallError("connect", err))
	}
	fd.SetDeadline(time.Time{}, unetrt.ModeWrite)
	var laddr net.Addr
	fd.RawControl(func(s int) { laddr = localAddr(network, s) })
	return newConn(sched, fd, network, laddr, raddr), nil
}

// prepareSocket applies net's defaults and the Dialer's options before
// connect: TCP_NODELAY, keep-alive and the local address.
func (d *Dialer) prepareSocket(sysfd, family int) error {
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(sysfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
		if err := setKeepAliveConfig(sysfd, keepAliveFor(d.KeepAlive, d.KeepAliveConfig)); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if d.LocalAddr == nil {
		return nil
	}
	var lsa unix.Sockaddr
	switch a := d.LocalAddr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		if !ip.IsValid() {
			ip = netip.IPv6Unspecified()
			if family == unix.AF_INET {
				ip = netip.IPv4Unspecified()
			}
		}
		lsa = tcpSockaddr(family, ip.WithZone(a.Zone), a.Port)
	case *net.UnixAddr:
		lsa = &unix.SockaddrUnix{Name: a.Name}
	default:
		return &net.AddrError{Err: "mismatched local address type", Addr: d.LocalAddr.String()}
	}
	if err := unix.Bind(sysfd, lsa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// mapContextErr turns a context's error into the error net reports.
func mapContextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimeout{}
	}
	return errCanceled{}
}

// errCanceled and errTimeout are net's errors for a dial that its context
// ended: net's words, and still errors.Is the context's error.
type (
	errCanceled struct{}
	errTimeout  struct{}
)

func (errCanceled) Error() string     { return "operation was canceled" }
func (errCanceled) Is(err error) bool { return err == context.Canceled }
func (errTimeout) Error() string      { return "i/o timeout" }
func (errTimeout) Timeout() bool      { return true }
func (errTimeout) Temporary() bool    { return true }
func (errTimeout) Is(err error) bool  { return err == context.DeadlineExceeded }

// resolve looks up the addresses of a TCP address, keeping those of the
// network's family, in the resolver's order.
func resolve(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, net.UnknownNetworkError(network)
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if host == "" {
		// Like net, an empty host dials the local system.
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ipas, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		ips = ipas
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		is4 := ip.Unmap().Is4()
		if (network == "tcp4" && !is4) || (network == "tcp6" && is4) {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	if len(out) == 0 {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: address}
	}
	return out, nil
}
