//go:build linux

package unet

import (
	"strconv"
	"strings"
	"sync"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// mptcpInfo is MPTCP_INFO, which x/sys/unix lacks.
const mptcpInfo = 1

// mptcpSupport is net's probe of the kernel's Multipath TCP support
// (net/mptcpsock_linux.go), made once: whether MPTCP sockets can be
// created, and whether SOL_MPTCP exists (Linux 5.16 on).
var mptcpSupport = sync.OnceValues(func() (available, hasSOL bool) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if err == unix.EAFNOSUPPORT {
		s, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	}
	switch err {
	case unix.EPROTONOSUPPORT, unix.EINVAL:
		return false, false
	case nil:
		unix.Close(s)
	}
	// Another error: MPTCP may become available later, as net assumes.
	return true, kernelVersionAtLeast(5, 16)
})

// usingMultipathTCP reports whether the socket uses MPTCP, by net's
// isUsingMultipathTCP: not fallen back to TCP where SOL_MPTCP exists,
// else created with IPPROTO_MPTCP. Like net, it ignores other errors,
// a closed descriptor's included.
func usingMultipathTCP(fd unetrt.FD) bool {
	available, hasSOL := mptcpSupport()
	if !available {
		return false
	}
	if hasSOL {
		var err error
		fd.RawControl(func(s int) { _, err = unix.GetsockoptInt(s, unix.SOL_MPTCP, mptcpInfo) })
		// The two errors of a socket that fell back, by family.
		return err != unix.EOPNOTSUPP && err != unix.ENOPROTOOPT
	}
	var proto int
	fd.RawControl(func(s int) { proto, _ = unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_PROTOCOL) })
	return proto == unix.IPPROTO_MPTCP
}

// kernelVersionAtLeast reports whether the running kernel is at least
// major.minor, reading the release as net's KernelVersion does.
func kernelVersionAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	parts := strings.SplitN(unix.ByteSliceToString(u.Release[:]), ".", 3)
	if len(parts) < 2 {
		return false
	}
	num := func(s string) int {
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(s[:end])
		return n
	}
	ma, mi := num(parts[0]), num(parts[1])
	return ma > major || ma == major && mi >= minor
}
