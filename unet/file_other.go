//go:build !linux

package unet

import (
	"net"
	"os"
)

// FileListener is the package's FileListener with the backend of lc: on
// this system net.FileListener, after checking that lc names no backend
// that needs Linux.
func (lc *ListenConfig) FileListener(f *os.File) (net.Listener, error) {
	if err := checkBackend(lc.Backend); err != nil {
		return nil, fileError(f, err)
	}
	return net.FileListener(f)
}

// NewListener moves l onto the backend of lc. On this system every
// backend is std and l is returned as it is, after checking that lc names
// no backend that needs Linux; if it does, l is closed, as on Linux.
func (lc *ListenConfig) NewListener(l net.Listener) (net.Listener, error) {
	if err := checkBackend(lc.Backend); err != nil {
		l.Close()
		return nil, &net.OpError{Op: "listen", Net: l.Addr().Network(), Addr: l.Addr(), Err: err}
	}
	return l, nil
}

// FileConn returns a conn on a copy of the socket f: on this system
// net.FileConn, after checking that UNET_BACKEND names no backend that
// needs Linux.
func FileConn(f *os.File) (net.Conn, error) {
	if err := checkBackend(""); err != nil {
		return nil, fileError(f, err)
	}
	return net.FileConn(f)
}
