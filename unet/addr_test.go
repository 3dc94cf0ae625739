package unet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// addrShape describes an address by everything a program can observe of
// it except the port and the test's own names (subst maps each to a
// placeholder), so that the addresses of two runs compare equal when they
// are of the same kind: the type, the network, the IP's length and
// whether it is IPv4 as netip sees it, the zone, the unix name.
func addrShape(a net.Addr, subst map[string]string) string {
	switch a := a.(type) {
	case nil:
		return "<nil>"
	case *net.TCPAddr:
		if a == nil {
			return "(*net.TCPAddr)(nil)"
		}
		ap := a.AddrPort()
		return fmt.Sprintf("TCPAddr{%s len %d Is4 %v zone %q port>0 %v} %s", a.IP, len(a.IP), ap.Addr().Is4(), a.Zone, a.Port > 0, a.Network())
	case *net.UnixAddr:
		if a == nil {
			return "(*net.UnixAddr)(nil)"
		}
		name := a.Name
		if p, ok := subst[name]; ok {
			name = p
		}
		return fmt.Sprintf("UnixAddr{%q %s} %s", name, a.Net, a.Network())
	}
	return fmt.Sprintf("%T %v", a, a)
}

// addrScenario connects clients to a listener and reports the shapes of
// every address involved.
type addrScenario struct {
	name string
	// lnet and laddr are the listener's; the clients dial dnet to the
	// listener's port or path, from each local address in clients (nil:
	// unbound).
	lnet, laddr, dnet, dhost string
	clients                  []net.Addr
	ipv6                     bool
}

func addrScenarios(t *testing.T) []addrScenario {
	dir := t.TempDir()
	abstract := fmt.Sprintf("@unet-addr-test-%d", os.Getpid())
	return []addrScenario{
		{name: "tcp4 loopback", lnet: "tcp", laddr: "127.0.0.1:0", dnet: "tcp", dhost: "127.0.0.1", clients: []net.Addr{nil}},
		{name: "tcp4 wildcard", lnet: "tcp4", laddr: "0.0.0.0:0", dnet: "tcp4", dhost: "127.0.0.1", clients: []net.Addr{nil}},
		{name: "dual-stack v4 client", lnet: "tcp", laddr: ":0", dnet: "tcp4", dhost: "127.0.0.1", clients: []net.Addr{nil}},
		{name: "dual-stack v6 client", lnet: "tcp", laddr: ":0", dnet: "tcp6", dhost: "::1", clients: []net.Addr{nil}, ipv6: true},
		{name: "tcp6 loopback", lnet: "tcp6", laddr: "[::1]:0", dnet: "tcp6", dhost: "::1", clients: []net.Addr{nil}, ipv6: true},
		{name: "unix path", lnet: "unix", laddr: filepath.Join(dir, "sock"), dnet: "unix", clients: []net.Addr{
			nil,
			&net.UnixAddr{Name: abstract + "-client", Net: "unix"},
			nil, // an unnamed peer after a named one
			&net.UnixAddr{Name: filepath.Join(dir, "client"), Net: "unix"},
			nil,
		}},
		{name: "unix abstract", lnet: "unix", laddr: abstract, dnet: "unix", clients: []net.Addr{
			nil,
			&net.UnixAddr{Name: abstract + "-client", Net: "unix"},
			nil,
		}},
	}
}

// run runs the scenario with backend b and returns the address shapes.
func (sc addrScenario) run(t *testing.T, b string) []string {
	t.Helper()
	ln, err := (&unet.ListenConfig{Backend: b}).Listen(context.Background(), sc.lnet, sc.laddr)
	require.NoError(t, err)
	defer ln.Close()
	subst := map[string]string{sc.laddr: "LISTENER"}
	target := sc.laddr
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		target = net.JoinHostPort(sc.dhost, fmt.Sprint(tcp.Port))
	}
	shapes := []string{"listener " + addrShape(ln.Addr(), subst)}
	for i, laddr := range sc.clients {
		if laddr != nil {
			subst[laddr.String()] = fmt.Sprintf("CLIENT%d", i)
			if strings.HasPrefix(laddr.String(), "/") {
				os.Remove(laddr.String()) // left by the previous backend's run
			}
		}
		ch := goAccept(ln)
		c, err := (&unet.Dialer{Backend: b, LocalAddr: laddr}).Dial(sc.dnet, target)
		require.NoError(t, err, "client %d", i)
		r := recv(t, ch, 5*time.Second, "Accept")
		require.NoError(t, r.err)
		checkConnType(t, b, c)
		checkConnType(t, b, r.c)
		shapes = append(shapes,
			fmt.Sprintf("client %d local  %s", i, addrShape(c.LocalAddr(), subst)),
			fmt.Sprintf("client %d remote %s", i, addrShape(c.RemoteAddr(), subst)),
			fmt.Sprintf("server %d local  %s", i, addrShape(r.c.LocalAddr(), subst)),
			fmt.Sprintf("server %d remote %s", i, addrShape(r.c.RemoteAddr(), subst)),
		)
		// The two ends agree on the TCP ports.
		if ca, ok := c.LocalAddr().(*net.TCPAddr); ok {
			require.Equal(t, ca.Port, r.c.RemoteAddr().(*net.TCPAddr).Port)
			require.Equal(t, c.RemoteAddr().(*net.TCPAddr).Port, r.c.LocalAddr().(*net.TCPAddr).Port)
		}
		c.Close()
		r.c.Close()
	}
	return shapes
}

// TestAddrsAsStd holds every address a listener and its conns report
// against the ones std reports in the same setting: IPv4 addresses hold
// 4-byte IPs, dual-stack ones what the kernel says, unix ones the path,
// "@name" for an abstract name and "@" for an unnamed peer.
func TestAddrsAsStd(t *testing.T) {
	for _, sc := range addrScenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			if sc.ipv6 && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback on this machine")
			}
			want := sc.run(t, "std")
			forEachBackend(t, func(t *testing.T, b string) {
				require.Equal(t, want, sc.run(t, b))
			})
		})
	}
}

// TestAddrIPv4Is4: the example of issue 15 — an accepted IPv4 conn's
// address is IPv4 to netip, so a PROXY header built from it says TCP4.
func TestAddrIPv4Is4(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		c, s := pair(t, b)
		for name, a := range map[string]net.Addr{
			"client local": c.LocalAddr(), "client remote": c.RemoteAddr(),
			"server local": s.LocalAddr(), "server remote": s.RemoteAddr(),
		} {
			ap := a.(*net.TCPAddr).AddrPort()
			require.True(t, ap.Addr().Is4(), "%s %v is not IPv4 to netip", name, ap)
		}
	})
}

// TestFileNameAsStd: the *os.File that File returns is named as net
// names it, "network:local->remote".
func TestFileNameAsStd(t *testing.T) {
	type filer interface{ File() (*os.File, error) }
	name := func(t *testing.T, v any, subst map[string]string) string {
		f, err := v.(filer).File()
		require.NoError(t, err)
		defer f.Close()
		n := f.Name()
		for from, to := range subst {
			n = strings.ReplaceAll(n, from, to)
		}
		return n
	}
	names := func(t *testing.T, b string) []string {
		c, s := pair(t, b)
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		conns := map[string]string{c.LocalAddr().String(): "CLIENT", s.LocalAddr().String(): "SERVER"}
		return []string{name(t, c, conns), name(t, s, conns), name(t, ln, map[string]string{ln.Addr().String(): "LISTENER"})}
	}
	want := names(t, "std")
	forEachBackend(t, func(t *testing.T, b string) {
		require.Equal(t, want, names(t, b))
	})
}
