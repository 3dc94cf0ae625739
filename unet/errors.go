package unet

import (
	"io"
	"net"
	"os"
	"syscall"
)

// wrapSyscallError names the system call behind an errno, as package net
// does, and leaves every other error (net.ErrClosed, os.ErrDeadlineExceeded,
// io.EOF) untouched so that errors.Is sees it. An empty name leaves the
// errno bare, as net leaves Close's.
func wrapSyscallError(name string, err error) error {
	if errno, ok := err.(syscall.Errno); ok && name != "" {
		return os.NewSyscallError(name, errno)
	}
	return err
}

// opError wraps err as net does for an operation on a conn; io.EOF stays
// bare because callers compare it with ==.
func opError(op, network string, source, addr net.Addr, syscallName string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: network, Source: source, Addr: addr, Err: wrapSyscallError(syscallName, err)}
}
