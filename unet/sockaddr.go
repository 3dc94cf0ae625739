//go:build linux

package unet

import (
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// sockaddrToAddr converts a kernel socket address to the net.Addr that
// package net would report for the network.
func sockaddrToAddr(network string, sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IPv4(sa.Addr[0], sa.Addr[1], sa.Addr[2], sa.Addr[3]), Port: sa.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, sa.Addr[:])
		return &net.TCPAddr{IP: ip, Port: sa.Port, Zone: zoneName(sa.ZoneId)}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: network}
	}
	return nil
}

func zoneName(id uint32) string {
	if id == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	n, _ := strconv.ParseUint(zone, 10, 32)
	return uint32(n)
}

// tcpSockaddr converts ip and port to a socket address of the family.
func tcpSockaddr(family int, ip netip.Addr, port int) unix.Sockaddr {
	if family == unix.AF_INET {
		return &unix.SockaddrInet4{Port: port, Addr: ip.Unmap().As4()}
	}
	return &unix.SockaddrInet6{Port: port, Addr: ip.As16(), ZoneId: zoneID(ip.Zone())}
}

// localAddr asks the kernel for the socket's local address.
func localAddr(network string, sysfd int) net.Addr {
	sa, err := unix.Getsockname(sysfd)
	if err != nil {
		return nil
	}
	return sockaddrToAddr(network, sa)
}
