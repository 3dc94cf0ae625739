package unet_test

import (
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Raw I/O as drivers do it through SyscallConn: a read(2) or write(2) loop
// that gives up on EAGAIN, so that RawConn waits for readiness and calls
// it again. calls counts the calls of the function, which package net
// never makes on a closed conn or once the deadline has passed.

// rawRead reads once into p, as a pooled conn's liveness check does. An
// error of read(2) itself comes back as net would wrap it, with Op
// "raw-read"; a read of 0 bytes is io.EOF.
func rawRead(c net.Conn, p []byte) (n, calls int, err error) {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		calls++
		for {
			m, e := unix.Read(int(fd), p)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			n, rerr = max(m, 0), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, calls, err
	case rerr != nil:
		return n, calls, &net.OpError{Op: "raw-read", Err: os.NewSyscallError("read", rerr)}
	case n == 0:
		return 0, calls, io.EOF
	}
	return n, calls, nil
}

// rawWrite writes all of data, waiting for room whenever the socket is
// full; n is what write(2) took, also when it fails.
func rawWrite(c net.Conn, data []byte) (n, calls int, err error) {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		calls++
		for n < len(data) {
			m, e := unix.Write(int(fd), data[n:])
			n += max(m, 0)
			switch {
			case e == unix.EINTR:
			case e == unix.EAGAIN:
				return false
			case e != nil:
				werr = e
				return true
			case m <= 0:
				werr = io.ErrShortWrite // write(2) took nothing and said nothing
				return true
			}
		}
		return true
	})
	if err == nil && werr != nil {
		err = &net.OpError{Op: "raw-write", Err: os.NewSyscallError("write", werr)}
	}
	return n, calls, err
}

// noteRead keeps the bound on what uring may hold read ahead for side
// after a Read(p) that returned n bytes: a Read that finds nothing queued
// arms a receive limited to len(p) bytes, whose last chunk may overshoot
// the limit by less than a chunk (at most len(p)), so that it may take up
// to 2*len(p)-1 bytes of which the Read returned n. Whether this Read
// armed one is not visible here, so every Read counts: the bound only
// grows, and it stays 0 as long as every Read asked for one byte and got
// it. Only the uring world's bound is used, but every world keeps one.
func (w *world) noteRead(side, size, n int) {
	w.mu.Lock()
	w.ahead[side] += 2*size - 1 - n
	w.mu.Unlock()
}
