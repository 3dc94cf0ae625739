package unet

import (
	"net"
	"os"
)

// FileListener returns a listener on a copy of the listening socket f,
// served by the backend in force (see Backend), as net.FileListener does:
// the caller keeps f and must close it, and closing either leaves the
// other open. It takes over sockets inherited from systemd's socket
// activation or from a parent handing listeners over in a graceful
// restart. Like Listen, it returns a *Listener on uring and epoll and the
// standard library's own listener on std.
func FileListener(f *os.File) (net.Listener, error) {
	var lc ListenConfig
	return lc.FileListener(f)
}

// NewListener moves l, a *net.TCPListener or *net.UnixListener, onto the
// backend in force; see (*ListenConfig).NewListener.
func NewListener(l net.Listener) (net.Listener, error) {
	var lc ListenConfig
	return lc.NewListener(l)
}

// fileAddr is the address in the errors of FileListener and FileConn, as
// package net reports it: the file's name on the network "file+net".
type fileAddr string

func (fileAddr) Network() string  { return "file+net" }
func (f fileAddr) String() string { return string(f) }

// fileError wraps an error of FileListener or FileConn as net does.
func fileError(f *os.File, err error) error {
	return &net.OpError{Op: "file", Net: "file+net", Addr: fileAddr(f.Name()), Err: err}
}
