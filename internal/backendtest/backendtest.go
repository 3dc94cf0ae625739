// Package backendtest is what the test suites of unet and nethttp_test
// share: the one table of backends every test runs over, the warm-up that
// starts each backend before the leak checks take their baseline, and
// helpers that listen, dial and accept with a given backend and check
// that it really served.
package backendtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/unetio/unet/unet"
)

// Backends is the one table of backends every test runs over. A backend
// that cannot be used on this machine is a failure, never a skip.
var Backends = []string{"std", "epoll", "uring"}

// warmupErr records, per backend, why warming it up in Main failed.
var warmupErr = map[string]error{}

// baselineFDs is the descriptor count after every backend was warmed up,
// so that the schedulers' own descriptors (rings, epoll fds) created on
// first use are part of it.
var baselineFDs int

// Main is a TestMain: it warms every backend up, takes the descriptor
// baseline, and runs the tests under goleak, which ignores the
// schedulers' own long-lived goroutines and what opts add.
func Main(m *testing.M, opts ...goleak.Option) {
	for _, b := range Backends {
		warmupErr[b] = warmup(b)
		if err := warmupErr[b]; err != nil {
			fmt.Fprintf(os.Stderr, "warm-up of backend %q failed: %v\n", b, err)
		}
	}
	// Let the warm-up's goroutines and descriptors settle.
	time.Sleep(50 * time.Millisecond)
	baselineFDs = CountFDs()
	for _, f := range schedulerEntries() {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

// ForEach runs f as one subtest per backend, each with a descriptor leak
// check.
func ForEach(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			if err := warmupErr[b]; err != nil {
				t.Fatalf("backend %q is unavailable: %v", b, err)
			}
			CheckFDs(t)
			f(t, b)
		})
	}
}

// Listen listens with the given backend and closes the listener at the
// end of the test. It also checks that the backend really is the one
// asked for: std hands back the standard library's listener, the others
// their own type.
func Listen(t testing.TB, backend, network, addr string) net.Listener {
	t.Helper()
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), network, addr)
	require.NoError(t, err, "backend %s: listen %s %s", backend, network, addr)
	CheckListenerType(t, backend, ln)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// CheckListenerType checks that ln is std's on std and unet's elsewhere.
func CheckListenerType(t testing.TB, backend string, ln net.Listener) {
	t.Helper()
	_, isTCP := ln.(*net.TCPListener)
	_, isUnix := ln.(*net.UnixListener)
	isStd := isTCP || isUnix
	if backend == "std" {
		require.True(t, isStd, "std backend must return *net.TCPListener or *net.UnixListener, got %T", ln)
	} else {
		require.False(t, isStd, "backend %s returned the standard library's listener", backend)
		require.Equal(t, "*unet.Listener", fmt.Sprintf("%T", ln))
	}
}

// CheckConnType checks that c is std's on std and unet's elsewhere.
func CheckConnType(t testing.TB, backend string, c net.Conn) {
	t.Helper()
	_, isTCP := c.(*net.TCPConn)
	_, isUnix := c.(*net.UnixConn)
	isStd := isTCP || isUnix
	if backend == "std" {
		require.True(t, isStd, "std backend must return *net.TCPConn or *net.UnixConn, got %T", c)
	} else {
		require.False(t, isStd, "backend %s returned the standard library's conn", backend)
		require.Equal(t, "*unet.Conn", fmt.Sprintf("%T", c))
	}
}

// Dial dials with the given backend and closes the conn at the end of the
// test.
func Dial(t testing.TB, backend, network, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&unet.Dialer{Backend: backend}).DialContext(ctx, network, addr)
	require.NoError(t, err, "backend %s: dial %s %s", backend, network, addr)
	CheckConnType(t, backend, c)
	t.Cleanup(func() { c.Close() })
	return c
}

// DialBackend dials TCP without a test, for use from other goroutines.
func DialBackend(backend, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return (&unet.Dialer{Backend: backend}).DialContext(ctx, "tcp", addr)
}

// Accept accepts one conn, closed at the end of the test, failing the
// test after 10s.
func Accept(t testing.TB, ln net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "accept")
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		ln.Close()
		t.Fatal("accept did not return within 10s")
		return nil
	}
}

// Pair returns a connected (client, server) pair, both of the backend,
// over 127.0.0.1.
func Pair(t testing.TB, backend string) (client, server net.Conn) {
	t.Helper()
	ln := Listen(t, backend, "tcp", "127.0.0.1:0")
	client = Dial(t, backend, "tcp", ln.Addr().String())
	server = Accept(t, ln)
	CheckConnType(t, backend, server)
	ln.Close()
	return client, server
}
