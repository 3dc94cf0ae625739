package unet_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/unetio/unet/unet"
)

// BenchmarkDial measures a dial and close over loopback, the cost a
// client pays per new conn, on each backend: the listener is the
// backend's own and closes every conn it accepts.
func BenchmarkDial(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), "tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() { closeAll(ln) })
			defer wg.Wait()
			defer ln.Close()
			d := &unet.Dialer{Backend: backend}
			addr := ln.Addr().String()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// closeAll accepts conns and closes them until ln is closed.
func closeAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
