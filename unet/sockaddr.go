//go:build linux

package unet

import (
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// sockaddrToAddr converts a kernel socket address to the net.Addr that
// package net would report for the network: an IPv4 address holds a
// 4-byte IP, as net's sockaddrToTCP gives it, so that netip sees IPv4.
func sockaddrToAddr(network string, sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ip := make(net.IP, net.IPv4len)
		copy(ip, sa.Addr[:])
		return &net.TCPAddr{IP: ip, Port: sa.Port}
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

// localAddr asks the kernel for the socket's local address.
func localAddr(network string, sysfd int) net.Addr {
	sa, err := unix.Getsockname(sysfd)
	if err != nil {
		return nil
	}
	return sockaddrToAddr(network, sa)
}
