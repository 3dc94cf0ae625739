package unet

import (
	"fmt"
	"net"
	"os"
	"runtime"

	unetrt "github.com/unetio/unet/runtime"
)

// FileListener is the package's FileListener with the backend of lc, and
// lc's KeepAlive and KeepAliveConfig for accepted conns on uring and
// epoll; on std, net.FileListener's defaults apply.
func (lc *ListenConfig) FileListener(f *os.File) (net.Listener, error) {
	sched, err := scheduler(lc.Backend)
	if err != nil {
		return nil, fileError(f, err)
	}
	// net does the duplication and finds the family and address; the
	// backend then takes the duplicate over.
	l, err := net.FileListener(f)
	if err != nil || sched == nil {
		return l, err
	}
	// A Unix listener from net.FileListener leaves the socket file alone
	// on Close, and so does the one taken over: unlink is "".
	return lc.takeListener(sched, l, l.Addr().Network(), "", func(err error) error { return fileError(f, err) })
}

// NewListener moves l, a *net.TCPListener or *net.UnixListener created
// with net.Listen or handed over by a graceful-restart library, onto the
// backend of lc: the socket, its address and the connections waiting in
// its backlog carry over, and l is closed. NewListener takes ownership of
// l also when it fails, and then closes it. On std, l is returned as it
// is. A moved Unix listener removes its socket file on Close, as one from
// net.Listen does. To keep l open, for handing it over again, use
// l.File and FileListener instead.
func (lc *ListenConfig) NewListener(l net.Listener) (net.Listener, error) {
	opError := func(err error) error {
		return &net.OpError{Op: "listen", Net: l.Addr().Network(), Addr: l.Addr(), Err: err}
	}
	sched, err := scheduler(lc.Backend)
	if err != nil {
		l.Close()
		return nil, opError(err)
	}
	if sched == nil {
		return l, nil
	}
	unlink := ""
	switch l := l.(type) {
	case *net.TCPListener:
	case *net.UnixListener:
		l.SetUnlinkOnClose(false)
		unlink = l.Addr().String()
	default:
		l.Close()
		return nil, opError(fmt.Errorf("unet: cannot move a %T onto a backend (want *net.TCPListener or *net.UnixListener)", l))
	}
	return lc.takeListener(sched, l, l.Addr().Network(), unlink, opError)
}

// takeListener moves the descriptor of std, a *net.TCPListener or
// *net.UnixListener, to sched and closes std. network is what its errors
// name (tcp4 for a listener made with tcp4, as net's), unlink the socket
// file that Close removes, if any; wrap wraps errors for the caller's API.
func (lc *ListenConfig) takeListener(sched unetrt.Scheduler, std net.Listener, network, unlink string, wrap func(error) error) (*Listener, error) {
	l := &Listener{sched: sched, network: network, addr: std.Addr(),
		keepAlive: keepAliveFor(lc.KeepAlive, lc.KeepAliveConfig), unlink: unlink}
	if kind := std.Addr().Network(); kind != "tcp" && kind != "unix" {
		// unixpacket: the backends serve byte streams only, as Listen.
		std.Close()
		return nil, wrap(net.UnknownNetworkError(kind))
	}
	sysfd, err := takeSocket(std)
	if err != nil {
		return nil, wrap(err)
	}
	if l.fd, err = sched.NewFD(sysfd); err != nil {
		return nil, wrap(err)
	}
	// A listener dropped without Close is closed by the garbage collector,
	// as net's are. The cleanup holds only the FD, so that l stays
	// collectable; like net's finalizer it does not remove a unix path.
	runtime.AddCleanup(l, func(fd unetrt.FD) { fd.Close() }, l.fd)
	return l, nil
}

// FileConn returns a conn on a copy of the connected stream socket f,
// served by the backend in force (see Backend), as net.FileConn does: the
// caller keeps f and must close it, and closing either leaves the other
// open. On uring and epoll it returns a *Conn for a TCP or Unix stream
// socket and an error for any other kind; on std, net.FileConn's conn.
func FileConn(f *os.File) (net.Conn, error) {
	sched, err := scheduler("")
	if err != nil {
		return nil, fileError(f, err)
	}
	c, err := net.FileConn(f)
	if err != nil || sched == nil {
		return c, err
	}
	network := c.LocalAddr().Network()
	if network != "tcp" && network != "unix" {
		c.Close()
		return nil, fileError(f, net.UnknownNetworkError(network))
	}
	conn, err := takeConn(sched, network, c)
	if err != nil {
		return nil, fileError(f, err)
	}
	return conn, nil
}
