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
// A backend named explicitly that cannot start is an error from Listen and
// Dial, never a silent downgrade.
//
// On uring and epoll, Listen returns a *Listener and conns are *Conn, which
// behave like *net.TCPListener and *net.TCPConn in everything a server
// relies on: deadlines that interrupt a parked Read or Write, half-close,
// socket options, SyscallConn, io.ReaderFrom with sendfile, and errors
// wrapped in *net.OpError exactly as package net wraps them.
package unet
