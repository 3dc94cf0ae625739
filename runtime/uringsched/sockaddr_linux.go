package uringsched

import "golang.org/x/sys/unix"

// unixSockaddr is the Unix socket address whose path (sun_path, as long
// as the kernel said) is path. An abstract name starts with NUL, shown as
// '@'; an unnamed peer has no path at all and is shown as "@" too.
func unixSockaddr(path []byte) *unix.SockaddrUnix {
	if len(path) == 0 || path[0] == 0 {
		name := []byte{'@'}
		if len(path) > 1 {
			name = append(name, cString(path[1:])...)
		}
		return &unix.SockaddrUnix{Name: string(name)}
	}
	return &unix.SockaddrUnix{Name: string(cString(path))}
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
