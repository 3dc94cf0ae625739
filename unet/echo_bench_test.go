package unet_test

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkEcho moves bytes through conns echoing in parallel, the load of
// issue 15's "64 goroutines echoing on 64 conns": each client goroutine
// writes a chunk and reads it back, the server echoes with io.Copy's 32 KiB
// buffer. It reports throughput per backend; compare backends with
// benchstat over -count runs, as BENCHMARKS.md does:
//
//	go test -run '^$' -bench Echo -cpu 4 -count 6 ./unet/
//
// It makes no claim by itself.
func BenchmarkEcho(b *testing.B) {
	for _, conns := range []int{1, 64} {
		for _, chunk := range []int{512, 32 << 10} {
			for _, backend := range backends {
				b.Run(fmt.Sprintf("conns=%d/chunk=%d/backend=%s", conns, chunk, backend), func(b *testing.B) {
					benchEcho(b, backend, conns, chunk)
				})
			}
		}
	}
}

func benchEcho(b *testing.B, backend string, conns, chunk int) {
	ln := listen(b, backend, "tcp", "127.0.0.1:0")
	var servers sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			servers.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial(b, backend, "tcp", ln.Addr().String())
	}
	b.SetBytes(int64(chunk))
	b.ResetTimer()
	var wg sync.WaitGroup
	per := (b.N + conns - 1) / conns
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			out, in := make([]byte, chunk), make([]byte, chunk)
			for range per {
				if _, err := c.Write(out); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(per*conns*chunk)/time.Since(start).Seconds()/(1<<20), "MiB/s")
	for _, c := range clients {
		c.Close()
	}
	ln.Close()
	servers.Wait()
}
