package nethttptest

import (
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/unetio/unet/internal/backendtest"
)

// The backend table and helpers are shared with package unet's tests
// (internal/backendtest); these names keep the tests short.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	backendtest.ForEach(t, f)
}

func listen(t testing.TB, backend, network, addr string) net.Listener {
	t.Helper()
	return backendtest.Listen(t, backend, network, addr)
}

func dialBackend(backend, addr string) (net.Conn, error) {
	return backendtest.DialBackend(backend, addr)
}

func countFDs() int { return backendtest.CountFDs() }

func TestMain(m *testing.M) {
	// fasthttp refreshes its Date header from one goroutine that it starts
	// on first use and keeps for the life of the process.
	backendtest.Main(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
