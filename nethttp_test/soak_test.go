package nethttptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// soakDuration is how long TestSoak drives each backend: a few seconds in
// the ordinary suite, a minute with -soak or UNET_SOAK (before a release).
func soakDuration() time.Duration {
	if *soak || os.Getenv("UNET_SOAK") != "" {
		return 60 * time.Second
	}
	if testing.Short() {
		return time.Second
	}
	return 3 * time.Second
}

// soakHandler serves the soak's traffic. Every body is a pure function of
// the request, so a client can check each byte it gets:
//
//	GET  /bytes?seed=S&n=N  N seeded bytes
//	POST /echo              the request body
//	GET  /ws                a websocket echoing every message
func soakHandler() http.Handler {
	upgrader := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes", func(w http.ResponseWriter, r *http.Request) {
		seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		io.Copy(w, newSeededReader(seed, n))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		// HTTP/1 handlers read the body before writing: once the
		// headers are out, the server may close it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})
	return mux
}

// soakSize picks a body size: mostly small, sometimes up to 256 KiB.
func soakSize(rng *rand.Rand) int {
	switch rng.IntN(8) {
	case 0:
		return 0
	case 1, 2, 3, 4:
		return rng.IntN(2 << 10)
	case 5, 6:
		return rng.IntN(64 << 10)
	default:
		return rng.IntN(256 << 10)
	}
}

// soakRun carries what the soak's workers share: when to stop, the first
// failure, and how much of each kind of traffic was checked.
type soakRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	failed atomic.Pointer[error]
	counts sync.Map // kind -> *atomic.Int64
}

func (r *soakRun) fail(kind string, err error) {
	err = fmt.Errorf("%s: %w", kind, err)
	if r.failed.CompareAndSwap(nil, &err) {
		r.cancel()
	}
}

func (r *soakRun) done(kind string) {
	v, _ := r.counts.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (r *soakRun) count(kind string) int64 {
	v, ok := r.counts.Load(kind)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// worker runs step until the soak ends or step fails. A step that fails
// after the soak ended (a conn cut by the end) is not a failure.
func (r *soakRun) worker(wg *sync.WaitGroup, kind string, seed uint64, step func(rng *rand.Rand) error) {
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(seed, uint64(len(kind))))
		for r.ctx.Err() == nil {
			if err := step(rng); err != nil {
				if r.ctx.Err() == nil {
					r.fail(kind, err)
				}
				return
			}
			r.done(kind)
		}
	})
}

// TestSoak drives one server per backend with mixed traffic at once:
// HTTP/1.1 keep-alive GETs and POSTs, pipelined requests 16 deep, HTTP/2
// over TLS, websocket echo, and clients that reset mid-response. Every
// response's bytes are checked, not just its status; a wrong byte, a lost
// response or a hang fails the test. Clients dial through the same
// backend as the server and through the standard library, alternately.
func TestSoak(t *testing.T) {
	dur := soakDuration()
	forEachBackend(t, func(t *testing.T, b string) {
		s := startServer(t, b, soakHandler(), nil)
		ts := startTLS(t, b, true)
		// Cancelled, not a deadline: a dial given the deadline could time
		// out a moment before ctx.Err() says the soak is over.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		defer time.AfterFunc(dur, cancel).Stop()
		run := &soakRun{ctx: ctx, cancel: cancel}
		var wg sync.WaitGroup
		for i, dialer := range []string{"", b} {
			seed := uint64(i + 1)
			hc := client(t, dialer, nil)
			for w := range 4 {
				run.worker(&wg, "keep-alive", seed*100+uint64(w), func(rng *rand.Rand) error {
					return soakKeepAlive(ctx, hc, s.URL, rng)
				})
			}
			run.worker(&wg, "pipelined", seed, func(rng *rand.Rand) error {
				return soakPipelined(ctx, dialer, s.Addr, rng)
			})
			h2 := tlsClient(t, ts, dialer, true)
			for w := range 2 {
				run.worker(&wg, "tls-h2", seed*10+uint64(w), func(rng *rand.Rand) error {
					return soakH2(ctx, h2, ts.URL, rng)
				})
			}
			run.worker(&wg, "websocket", seed, func(rng *rand.Rand) error {
				return soakWebSocket(ctx, dialer, s.Addr, rng)
			})
			run.worker(&wg, "reset", seed, func(rng *rand.Rand) error {
				return soakReset(ctx, dialer, s.Addr, rng)
			})
		}
		wg.Wait()
		if err := run.failed.Load(); err != nil {
			t.Fatal(*err)
		}
		var summary []string
		for _, kind := range []string{"keep-alive", "pipelined", "tls-h2", "websocket", "reset"} {
			n := run.count(kind)
			require.Positive(t, n, "no %s round completed in %v", kind, dur)
			summary = append(summary, fmt.Sprintf("%s %d", kind, n))
		}
		t.Logf("%v of checked traffic: %s", dur, strings.Join(summary, ", "))
		// The server still serves after the resets.
		status, body := get(t, client(t, "", nil), s.URL+"/bytes?seed=7&n=100")
		require.Equal(t, 200, status)
		require.Equal(t, randomBytes(7, 100), body)
	})
}

// soakDial dials addr through unet with the backend, or through the
// standard library when backend is "".
func soakDial(ctx context.Context, backend, addr string) (net.Conn, error) {
	if backend == "" {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	return (&unet.Dialer{Backend: backend}).DialContext(ctx, "tcp", addr)
}

// checkBody reads all of r and compares it with want.
func checkBody(r io.Reader, want []byte) error {
	got, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("body of %d bytes differs from the %d expected (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// soakKeepAlive makes one GET or POST on a shared keep-alive client.
func soakKeepAlive(ctx context.Context, c *http.Client, url string, rng *rand.Rand) error {
	seed, n := rng.Uint64(), soakSize(rng)
	want := randomBytes(seed, n)
	var req *http.Request
	var err error
	if rng.IntN(2) == 0 {
		req, err = http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/bytes?seed=%d&n=%d", url, seed, n), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, "POST", url+"/echo", bytes.NewReader(want))
	}
	if err != nil {
		return err
	}
	return doChecked(c, req, 1, want)
}

// doChecked makes req and checks the status, the HTTP major version and
// every byte of the body.
func doChecked(c *http.Client, req *http.Request, protoMajor int, want []byte) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != protoMajor {
		return fmt.Errorf("%s %s: status %d over %s", req.Method, req.URL, resp.StatusCode, resp.Proto)
	}
	return checkBody(resp.Body, want)
}

// soakPipelined sends 16 GETs in one write on a fresh conn, then reads
// the 16 responses in order.
func soakPipelined(ctx context.Context, backend, addr string, rng *rand.Rand) error {
	c, err := soakDial(ctx, backend, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	const depth = 16
	seeds, sizes := make([]uint64, depth), make([]int, depth)
	var reqs bytes.Buffer
	for i := range depth {
		seeds[i], sizes[i] = rng.Uint64(), rng.IntN(8<<10)
		fmt.Fprintf(&reqs, "GET /bytes?seed=%d&n=%d HTTP/1.1\r\nHost: soak\r\n\r\n", seeds[i], sizes[i])
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(reqs.Bytes()); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for i := range depth {
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			return fmt.Errorf("response %d of %d: %w", i, depth, err)
		}
		err = checkBody(resp.Body, randomBytes(seeds[i], sizes[i]))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("response %d of %d: %w", i, depth, err)
		}
	}
	return nil
}

// soakH2 makes one GET over HTTP/2 on TLS; protoHandler's body is seeded
// by its size.
func soakH2(ctx context.Context, c *http.Client, url string, rng *rand.Rand) error {
	n := soakSize(rng)
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/?size=%d", url, n), nil)
	if err != nil {
		return err
	}
	return doChecked(c, req, 2, randomBytes(uint64(n), n))
}

// soakWebSocket opens a websocket and echoes a few messages on it.
func soakWebSocket(ctx context.Context, backend, addr string, rng *rand.Rand) error {
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   func(ctx context.Context, _, addr string) (net.Conn, error) { return soakDial(ctx, backend, addr) },
	}
	ws, _, err := d.DialContext(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.NetConn().SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range 1 + rng.IntN(20) {
		msg := randomBytes(rng.Uint64(), soakSize(rng))
		if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return err
		}
		_, got, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(msg), len(got))
		}
	}
	return ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

// soakReset asks for a big body, reads a random part of it, checks that
// part, and resets the conn (SO_LINGER 0) while the server is writing.
func soakReset(ctx context.Context, backend, addr string, rng *rand.Rand) error {
	c, err := soakDial(ctx, backend, addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	const n = 4 << 20
	seed := rng.Uint64()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /bytes?seed=%d&n=%d HTTP/1.1\r\nHost: soak\r\n\r\n", seed, n); err != nil {
		c.Close()
		return err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		c.Close()
		return err
	}
	part := rng.IntN(256 << 10)
	got := make([]byte, part)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		c.Close()
		return err
	}
	if want := randomBytes(seed, part); !bytes.Equal(got, want) {
		c.Close()
		return fmt.Errorf("the first %d bytes differ at %d", part, firstDiff(got, want))
	}
	type linger interface{ SetLinger(int) error }
	l, ok := c.(linger)
	if !ok {
		c.Close()
		return errors.New("conn has no SetLinger")
	}
	l.SetLinger(0)
	return c.Close()
}
