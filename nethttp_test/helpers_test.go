package nethttptest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// soak enables the long and big variants.
var soak = flag.Bool("soak", false, "run the soak variants (bigger, longer)")

// server is an http.Server serving on a unet listener of one backend.
type server struct {
	*http.Server
	ln    net.Listener
	URL   string
	Addr  string
	done  chan error // Serve's result
	conns connCounter
}

// connCounter counts conns by state through http.Server.ConnState.
type connCounter struct {
	mu     sync.Mutex
	states map[http.ConnState]int
	active map[net.Conn]bool
	types  map[string]bool // the dynamic types of the server's conns
}

func (cc *connCounter) hook(c net.Conn, s http.ConnState) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.states == nil {
		cc.states = map[http.ConnState]int{}
		cc.active = map[net.Conn]bool{}
		cc.types = map[string]bool{}
	}
	cc.states[s]++
	switch s {
	case http.StateNew:
		cc.active[c] = true
		cc.types[typeName(c)] = true
	case http.StateClosed, http.StateHijacked:
		delete(cc.active, c)
	}
}

func (cc *connCounter) count(s http.ConnState) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.states[s]
}

func (cc *connCounter) open() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.active)
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflectTypeString(v)
}

// startServer serves h on a new unet listener of the backend. configure,
// if not nil, adjusts the server before it starts. The server is closed
// at the end of the test, and Serve must have returned by then.
func startServer(t testing.TB, backend string, h http.Handler, configure func(*http.Server)) *server {
	t.Helper()
	ln := listen(t, backend, "tcp", "127.0.0.1:0")
	s := &server{Server: &http.Server{Handler: h}, ln: ln, done: make(chan error, 1)}
	s.ErrorLog = quietLog(t)
	if configure != nil {
		configure(s.Server)
	}
	if hook := s.ConnState; hook != nil {
		s.ConnState = func(c net.Conn, st http.ConnState) { s.conns.hook(c, st); hook(c, st) }
	} else {
		s.ConnState = s.conns.hook
	}
	s.Addr = ln.Addr().String()
	s.URL = "http://" + s.Addr
	go func() { s.done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-s.done:
			s.done <- err
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	t.Cleanup(func() { s.checkConnTypes(t, backend) })
	return s
}

// checkConnTypes checks that the server's conns came from the backend.
func (s *server) checkConnTypes(t testing.TB, backend string) {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	for typ := range s.conns.types {
		if backend == "std" {
			if typ != "*net.TCPConn" {
				t.Errorf("std server conn has type %s", typ)
			}
		} else if typ != "*unet.Conn" {
			t.Errorf("%s server conn has type %s", backend, typ)
		}
	}
}

// client returns an HTTP client with its own transport whose idle conns
// are closed at the end of the test. dialBackend, if not "", dials
// through unet with that backend; else through the standard library.
func client(t testing.TB, dialBackend string, configure func(*http.Transport)) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false}
	if dialBackend != "" {
		tr.DialContext = (&unet.Dialer{Backend: dialBackend}).DialContext
	} else {
		tr.DialContext = (&net.Dialer{}).DialContext
	}
	if configure != nil {
		configure(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// get fetches url and returns the status and body.
func get(t testing.TB, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err, "GET %s", url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "GET %s body", url)
	return resp.StatusCode, b
}

// randomBytes returns n bytes from a seeded generator.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(b)
	return b
}

// seededReader streams n seeded random bytes.
type seededReader struct {
	r *rand.ChaCha8
	n int64
}

func newSeededReader(seed uint64, n int64) *seededReader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return &seededReader{r: rand.NewChaCha8(key), n: n}
}

func (s *seededReader) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	n, _ := s.r.Read(p)
	s.n -= int64(n)
	return n, nil
}

func hashOf(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func hashBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// rawConn dials the server with the standard library (so the server side
// alone is under test) and returns the conn and a reader on it.
func rawConn(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// readResponse reads one response from br with a deadline on c.
func readResponse(t testing.TB, c net.Conn, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	c.SetReadDeadline(time.Time{})
	return resp, body
}

// waitClosed reads from c until the peer closes it, returning how long
// that took; data read on the way is discarded.
func waitClosed(t testing.TB, c net.Conn, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 64<<10)
	for {
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("peer did not close the conn within %v", limit)
			}
			return time.Since(start), err
		}
	}
}

func reflectTypeString(v any) string { return fmt.Sprintf("%T", v) }

// quietLog is a server error log that goes to the test log while the test
// runs and is dropped after, when late conn goroutines may still log.
func quietLog(t testing.TB) *log.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return log.New(w, "server: ", 0)
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// recv waits for a value on ch, failing after d.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
		panic("unreachable")
	}
}

// notYet checks that nothing arrives on ch for d.
func notYet[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s returned early: %v", what, v)
	case <-time.After(d):
	}
}
