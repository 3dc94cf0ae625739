package nethttptest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoInfo answers with the request's path and the server conn's peer, so
// that a client can tell which conn served it.
func echoInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Remote", r.RemoteAddr)
	fmt.Fprintf(w, "path=%s", r.URL.Path)
}

func TestKeepAliveConcurrentClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, http.HandlerFunc(echoInfo), nil)
		const workers, perWorker = 16, 40
		c := client(t, "", func(tr *http.Transport) { tr.MaxConnsPerHost = workers })
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					path := fmt.Sprintf("/w%d/r%d", w, i)
					resp, err := c.Get(s.URL + path)
					if err != nil {
						errs <- err
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || string(body) != "path="+path {
						errs <- fmt.Errorf("%s: status %d body %q err %v", path, resp.StatusCode, body, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Keep-alive: the conns were reused, never more than the pool.
		require.LessOrEqual(t, s.conns.count(http.StateNew), workers)
		require.Equal(t, workers*perWorker, s.conns.count(http.StateActive))
	})
}

func TestLargeBodies(t *testing.T) {
	size := int64(16 << 20)
	if *soak {
		size = 256 << 20
	}
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sum, n, err := hashOf(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("X-Request-Sha256", sum)
			w.Header().Set("X-Request-Len", strconv.FormatInt(n, 10))
			seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
			io.Copy(w, newSeededReader(seed, size))
		}), nil)
		for _, dialer := range []string{"", b} {
			c := client(t, dialer, nil)
			for i, chunked := range []bool{false, true} {
				seed := uint64(100 + i)
				var body io.Reader = newSeededReader(seed, size)
				req, err := http.NewRequest("POST", s.URL+"/?seed="+strconv.FormatUint(seed+1000, 10), body)
				require.NoError(t, err)
				if !chunked {
					req.ContentLength = size
				}
				resp, err := c.Do(req)
				require.NoError(t, err)
				sum, n, err := hashOf(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				wantReq, _, _ := hashOf(newSeededReader(seed, size))
				wantResp, _, _ := hashOf(newSeededReader(seed+1000, size))
				require.Equal(t, 200, resp.StatusCode)
				require.Equal(t, strconv.FormatInt(size, 10), resp.Header.Get("X-Request-Len"))
				require.Equal(t, wantReq, resp.Header.Get("X-Request-Sha256"), "request body corrupted")
				require.Equal(t, size, n)
				require.Equal(t, wantResp, sum, "response body corrupted")
			}
		}
	})
}

func TestStreamingFlush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		const chunks = 20
		next := make(chan struct{})
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for i := range chunks {
				fmt.Fprintf(w, "chunk %02d\n", i)
				w.(http.Flusher).Flush()
				// The next chunk only after the client saw this one: a
				// flush that does not reach the client deadlocks.
				select {
				case <-next:
				case <-time.After(10 * time.Second):
					return
				case <-r.Context().Done():
					return
				}
			}
		}), nil)
		c := client(t, b, nil)
		resp, err := c.Get(s.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
		line := make([]byte, len("chunk 00\n"))
		for i := range chunks {
			_, err := io.ReadFull(resp.Body, line)
			require.NoError(t, err, "chunk %d", i)
			require.Equal(t, fmt.Sprintf("chunk %02d\n", i), string(line))
			next <- struct{}{}
		}
		rest, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Empty(t, rest)
	})
}

func TestExpectContinue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/reject" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			sum, n, _ := hashOf(r.Body)
			fmt.Fprintf(w, "%d %s", n, sum)
		}), nil)
		body := randomBytes(7, 1<<20)
		want := fmt.Sprintf("%d %s", len(body), hashBytes(body))

		t.Run("raw", func(t *testing.T) {
			c, br := rawConn(t, s.Addr)
			fmt.Fprintf(c, "POST /accept HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
			// The server answers 100 Continue before any body byte is sent.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			status, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "HTTP/1.1 100 Continue\r\n", status)
			blank, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "\r\n", blank)
			_, err = c.Write(body)
			require.NoError(t, err)
			resp, got := readResponse(t, c, br, "POST")
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, want, string(got))

			// A handler that does not read the body gets no 100 Continue
			// sent: the final status comes first.
			fmt.Fprintf(c, "POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
			resp, _ = readResponse(t, c, br, "POST")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
		t.Run("transport", func(t *testing.T) {
			c := client(t, b, func(tr *http.Transport) { tr.ExpectContinueTimeout = 10 * time.Second })
			req, err := http.NewRequest("POST", s.URL+"/accept", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Expect", "100-continue")
			start := time.Now()
			resp, err := c.Do(req)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, want, string(got))
			// The client did not sit out ExpectContinueTimeout.
			require.Less(t, time.Since(start), 5*time.Second)
		})
	})
}

func TestServeFile(t *testing.T) {
	const size = 6<<20 + 4321
	dir := t.TempDir()
	data := randomBytes(9, size)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644))
	forEachBackend(t, func(t *testing.T, b string) {
		mux := http.NewServeMux()
		mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir(dir))))
		mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, filepath.Join(dir, "big.bin"))
		})
		s := startServer(t, b, mux, nil)
		c := client(t, "", nil)
		for _, path := range []string{"/static/big.bin", "/file"} {
			status, got := get(t, c, s.URL+path)
			require.Equal(t, 200, status, path)
			require.Equal(t, size, len(got), path)
			require.Equal(t, hashBytes(data), hashBytes(got), "%s: bytes differ", path)
		}
		// Ranges go through sendfile with an offset and a limit.
		for _, rg := range [][2]int{{0, 0}, {1, 1 << 20}, {3<<20 + 17, size - 1}, {size - 10, size - 1}} {
			req, err := http.NewRequest("GET", s.URL+"/file", nil)
			require.NoError(t, err)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
			resp, err := c.Do(req)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusPartialContent, resp.StatusCode)
			require.True(t, bytes.Equal(data[rg[0]:rg[1]+1], got), "range %v differs", rg)
		}
		// Many keep-alive downloads on few conns in parallel.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 3 {
					resp, err := c.Get(s.URL + "/static/big.bin")
					if !assertNoError(t, err) {
						return
					}
					sum, n, err := hashOf(resp.Body)
					resp.Body.Close()
					assertNoError(t, err)
					if n != size || sum != hashBytes(data) {
						t.Errorf("parallel download: %d bytes, sum %s", n, sum)
					}
				}
			})
		}
		wg.Wait()
	})
}

func assertNoError(t testing.TB, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func TestReadHeaderTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		const timeout = 200 * time.Millisecond
		s := startServer(t, b, http.HandlerFunc(echoInfo), func(s *http.Server) { s.ReadHeaderTimeout = timeout })
		// Several stalled clients are all cut off...
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				c, err := net.Dial("tcp", s.Addr)
				if !assertNoError(t, err) {
					return
				}
				defer c.Close()
				if i%2 == 0 {
					fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n") // no end of header
				}
				el, _ := waitClosed(t, c, 10*time.Second)
				if el < timeout-20*time.Millisecond || el > 3*time.Second {
					t.Errorf("stalled conn cut off after %v, want about %v", el, timeout)
				}
			})
		}
		// ...while a well-behaved client is served.
		c := client(t, "", nil)
		status, body := get(t, c, s.URL+"/ok")
		require.Equal(t, 200, status)
		require.Equal(t, "path=/ok", string(body))
		wg.Wait()
	})
}

func TestReadTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		const timeout = 300 * time.Millisecond
		type result struct {
			n   int64
			err error
			el  time.Duration
		}
		results := make(chan result, 1)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			n, err := io.Copy(io.Discard, r.Body)
			results <- result{n, err, time.Since(start)}
		}), func(s *http.Server) { s.ReadTimeout = timeout })
		c, _ := rawConn(t, s.Addr)
		start := time.Now()
		fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
		r := recv(t, results, 10*time.Second, "handler's body read to end")
		require.Equal(t, int64(10), r.n)
		require.Error(t, r.err, "body read of a stalled client succeeded")
		require.ErrorIs(t, r.err, os.ErrDeadlineExceeded)
		total := time.Since(start)
		require.GreaterOrEqual(t, total, timeout-50*time.Millisecond)
		require.Less(t, total, 3*time.Second)
		// The conn is closed afterwards.
		el, _ := waitClosed(t, c, 10*time.Second)
		require.Less(t, el, 3*time.Second)
	})
}

func TestWriteTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		const timeout = 300 * time.Millisecond
		type result struct {
			n   int64
			err error
		}
		results := make(chan result, 1)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Far more than the socket buffers hold.
			n, err := io.Copy(w, io.LimitReader(zeroReader{}, 256<<20))
			results <- result{n, err}
		}), func(s *http.Server) { s.WriteTimeout = timeout })
		c, br := rawConn(t, s.Addr)
		require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
		start := time.Now()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		// Read only the status line, then stall.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 200 OK\r\n", line)
		r := recv(t, results, 10*time.Second, "handler's write to end")
		el := time.Since(start)
		require.Error(t, r.err, "write to a stalled client succeeded")
		require.Less(t, r.n, int64(256<<20))
		require.GreaterOrEqual(t, el, timeout-50*time.Millisecond)
		require.Less(t, el, 3*time.Second)
		// And the server dropped the conn. (Open the window again: a
		// tiny one makes loopback TCP crawl.)
		require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4<<20))
		_, err = waitClosed(t, c, 10*time.Second)
		require.Error(t, err)
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestIdleTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		const timeout = 300 * time.Millisecond
		s := startServer(t, b, http.HandlerFunc(echoInfo), func(s *http.Server) { s.IdleTimeout = timeout })
		c, br := rawConn(t, s.Addr)
		for i := range 3 {
			// Requests within the idle timeout keep the conn.
			fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			resp, body := readResponse(t, c, br, "GET")
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, fmt.Sprintf("path=/%d", i), string(body))
			time.Sleep(timeout / 3)
		}
		el, err := waitClosed(t, c, 10*time.Second)
		require.ErrorIs(t, err, io.EOF)
		require.GreaterOrEqual(t, el+timeout/3, timeout-50*time.Millisecond)
		require.Less(t, el, 3*time.Second)
		require.Eventually(t, func() bool { return s.conns.count(http.StateClosed) == 1 }, 5*time.Second, 5*time.Millisecond)
	})
}

func TestShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		started := make(chan struct{})
		release := make(chan struct{})
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(started)
				<-release
			}
			fmt.Fprintf(w, "done %s", r.URL.Path)
		}), nil)
		c := client(t, b, nil)
		// An idle keep-alive conn.
		status, _ := get(t, c, s.URL+"/warm")
		require.Equal(t, 200, status)
		type result struct {
			status int
			body   string
			err    error
		}
		inflight := make(chan result, 1)
		c2 := client(t, b, nil)
		go func() {
			resp, err := c2.Get(s.URL + "/slow")
			if err != nil {
				inflight <- result{err: err}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			inflight <- result{resp.StatusCode, string(body), err}
		}()
		recv(t, started, 5*time.Second, "slow request to start")
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		notYet(t, shut, 200*time.Millisecond, "Shutdown with a request in flight")
		// The listener is closed: new conns are refused.
		require.Eventually(t, func() bool {
			c, err := net.Dial("tcp", s.Addr)
			if c != nil {
				c.Close()
			}
			return err != nil
		}, 5*time.Second, 10*time.Millisecond)
		close(release)
		r := recv(t, inflight, 5*time.Second, "in-flight request")
		require.NoError(t, r.err)
		require.Equal(t, 200, r.status)
		require.Equal(t, "done /slow", r.body)
		require.NoError(t, recv(t, shut, 5*time.Second, "Shutdown"))
		require.ErrorIs(t, recv(t, s.done, 5*time.Second, "Serve"), http.ErrServerClosed)
		s.done <- http.ErrServerClosed
		require.NoError(t, s.Close())
		require.Equal(t, 0, s.conns.open(), "conns left open after Shutdown")
	})
}

func TestShutdownTimeoutThenClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		started := make(chan struct{})
		release := make(chan struct{})
		defer close(release)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(started)
			<-release
		}), nil)
		c, br := rawConn(t, s.Addr)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		recv(t, started, 5*time.Second, "request to start")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 200 OK\r\n", line)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Shutdown(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 3*time.Second)
		// Close tears down the active conn.
		require.NoError(t, s.Close())
		el, _ := waitClosed(t, c, 5*time.Second)
		require.Less(t, el, 3*time.Second)
	})
}

func TestResponseControllerDeadlines(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		type result struct {
			err error
			el  time.Duration
			n   int64
		}
		results := make(chan result, 1)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			start := time.Now()
			switch r.URL.Path {
			case "/read":
				if err := rc.SetReadDeadline(time.Now().Add(150 * time.Millisecond)); err != nil {
					results <- result{err: fmt.Errorf("SetReadDeadline: %w", err)}
					return
				}
				n, err := io.Copy(io.Discard, r.Body)
				results <- result{err, time.Since(start), n}
			case "/extend":
				// The server's ReadTimeout is short; clearing the deadline
				// lets a slow body through.
				if err := rc.SetReadDeadline(time.Time{}); err != nil {
					results <- result{err: err}
					return
				}
				n, err := io.Copy(io.Discard, r.Body)
				results <- result{err, time.Since(start), n}
				w.Write([]byte("got it"))
			case "/write":
				if err := rc.SetWriteDeadline(time.Now().Add(150 * time.Millisecond)); err != nil {
					results <- result{err: fmt.Errorf("SetWriteDeadline: %w", err)}
					return
				}
				n, err := io.Copy(w, io.LimitReader(zeroReader{}, 256<<20))
				if err == nil {
					err = rc.Flush()
				}
				results <- result{err, time.Since(start), n}
			}
		}), func(s *http.Server) { s.ReadTimeout = 300 * time.Millisecond })

		t.Run("read", func(t *testing.T) {
			c, _ := rawConn(t, s.Addr)
			fmt.Fprint(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
			r := recv(t, results, 10*time.Second, "handler")
			require.ErrorIs(t, r.err, os.ErrDeadlineExceeded)
			require.Equal(t, int64(3), r.n)
			require.GreaterOrEqual(t, r.el, 100*time.Millisecond)
			require.Less(t, r.el, 3*time.Second)
		})
		t.Run("extend", func(t *testing.T) {
			c, br := rawConn(t, s.Addr)
			fmt.Fprint(c, "POST /extend HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
			time.Sleep(600 * time.Millisecond) // beyond ReadTimeout
			fmt.Fprint(c, "def")
			r := recv(t, results, 10*time.Second, "handler")
			require.NoError(t, r.err)
			require.Equal(t, int64(6), r.n)
			resp, body := readResponse(t, c, br, "POST")
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, "got it", string(body))
		})
		t.Run("write", func(t *testing.T) {
			c, _ := rawConn(t, s.Addr)
			require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
			fmt.Fprint(c, "GET /write HTTP/1.1\r\nHost: x\r\n\r\n")
			r := recv(t, results, 10*time.Second, "handler")
			require.Error(t, r.err, "write to a stalled client succeeded")
			require.ErrorIs(t, r.err, os.ErrDeadlineExceeded)
			require.Less(t, r.n, int64(256<<20))
			require.Less(t, r.el, 3*time.Second)
		})
	})
}

func TestHTTPTestServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		ts := httptest.NewUnstartedServer(http.HandlerFunc(echoInfo))
		ts.Listener.Close()
		ts.Listener = listen(t, b, "tcp", "127.0.0.1:0")
		ts.Start()
		defer ts.Close()
		c := ts.Client()
		for i := range 5 {
			status, body := get(t, c, fmt.Sprintf("%s/n%d", ts.URL, i))
			require.Equal(t, 200, status)
			require.Equal(t, fmt.Sprintf("path=/n%d", i), string(body))
		}
		ts.Close()
		_, err := c.Get(ts.URL)
		require.Error(t, err, "served after Close")
	})
}

func TestHijack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		connType := make(chan string, 1)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer c.Close()
			connType <- typeName(c)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			// Echo lines, including any the client sent before the upgrade
			// finished, which sit in brw's buffer.
			for {
				line, err := brw.ReadString('\n')
				if err != nil {
					return
				}
				brw.WriteString(strings.ToUpper(line))
				brw.Flush()
			}
		}), nil)
		c, br := rawConn(t, s.Addr)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly line\n")
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, 101, resp.StatusCode)
		typ := recv(t, connType, 5*time.Second, "hijack")
		if b == "std" {
			require.Equal(t, "*net.TCPConn", typ)
		} else {
			require.Equal(t, "*unet.Conn", typ)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "EARLY LINE\n", line)
		for i := range 50 {
			fmt.Fprintf(c, "line %d\n", i)
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("LINE %d\n", i), line)
		}
		require.Equal(t, 1, s.conns.count(http.StateHijacked))
	})
}

// TestClientTransport dials through unet from net/http's client against a
// standard library server.
func TestClientTransport(t *testing.T) {
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		if r.Method == "POST" {
			sum, n, _ := hashOf(r.Body)
			fmt.Fprintf(w, "%d %s", n, sum)
			return
		}
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		io.Copy(w, newSeededReader(uint64(size), int64(size)))
	}))
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	forEachBackend(t, func(t *testing.T, b string) {
		conns.Store(0)
		var dialed atomic.Int64
		c := client(t, b, func(tr *http.Transport) {
			d := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := d(ctx, network, addr)
				if err == nil {
					dialed.Add(1)
					if got := typeName(conn); (b == "std") != (got == "*net.TCPConn") {
						t.Errorf("backend %s dialed a %s", b, got)
					}
				}
				return conn, err
			}
		})
		for _, size := range []int{0, 1, 1000, 1 << 20, 5<<20 + 3} {
			status, body := get(t, c, fmt.Sprintf("%s/?size=%d", ts.URL, size))
			require.Equal(t, 200, status)
			want, _, _ := hashOf(newSeededReader(uint64(size), int64(size)))
			require.Equal(t, size, len(body))
			require.Equal(t, want, hashBytes(body))
		}
		body := randomBytes(3, 3<<20)
		resp, err := c.Post(ts.URL, "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, fmt.Sprintf("%d %s", len(body), hashBytes(body)), string(got))
		// Sequential requests reuse one conn.
		require.Equal(t, int64(1), dialed.Load())
		require.Equal(t, int64(1), conns.Load())
		// Conns the server closes are redialled.
		for range 5 {
			status, _ := get(t, c, ts.URL+"/?size=10&close=1")
			require.Equal(t, 200, status)
		}
		// The first reuses the idle conn, the other four dial.
		require.Equal(t, int64(5), dialed.Load())
		// Concurrent requests.
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				size := 1000 + i
				resp, err := c.Get(fmt.Sprintf("%s/?size=%d", ts.URL, size))
				if !assertNoError(t, err) {
					return
				}
				sum, n, err := hashOf(resp.Body)
				resp.Body.Close()
				want, _, _ := hashOf(newSeededReader(uint64(size), int64(size)))
				if err != nil || n != int64(size) || sum != want {
					t.Errorf("size %d: got %d bytes, err %v", size, n, err)
				}
			})
		}
		wg.Wait()
	})
}

// TestClientResetMidResponse: clients that reset while the server is
// writing a big response must not hurt the server.
func TestClientResetMidResponse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		writeErrs := make(chan error, 100)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ok" {
				w.Write([]byte("still serving"))
				return
			}
			_, err := io.Copy(w, io.LimitReader(zeroReader{}, 64<<20))
			writeErrs <- err
		}), nil)
		const rounds = 20
		for i := range rounds {
			c, err := net.Dial("tcp", s.Addr)
			require.NoError(t, err)
			fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			// Read a little of the response, then reset.
			buf := make([]byte, 1+i*4096)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		for i := range rounds {
			err := recv(t, writeErrs, 10*time.Second, fmt.Sprintf("handler %d to end", i))
			require.Error(t, err, "a 64 MiB write to a reset client succeeded")
		}
		c := client(t, "", nil)
		for range 5 {
			status, body := get(t, c, s.URL+"/ok")
			require.Equal(t, 200, status)
			require.Equal(t, "still serving", string(body))
		}
		require.Eventually(t, func() bool { return s.conns.open() <= 1 }, 5*time.Second, 10*time.Millisecond,
			"server conns of reset clients not closed")
	})
}

// TestClientHalfClose: a client that sends its request and shuts down its
// writing side still gets the whole response.
func TestClientHalfClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		payload := randomBytes(11, 2<<20)
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Got", strconv.Itoa(len(body)))
			w.Write(payload)
		}), nil)
		for _, req := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			"GET / HTTP/1.0\r\n\r\n",
		} {
			c, br := rawConn(t, s.Addr)
			_, err := io.WriteString(c, req)
			require.NoError(t, err)
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			resp, body := readResponse(t, c, br, "GET")
			require.Equal(t, 200, resp.StatusCode, req)
			require.True(t, bytes.Equal(payload, body), "%q: body differs (%d bytes)", req, len(body))
			// Then the server closes.
			_, err = waitClosed(t, c, 5*time.Second)
			require.ErrorIs(t, err, io.EOF)
		}
	})
}

// TestManyKeepAliveConns holds thousands of keep-alive conns open at once,
// each making several requests on its own conn.
func TestManyKeepAliveConns(t *testing.T) {
	n, reqs := 2000, 3
	if testing.Short() {
		n = 300
	}
	if *soak || os.Getenv("UNET_SOAK") != "" {
		n, reqs = 8000, 10 // two descriptors a conn, within RLIMIT_NOFILE 20000
	}
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, http.HandlerFunc(echoInfo), nil)
		var ready sync.WaitGroup
		ready.Add(n)
		all := make(chan struct{})
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				first := true
				signal := func() {
					if first {
						first = false
						ready.Done()
					}
				}
				defer signal()
				err := func() error {
					c, err := dialBackend(b, s.Addr)
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(120 * time.Second))
					br := bufio.NewReader(c)
					var remote string
					for r := range reqs {
						path := fmt.Sprintf("/c%d/r%d", i, r)
						if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
							return err
						}
						resp, err := http.ReadResponse(br, nil)
						if err != nil {
							return fmt.Errorf("request %d: %w", r, err)
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(body) != "path="+path {
							return fmt.Errorf("request %d: body %q, err %v", r, body, err)
						}
						if r == 0 {
							remote = resp.Header.Get("X-Remote")
							signal()
							<-all // every conn is open now
						} else if got := resp.Header.Get("X-Remote"); got != remote {
							return fmt.Errorf("request %d served on conn %s, first on %s", r, got, remote)
						}
					}
					return nil
				}()
				if err != nil {
					errs <- fmt.Errorf("conn %d: %w", i, err)
				}
			})
		}
		ready.Wait()
		openAtOnce := s.conns.open()
		close(all)
		wg.Wait()
		close(errs)
		nerr := 0
		for err := range errs {
			if nerr++; nerr <= 10 {
				t.Error(err)
			}
		}
		require.Zero(t, nerr, "conns failed")
		require.Equal(t, n, openAtOnce, "conns open at once")
		require.Equal(t, n, s.conns.count(http.StateNew))
		require.Equal(t, n*reqs, s.conns.count(http.StateActive))
	})
}
