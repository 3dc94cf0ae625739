package uringsched

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddrFromRaw converts an address of salen bytes that the kernel wrote
// through the ring, as x/sys/unix converts one inside its own system call
// wrappers (anyToSockaddr), so that unet reports what package net would.
func sockaddrFromRaw(rsa *unix.RawSockaddrAny, salen uint32) unix.Sockaddr {
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
		pathLen := int(salen) - int(unsafe.Offsetof(pp.Path))
		pathLen = max(0, min(pathLen, len(pp.Path)))
		path := unsafe.Slice((*byte)(unsafe.Pointer(&pp.Path[0])), pathLen)
		// An abstract name starts with NUL, shown as '@'; an unnamed
		// peer has no path at all and is shown as "@" too.
		if pathLen == 0 || path[0] == 0 {
			name := []byte{'@'}
			if pathLen > 1 {
				name = append(name, cString(path[1:])...)
			}
			return &unix.SockaddrUnix{Name: string(name)}
		}
		return &unix.SockaddrUnix{Name: string(cString(path))}
	}
	return nil
}

// cString is b up to its first NUL: the convention everyone, package net
// included, uses for Unix socket paths and abstract names.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// Ports travel in network byte order.
func ntohs(v uint16) uint16 { return v<<8 | v>>8 }
