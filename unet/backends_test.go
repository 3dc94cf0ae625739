package unet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/unetio/unet/unet"
)

// backends is the one table of backends every test runs over. A backend
// that cannot be used on this machine is a failure, never a skip.
var backends = []string{"std", "epoll", "uring"}

// warmupErr records, per backend, why warming it up in TestMain failed.
var warmupErr = map[string]error{}

// baselineFDs is the descriptor count after every backend was warmed up,
// so that the schedulers' own descriptors (rings, epoll fds, eventfds)
// created on first use are part of it.
var baselineFDs int

// forEachBackend runs f as one subtest per backend, each with a
// descriptor leak check.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			if err := warmupErr[b]; err != nil {
				t.Fatalf("backend %q is unavailable: %v", b, err)
			}
			checkFDs(t)
			f(t, b)
		})
	}
}

// listen listens with the given backend and closes the listener at the
// end of the test. It also checks that the backend really is the one
// asked for: std hands back the standard library's listener, the others
// their own type.
func listen(t testing.TB, backend, network, addr string) net.Listener {
	t.Helper()
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), network, addr)
	require.NoError(t, err, "backend %s: listen %s %s", backend, network, addr)
	checkListenerType(t, backend, ln)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func checkListenerType(t testing.TB, backend string, ln net.Listener) {
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

func checkConnType(t testing.TB, backend string, c net.Conn) {
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

// dial dials with the given backend and closes the conn at the end of the
// test.
func dial(t testing.TB, backend, network, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&unet.Dialer{Backend: backend}).DialContext(ctx, network, addr)
	require.NoError(t, err, "backend %s: dial %s %s", backend, network, addr)
	checkConnType(t, backend, c)
	t.Cleanup(func() { c.Close() })
	return c
}

// dialBackend dials without a test, for use from other goroutines.
func dialBackend(backend, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return (&unet.Dialer{Backend: backend}).DialContext(ctx, "tcp", addr)
}

// accept accepts one conn, failing the test after 10s.
func accept(t testing.TB, ln net.Listener) net.Conn {
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

// pair returns a connected (client, server) pair, both of the backend,
// over 127.0.0.1.
func pair(t testing.TB, backend string) (client, server net.Conn) {
	t.Helper()
	ln := listen(t, backend, "tcp", "127.0.0.1:0")
	client = dial(t, backend, "tcp", ln.Addr().String())
	server = accept(t, ln)
	checkConnType(t, backend, server)
	ln.Close()
	return client, server
}

// countFDs counts the open descriptors of the process.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	return len(ents) - 1 // the directory's own descriptor
}

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		dst, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+dst)
	}
	return strings.Join(out, " ")
}

// checkFDs records the descriptor count and checks, when the test and its
// cleanups are done, that it came back to that level. Register it first so
// that it runs after the test's other cleanups. Closing may complete
// asynchronously (server goroutines, completion queues), so it waits a
// little for the count to settle.
func checkFDs(t testing.TB) {
	t.Helper()
	start := countFDs()
	t.Cleanup(func() {
		if t.Failed() {
			return // a failed test may leave conns to its goroutines
		}
		deadline := time.Now().Add(5 * time.Second)
		n := countFDs()
		for n > start && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			n = countFDs()
		}
		if n > start {
			t.Errorf("descriptor leak: %d open at start of test, %d at end (baseline after warm-up %d)\n%s",
				start, n, baselineFDs, listFDs())
		}
	})
}

// warmup runs each backend once through listen, dial, accept, I/O,
// deadlines and close, so that the lazily started schedulers exist before
// the descriptor baseline and the goroutine snapshot are taken.
func warmup(backend string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := (&unet.Dialer{Backend: backend}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	msg := []byte("warm-up")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("echo mismatch: %q", buf)
	}
	// A short deadline that expires exercises the timer path.
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	if _, err := c.Read(buf); err == nil {
		return fmt.Errorf("read with expired deadline succeeded")
	}
	c.SetReadDeadline(time.Time{})
	c.(interface{ CloseWrite() error }).CloseWrite()
	if _, err := c.Read(buf); err != io.EOF {
		return fmt.Errorf("want io.EOF after half-close, got %v", err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("echo server did not finish")
	}
}

// goroutineEntries returns the entry functions (the outermost frame) of
// the goroutines whose entry function lies in package prefix.
func goroutineEntries(prefix string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	seen := map[string]bool{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		var entry string
		sc := bufio.NewScanner(strings.NewReader(g))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") ||
				strings.HasPrefix(line, "created by ") || strings.HasPrefix(line, "[originating") {
				continue
			}
			if i := strings.LastIndexByte(line, '('); i > 0 {
				entry = line[:i]
			}
		}
		if strings.HasPrefix(entry, prefix) && !strings.Contains(entry, "_test.") {
			seen[entry] = true
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// schedulerEntries are the long-lived goroutines of the schedulers,
// started once per backend and kept for the life of the process: they are
// found after the warm-up by their entry function lying in unet's own
// packages, so any goroutine of the same kind is ignored by the leak
// check, and any other goroutine (one per conn or per operation that
// outlives its conn) is reported.
func schedulerEntries() []string {
	return goroutineEntries("github.com/unetio/unet")
}

func TestMain(m *testing.M) {
	for _, b := range backends {
		warmupErr[b] = warmup(b)
		if err := warmupErr[b]; err != nil {
			fmt.Fprintf(os.Stderr, "warm-up of backend %q failed: %v\n", b, err)
		}
	}
	// Let the warm-up's goroutines and descriptors settle.
	time.Sleep(50 * time.Millisecond)
	baselineFDs = countFDs()
	var opts []goleak.Option
	for _, f := range schedulerEntries() {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}
