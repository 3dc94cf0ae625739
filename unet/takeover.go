//go:build linux

package unet

import (
	"errors"
	"io"
	"net"
	"syscall"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// takeSocket moves the socket of a net conn or listener off Go's
// netpoller: it duplicates the descriptor, close-on-exec and still
// non-blocking (the flag belongs to the shared file description), and
// closes s, which unregisters the original from the netpoller. s is
// closed even on error.
func takeSocket(s io.Closer) (int, error) {
	owner, ok := s.(syscall.Conn)
	if !ok {
		s.Close()
		return -1, errors.New("unet: conn or listener has no socket")
	}
	sc, err := owner.SyscallConn()
	if err != nil {
		s.Close()
		return -1, err
	}
	var (
		sysfd = -1
		derr  error
	)
	if err := sc.Control(func(fd uintptr) { sysfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		derr = err
	}
	s.Close()
	if derr != nil {
		return -1, wrapSyscallError("fcntl", derr)
	}
	return sysfd, nil
}

// takeConn moves a conn that package net connected (a net.Dialer, or
// net.FileConn) onto sched. The
// addresses are the ones net found, so they are exactly net's.
func takeConn(sched unetrt.Scheduler, network string, nc net.Conn) (*Conn, error) {
	laddr, raddr := nc.LocalAddr(), nc.RemoteAddr()
	sysfd, err := takeSocket(nc)
	if err != nil {
		return nil, err
	}
	fd, err := sched.NewFD(sysfd)
	if err != nil {
		return nil, err
	}
	return newConn(sched, fd, network, laddr, raddr), nil
}
