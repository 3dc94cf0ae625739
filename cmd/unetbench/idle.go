package main

// Memory per idle keep-alive connection: the cost a server pays for each
// client that is connected but quiet, which dominates at 10 000 conns.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// openIdle opens n keep-alive connections to addr, makes one GET / on
// each (so the server has gone through a full request and parked in its
// idle read) and leaves them open. They are plain Go conns of this
// process; the caller closes them.
func openIdle(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	// Bounded parallelism: fast, yet below the listen backlog so no SYN is
	// dropped (a dropped SYN costs a 1 s retransmit).
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := oneRequest(ctx, addr, req)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	if f := failed.Load(); f > 0 {
		closeAll(out)
		return nil, fmt.Errorf("%d of %d idle connections failed (first: %v)", f, n, firstErr.Load())
	}
	return out, ctx.Err()
}

// oneRequest dials, sends req and reads its response.
func oneRequest(ctx context.Context, addr string, req []byte) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	status, _, err := readResponse(bufio.NewReaderSize(c, 512))
	if err == nil && status != 200 {
		err = fmt.Errorf("status %d", status)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// closeAll closes every connection.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
