package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingServer serves / (Content-Length), /big (64 KiB, chunked by
// net/http) and 404 elsewhere, counting requests per path.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var served atomic.Int64
	big := make([]byte, 64<<10)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("Hello, World!"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write(big)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestGenCounts(t *testing.T) {
	for _, c := range []struct {
		path         string
		conns, depth int
	}{{"/", 4, 1}, {"/", 3, 8}, {"/big", 2, 2}} {
		t.Run(c.path, func(t *testing.T) {
			srv, served := countingServer(t)
			addr := strings.TrimPrefix(srv.URL, "http://")
			res, err := RunGen(context.Background(), GenConfig{Addr: addr, Path: c.path, Conns: c.conns, Pipeline: c.depth, Duration: 300 * time.Millisecond})
			require.NoError(t, err)
			require.Positive(t, res.Requests)
			require.Zero(t, res.Non2xx)
			require.Zero(t, res.ConnErrors, res.FirstError)
			// Every counted response was served; at most one batch per
			// connection was still in flight when the window closed.
			n := served.Load()
			require.GreaterOrEqual(t, n, res.Requests)
			require.LessOrEqual(t, n, res.Requests+int64(c.conns*c.depth))
			require.Positive(t, res.P50Us)
			require.GreaterOrEqual(t, res.P99Us, res.P50Us)
			require.GreaterOrEqual(t, res.MaxUs, res.P99Us*0.98) // bucket midpoints are within ~1.6%
		})
	}
}

func TestGenNon2xxAndDeadServer(t *testing.T) {
	srv, _ := countingServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	res, err := RunGen(context.Background(), GenConfig{Addr: addr, Path: "/missing", Conns: 2, Pipeline: 1, Duration: 100 * time.Millisecond})
	require.NoError(t, err)
	require.Zero(t, res.Requests)
	require.Positive(t, res.Non2xx)

	srv.Close()
	res, err = RunGen(context.Background(), GenConfig{Addr: addr, Path: "/", Conns: 2, Pipeline: 1, Duration: 100 * time.Millisecond})
	require.NoError(t, err)
	require.Zero(t, res.Requests)
	require.Positive(t, res.ConnErrors)
	require.NotEmpty(t, res.FirstError)

	lr := genToLoad(res)
	require.Nil(t, lr.P50Us)
	require.Contains(t, lr.ErrorDetail, "connection errors")
}

func TestReadResponse(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno" +
		"HTTP/1.1 200 OK\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	for _, want := range []struct {
		status int
		close  bool
	}{{200, false}, {200, false}, {204, false}, {404, true}} {
		status, closeConn, err := readResponse(br)
		require.NoError(t, err)
		require.Equal(t, want.status, status)
		require.Equal(t, want.close, closeConn)
	}
	_, _, err := readResponse(br)
	require.ErrorIs(t, err, errMalformed, "no length and not chunked")
	_, _, err = readResponse(bufio.NewReader(strings.NewReader("garbage\r\n")))
	require.ErrorIs(t, err, errMalformed)
}

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 1000) // 1 µs .. 100 ms
	}
	require.InDelta(t, 50e6, h.Quantile(0.50), 50e6*0.02)
	require.InDelta(t, 99e6, h.Quantile(0.99), 99e6*0.02)
	require.InDelta(t, 50.0005e6, h.Mean(), 1)
	require.Equal(t, int64(100e6), h.max.Load())
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1 << 40, 1<<62 + 12345} {
		i := histIndex(v)
		require.Less(t, i, histBuckets)
		require.InDelta(t, float64(v), histValue(i), float64(v)/60+1, "value %d", v)
	}
}

func TestOpenIdle(t *testing.T) {
	srv, served := countingServer(t)
	conns, err := openIdle(context.Background(), strings.TrimPrefix(srv.URL, "http://"), 20)
	require.NoError(t, err)
	require.Len(t, conns, 20)
	require.Equal(t, int64(20), served.Load())
	closeAll(conns)
}
