package unet_test

import (
	"net"
	"testing"

	"github.com/unetio/unet/internal/backendtest"
)

// The backend table and helpers are shared with nethttp_test
// (internal/backendtest): every test runs over std, epoll and uring, a
// backend that cannot be used is a failure, and each subtest checks for
// descriptor and goroutine leaks. These names keep the tests short.
var backends = backendtest.Backends

func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	backendtest.ForEach(t, f)
}

func listen(t testing.TB, backend, network, addr string) net.Listener {
	t.Helper()
	return backendtest.Listen(t, backend, network, addr)
}

func checkListenerType(t testing.TB, backend string, ln net.Listener) {
	t.Helper()
	backendtest.CheckListenerType(t, backend, ln)
}

func checkConnType(t testing.TB, backend string, c net.Conn) {
	t.Helper()
	backendtest.CheckConnType(t, backend, c)
}

func dial(t testing.TB, backend, network, addr string) net.Conn {
	t.Helper()
	return backendtest.Dial(t, backend, network, addr)
}

func dialBackend(backend, addr string) (net.Conn, error) {
	return backendtest.DialBackend(backend, addr)
}

func accept(t testing.TB, ln net.Listener) net.Conn {
	t.Helper()
	return backendtest.Accept(t, ln)
}

func pair(t testing.TB, backend string) (client, server net.Conn) {
	t.Helper()
	return backendtest.Pair(t, backend)
}

func countFDs() int { return backendtest.CountFDs() }

func checkFDs(t testing.TB) {
	t.Helper()
	backendtest.CheckFDs(t)
}

func TestMain(m *testing.M) { backendtest.Main(m) }
