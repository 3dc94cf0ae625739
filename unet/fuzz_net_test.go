package unet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/unetio/unet/unet"
)

// fuzzPair returns a connected (client, server) pair of backend over
// network: "tcp" over 127.0.0.1, or "unix", a stream socket in a fresh
// directory (short, so that the path fits in sun_path whatever the
// test's name).
func fuzzPair(t testing.TB, backend, network string) (client, server net.Conn) {
	t.Helper()
	if network == "tcp" {
		return pair(t, backend)
	}
	dir, err := os.MkdirTemp("", "unetfuzz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), "unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatalf("backend %s: listen unix: %v", backend, err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err = (&unet.Dialer{Backend: backend}).DialContext(ctx, "unix", ln.Addr().String())
	if err != nil {
		t.Fatalf("backend %s: dial unix: %v", backend, err)
	}
	t.Cleanup(func() { client.Close() })
	server = accept(t, ln)
	for _, c := range []net.Conn{client, server} {
		_, isStd := c.(*net.UnixConn)
		if got := fmt.Sprintf("%T", c); isStd != (backend == "std") || (!isStd && got != "*unet.Conn") {
			t.Fatalf("backend %s returned a unix conn of type %s", backend, got)
		}
	}
	return client, server
}
