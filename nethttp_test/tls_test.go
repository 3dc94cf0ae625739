package nethttptest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// protoHandler reports the protocol and the server conn's peer, and
// echoes a hash of the body for POSTs.
func protoHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Remote", r.RemoteAddr)
	if r.TLS != nil {
		w.Header().Set("X-ALPN", r.TLS.NegotiatedProtocol)
	}
	if r.Method == "POST" {
		sum, n, err := hashOf(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %s", n, sum)
		return
	}
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	io.Copy(w, newSeededReader(uint64(size), int64(size)))
}

// startTLS starts an httptest TLS server on a unet listener.
func startTLS(t *testing.T, b string, h2 bool) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(protoHandler))
	ts.Listener.Close()
	ts.Listener = listen(t, b, "tcp", "127.0.0.1:0")
	ts.EnableHTTP2 = h2
	ts.Config.ErrorLog = quietLog(t)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// tlsClient returns a client trusting ts, dialing through unet with the
// backend, that speaks only HTTP/1.1 or only HTTP/2.
func tlsClient(t *testing.T, ts *httptest.Server, b string, h2 bool) *http.Client {
	t.Helper()
	base := ts.Client().Transport.(*http.Transport)
	tr := &http.Transport{
		TLSClientConfig:     base.TLSClientConfig.Clone(),
		DialContext:         (&unet.Dialer{Backend: b}).DialContext,
		MaxIdleConnsPerHost: 8,
		Protocols:           new(http.Protocols),
	}
	if h2 {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func checkSized(t *testing.T, c *http.Client, url string, size int, proto string) string {
	t.Helper()
	resp, err := c.Get(fmt.Sprintf("%s/?size=%d", url, size))
	require.NoError(t, err)
	defer resp.Body.Close()
	sum, n, err := hashOf(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, proto, resp.Header.Get("X-Proto"))
	want, _, _ := hashOf(newSeededReader(uint64(size), int64(size)))
	require.Equal(t, int64(size), n)
	require.Equal(t, want, sum)
	return resp.Header.Get("X-Remote")
}

func TestTLSKeepAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ts := startTLS(t, b, false)
		c := tlsClient(t, ts, b, false)
		var remote string
		for i := range 100 {
			size := (i * 7919) % (256 << 10)
			if i == 50 {
				size = 4 << 20
			}
			r := checkSized(t, c, ts.URL, size, "HTTP/1.1")
			if i == 0 {
				remote = r
			}
			require.Equal(t, remote, r, "request %d on another conn", i)
		}
		body := randomBytes(5, 3<<20)
		resp, err := c.Post(ts.URL, "application/octet-stream", io.NopCloser(newSeededReader(5, 3<<20)))
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, fmt.Sprintf("%d %s", len(body), hashBytes(body)), string(got))
	})
}

func TestTLSHTTP2(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ts := startTLS(t, b, true)
		c := tlsClient(t, ts, b, true)
		resp, err := c.Get(ts.URL + "/?size=10")
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 2, resp.ProtoMajor)
		require.Equal(t, "HTTP/2.0", resp.Header.Get("X-Proto"), "server saw r.ProtoMajor != 2")
		require.Equal(t, "h2", resp.Header.Get("X-ALPN"))
		remote := resp.Header.Get("X-Remote")
		// Concurrent streams multiplexed on the one conn.
		var wg sync.WaitGroup
		var mu sync.Mutex
		remotes := map[string]bool{}
		for i := range 32 {
			wg.Go(func() {
				size := 1000 * i
				if i%8 == 0 {
					size = 2 << 20
				}
				resp, err := c.Get(fmt.Sprintf("%s/?size=%d", ts.URL, size))
				if !assertNoError(t, err) {
					return
				}
				sum, n, err := hashOf(resp.Body)
				resp.Body.Close()
				want, _, _ := hashOf(newSeededReader(uint64(size), int64(size)))
				if err != nil || n != int64(size) || sum != want || resp.ProtoMajor != 2 {
					t.Errorf("stream %d: %d bytes, proto %s, err %v", i, n, resp.Proto, err)
				}
				mu.Lock()
				remotes[resp.Header.Get("X-Remote")] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Equal(t, map[string]bool{remote: true}, remotes, "streams spread over several conns")
	})
}

func TestH2C(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, http.HandlerFunc(protoHandler), func(s *http.Server) {
			s.Protocols = new(http.Protocols)
			s.Protocols.SetHTTP1(true)
			s.Protocols.SetUnencryptedHTTP2(true)
		})
		for _, dialBackend := range []string{"", b} {
			c := client(t, dialBackend, func(tr *http.Transport) {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			})
			remote := checkSized(t, c, s.URL, 100, "HTTP/2.0")
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					body := randomBytes(uint64(i), 64<<10*i)
					resp, err := c.Post(s.URL, "application/octet-stream", io.NopCloser(newSeededReader(uint64(i), int64(len(body)))))
					if !assertNoError(t, err) {
						return
					}
					got, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.ProtoMajor != 2 || resp.Header.Get("X-Remote") != remote ||
						string(got) != fmt.Sprintf("%d %s", len(body), hashBytes(body)) {
						t.Errorf("stream %d: proto %s remote %s body %q", i, resp.Proto, resp.Header.Get("X-Remote"), got)
					}
				})
			}
			wg.Wait()
			require.Equal(t, remote, checkSized(t, c, s.URL, 3<<20, "HTTP/2.0"))
		}
		// An HTTP/1.1 client is still served on the same listener.
		c := client(t, "", nil)
		checkSized(t, c, s.URL, 100, "HTTP/1.1")
	})
}

// TestTLSNewListener serves through tls.NewListener wrapped around a unet
// listener, with a plain tls client over a unet conn.
func TestTLSNewListener(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ts := httptest.NewUnstartedServer(nil)
		ts.StartTLS() // only for its certificate
		cfg := ts.TLS.Clone()
		ts.Close()
		ln := tls.NewListener(listen(t, b, "tcp", "127.0.0.1:0"), cfg)
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(c, c)
			done <- err
		}()
		raw, err := (&unet.Dialer{Backend: b}).DialContext(context.Background(), "tcp", ln.Addr().String())
		require.NoError(t, err)
		tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		msg := randomBytes(1, 1<<20)
		go tc.Write(msg)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(tc, got)
		require.NoError(t, err)
		require.Equal(t, hashBytes(msg), hashBytes(got))
		require.NoError(t, tc.CloseWrite())
		require.NoError(t, recv(t, done, 10*time.Second, "tls echo server"))
	})
}
