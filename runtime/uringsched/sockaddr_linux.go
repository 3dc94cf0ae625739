package uringsched

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel reads and writes socket addresses in their raw layout, which
// x/sys/unix converts only inside its own system call wrappers; these two
// functions do the same for addresses that travel through the ring.

// sockaddrFromRaw converts an address the kernel wrote.
func sockaddrFromRaw(rsa *unix.RawSockaddrAny) unix.Sockaddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		pp := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet4{Port: int(ntohs(pp.Port))}
		sa.Addr = pp.Addr
		return sa
	case unix.AF_INET6:
		pp := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet6{Port: int(ntohs(pp.Port)), ZoneId: pp.Scope_id}
		sa.Addr = pp.Addr
		return sa
	case unix.AF_UNIX:
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := 0
		for n < len(pp.Path) && pp.Path[n] != 0 {
			n++
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(pp.Path[i])
		}
		return &unix.SockaddrUnix{Name: string(b)}
	}
	return nil
}

// sockaddrToRaw writes sa into rsa and returns its length.
func sockaddrToRaw(sa unix.Sockaddr, rsa *unix.RawSockaddrAny) (uint32, error) {
	*rsa = unix.RawSockaddrAny{}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		pp := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		pp.Family = unix.AF_INET
		pp.Port = htons(uint16(sa.Port))
		pp.Addr = sa.Addr
		return unix.SizeofSockaddrInet4, nil
	case *unix.SockaddrInet6:
		pp := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		pp.Family = unix.AF_INET6
		pp.Port = htons(uint16(sa.Port))
		pp.Scope_id = sa.ZoneId
		pp.Addr = sa.Addr
		return unix.SizeofSockaddrInet6, nil
	case *unix.SockaddrUnix:
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		if len(sa.Name) >= len(pp.Path) {
			return 0, unix.EINVAL
		}
		pp.Family = unix.AF_UNIX
		for i := 0; i < len(sa.Name); i++ {
			pp.Path[i] = int8(sa.Name[i])
		}
		return uint32(2 + len(sa.Name) + 1), nil
	}
	return 0, unix.EAFNOSUPPORT
}

// Ports travel in network byte order.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
func ntohs(v uint16) uint16 { return htons(v) }
