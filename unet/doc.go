// Package unet runs the network I/O of unmodified Go servers and clients on
// io_uring or on a userland epoll scheduler instead of Go's netpoller.
//
// A server changes one line, net.Listen to unet.Listen, and picks the
// backend with the environment variable UNET_BACKEND:
//
//	uring  io_uring completions (runtime/uringsched)
//	epoll  our own edge-triggered epoll scheduler (runtime/epollsched)
//	std    the standard library's own listener and conns, untouched
//	auto   io_uring where the kernel allows it, else epoll (the default);
//	       std on systems other than Linux
//
// The names are also the constants BackendURing, BackendEpoll, BackendStd
// and BackendAuto; ListenConfig.Backend and Dialer.Backend choose per
// listener or dialer. A backend named explicitly that cannot start is an
// error from Listen and Dial, never a silent downgrade.
//
// On uring and epoll, Listen returns a *Listener and conns are *Conn, which
// behave like *net.TCPListener and *net.TCPConn in everything a server
// relies on: deadlines that interrupt a parked Read or Write, half-close,
// socket options, SyscallConn, io.ReaderFrom with sendfile, and errors
// wrapped in *net.OpError exactly as package net wraps them. Their Backend
// method names the backend that serves them. Listener and Conn exist only
// on Linux: elsewhere every listener and conn is the standard library's.
//
// Sockets made elsewhere move onto a backend too: FileListener and
// FileConn take a copy of a descriptor (systemd socket activation, a
// parent handing listeners over in a graceful restart), and
// ListenConfig.NewListener takes over a *net.TCPListener or
// *net.UnixListener.
//
// Importing unet changes nothing else in a program: it registers no HTTP
// handler and publishes nothing. Stats reads the counters of the backend
// in force without starting anything; import
// github.com/unetio/unet/unet/unetexpvar to publish them as the expvar
// variable "unet". unet logs only its choice of backend, to the logger
// set with SetLogger (slog.Default() unless set).
package unet
