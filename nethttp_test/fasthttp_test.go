package nethttptest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/unetio/unet/unet"
)

func TestFastHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		var conns atomic.Int64
		srv := &fasthttp.Server{
			Handler: func(ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.Set("X-Conn", strconv.FormatUint(ctx.ConnID(), 10))
				switch string(ctx.Path()) {
				case "/echo":
					ctx.SetBody([]byte(hashBytes(ctx.PostBody())))
				default:
					size, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("size")))
					ctx.SetBody(randomBytes(uint64(size), size))
				}
			},
			ConnState: func(c net.Conn, s fasthttp.ConnState) {
				if s == fasthttp.StateNew {
					conns.Add(1)
					if got := typeName(c); (b == "std") != (got == "*net.TCPConn") {
						t.Errorf("backend %s server conn is a %s", b, got)
					}
				}
			},
			MaxRequestBodySize: 16 << 20,
			ReadTimeout:        30 * time.Second,
			Logger:             quietLog(t),
		}
		ln := listen(t, b, "tcp", "127.0.0.1:0")
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			require.NoError(t, srv.Shutdown())
			require.NoError(t, recv(t, served, 10*time.Second, "Serve to return"))
		}()

		var dialed atomic.Int64
		c := &fasthttp.Client{
			Dial: func(addr string) (net.Conn, error) {
				c, err := (&unet.Dialer{Backend: b, Timeout: 5 * time.Second}).Dial("tcp", addr)
				if err == nil {
					dialed.Add(1)
				}
				return c, err
			},
			MaxConnsPerHost:    8,
			MaxConnWaitTimeout: 10 * time.Second,
			ReadTimeout:        30 * time.Second,
		}
		defer c.CloseIdleConnections()
		base := "http://" + ln.Addr().String()
		do := func(method, url string, body []byte) (*fasthttp.Response, error) {
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			req.Header.SetMethod(method)
			req.SetRequestURI(url)
			if body != nil {
				req.SetBody(body)
			}
			resp := fasthttp.AcquireResponse()
			if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
				fasthttp.ReleaseResponse(resp)
				return nil, err
			}
			return resp, nil
		}
		// Sequential: one conn, reused.
		var firstConn string
		for i, size := range []int{0, 1, 100, 64 << 10, 3 << 20} {
			resp, err := do("GET", fmt.Sprintf("%s/?size=%d", base, size), nil)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode())
			require.Equal(t, hashBytes(randomBytes(uint64(size), size)), hashBytes(resp.Body()), "size %d", size)
			if i == 0 {
				firstConn = string(resp.Header.Peek("X-Conn"))
			}
			require.Equal(t, firstConn, string(resp.Header.Peek("X-Conn")), "request %d on another conn", i)
			fasthttp.ReleaseResponse(resp)
		}
		// Concurrent, with bodies both ways.
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					body := randomBytes(uint64(g*1000+i), (g*25+i)*4099%(1<<20))
					resp, err := do("POST", base+"/echo", body)
					if !assertNoError(t, err) {
						return
					}
					if resp.StatusCode() != 200 || string(resp.Body()) != hashBytes(body) {
						t.Errorf("POST %d/%d: status %d", g, i, resp.StatusCode())
					}
					fasthttp.ReleaseResponse(resp)
				}
			})
		}
		wg.Wait()
		require.LessOrEqual(t, dialed.Load(), int64(8))
		require.Equal(t, dialed.Load(), conns.Load())
	})
}
