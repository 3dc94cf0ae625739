package unet

// Backend reports the backend that serves the listener, BackendURing or
// BackendEpoll, whichever backend was asked for: with auto, the one auto
// chose. A listener that BackendStd serves is the standard library's own
// *net.TCPListener or *net.UnixListener, not a *Listener.
func (l *Listener) Backend() BackendName { return l.sched.Name() }

// Backend reports the backend that serves the conn, BackendURing or
// BackendEpoll. A conn that BackendStd serves is the standard library's
// own *net.TCPConn or *net.UnixConn, not a *Conn.
func (c *Conn) Backend() BackendName { return c.sched.Name() }
