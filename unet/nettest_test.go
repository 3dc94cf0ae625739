package unet_test

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/unetio/unet/unet"
)

// stdPeer marks an end of the pipe served by the standard library itself
// (net.Listen / net.Dial), not through unet.
const stdPeer = "net"

// makePipe returns a nettest.MakePipe building a pair over 127.0.0.1 TCP:
// the listening end uses server, the dialing end client; each is a unet
// backend or stdPeer. With serverFirst the accepted conn is c1.
func makePipe(t *testing.T, server, client string, serverFirst bool) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		ctx := context.Background()
		var ln net.Listener
		if server == stdPeer {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		} else {
			ln, err = (&unet.ListenConfig{Backend: server}).Listen(ctx, "tcp", "127.0.0.1:0")
		}
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			ch <- res{c, err}
		}()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var dc net.Conn
		if client == stdPeer {
			dc, err = (&net.Dialer{}).DialContext(dctx, "tcp", ln.Addr().String())
		} else {
			dc, err = (&unet.Dialer{Backend: client}).DialContext(dctx, "tcp", ln.Addr().String())
		}
		if err != nil {
			ln.Close()
			<-ch
			return nil, nil, nil, err
		}
		r := <-ch
		if r.err != nil {
			dc.Close()
			return nil, nil, nil, r.err
		}
		if server != stdPeer {
			checkConnType(t, server, r.c)
		}
		if client != stdPeer {
			checkConnType(t, client, dc)
		}
		stop = func() {
			dc.Close()
			r.c.Close()
		}
		if serverFirst {
			return r.c, dc, stop, nil
		}
		return dc, r.c, stop, nil
	}
}

func TestNettestConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		t.Run("unet-unet/client-first", func(t *testing.T) {
			nettest.TestConn(t, makePipe(t, backend, backend, false))
		})
		t.Run("unet-unet/server-first", func(t *testing.T) {
			nettest.TestConn(t, makePipe(t, backend, backend, true))
		})
		if backend == "std" {
			return // the mixed pairs are the same as unet-unet
		}
		t.Run("unet-server/std-client", func(t *testing.T) {
			nettest.TestConn(t, makePipe(t, backend, stdPeer, true))
		})
		t.Run("std-server/unet-client", func(t *testing.T) {
			nettest.TestConn(t, makePipe(t, stdPeer, backend, false))
		})
	})
}
