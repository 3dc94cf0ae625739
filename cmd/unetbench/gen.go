package main

// The built-in load generator: keep-alive HTTP/1.1 over raw TCP, used when
// wrk is not installed so the benchmark works with only Go present. It is
// deliberately minimal (no net/http client): the client's own cost must
// stay small next to the server's, and the parser only needs what the
// example server sends (Content-Length or chunked bodies).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// GenConfig is one run of the built-in generator.
type GenConfig struct {
	Addr        string        `json:"addr"`
	Path        string        `json:"path"`
	Header      string        `json:"header,omitempty"` // one extra request header line, e.g. Range
	Conns       int           `json:"conns"`
	Pipeline    int           `json:"pipeline"` // requests written per batch
	Duration    time.Duration `json:"duration"`
	DialTimeout time.Duration `json:"dial_timeout,omitempty"`
}

// GenResult is what the generator measured.
type GenResult struct {
	Requests   int64   `json:"requests"` // 2xx responses completed in the window
	Seconds    float64 `json:"seconds"`
	Non2xx     int64   `json:"non2xx"`
	ConnErrors int64   `json:"conn_errors"` // dial, read, write and parse failures
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
	MeanUs     float64 `json:"mean_us"`
	MaxUs      float64 `json:"max_us"`
	FirstError string  `json:"first_error,omitempty"`
}

// RunGen drives cfg.Conns keep-alive connections for cfg.Duration. Each
// connection writes Pipeline requests in one write and reads as many
// responses; latency is recorded per response, from the batch's write to
// that response's last byte (so pipelined latencies include queueing behind
// earlier responses, as they would for a real pipelining client).
func RunGen(ctx context.Context, cfg GenConfig) (GenResult, error) {
	if cfg.Conns <= 0 || cfg.Pipeline <= 0 || cfg.Duration <= 0 {
		return GenResult{}, fmt.Errorf("gen: conns, pipeline and duration must be positive")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	req := buildRequests(cfg)
	g := &genRun{cfg: cfg, req: req}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.connLoop(ctx)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := GenResult{
		Requests:   g.ok.Load(),
		Seconds:    elapsed.Seconds(),
		Non2xx:     g.non2xx.Load(),
		ConnErrors: g.connErrs.Load(),
		P50Us:      finite(g.hist.Quantile(0.50) / 1e3),
		P99Us:      finite(g.hist.Quantile(0.99) / 1e3),
		MeanUs:     finite(g.hist.Mean() / 1e3),
		MaxUs:      float64(g.hist.max.Load()) / 1e3,
	}
	if e := g.firstErr.Load(); e != nil {
		res.FirstError = e.(string)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		return res, cause
	}
	return res, nil
}

// buildRequests renders Pipeline copies of the request back to back, so a
// batch is one write, like wrk's pipeline.lua.
func buildRequests(cfg GenConfig) []byte {
	var one bytes.Buffer
	fmt.Fprintf(&one, "GET %s HTTP/1.1\r\nHost: %s\r\n", cfg.Path, cfg.Addr)
	if cfg.Header != "" {
		one.WriteString(cfg.Header + "\r\n")
	}
	one.WriteString("\r\n")
	return bytes.Repeat(one.Bytes(), cfg.Pipeline)
}

// genRun is the shared state of one generator run. Counters and histogram
// are shared atomics rather than per-connection copies: with 10 000
// connections per-connection histograms would cost hundreds of MB, and the
// generator runs with GOMAXPROCS=1 when pinned, so the atomics are
// uncontended.
type genRun struct {
	cfg      GenConfig
	req      []byte
	ok       atomic.Int64
	non2xx   atomic.Int64
	connErrs atomic.Int64
	firstErr atomic.Value
	hist     histogram
}

// connLoop runs one connection until ctx ends, reconnecting after errors
// like wrk does, so one reset does not silently shrink the load.
func (g *genRun) connLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := g.serveConn(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		g.connErrs.Add(1)
		g.firstErr.CompareAndSwap(nil, err.Error())
		// Back off a little so a dead server is not hammered with dials.
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serveConn dials and runs request batches until ctx ends (nil) or the
// connection fails.
func (g *genRun) serveConn(ctx context.Context) error {
	d := net.Dialer{Timeout: g.cfg.DialTimeout}
	c, err := d.DialContext(ctx, "tcp", g.cfg.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// Unblock reads and writes the moment the window ends; responses still
	// in flight are not counted, as in wrk.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// 4 KB per connection keeps 10 000 connections cheap; bodies are
	// discarded through it without being buffered whole.
	br := bufio.NewReaderSize(c, 4096)
	for ctx.Err() == nil {
		t0 := time.Now()
		if _, err := c.Write(g.req); err != nil {
			return g.quiet(ctx, err)
		}
		for i := 0; i < g.cfg.Pipeline; i++ {
			status, closeConn, err := readResponse(br)
			if err != nil {
				return g.quiet(ctx, err)
			}
			if ctx.Err() != nil {
				return nil // finished after the window: not counted
			}
			g.hist.Record(time.Since(t0).Nanoseconds())
			if status >= 200 && status < 300 {
				g.ok.Add(1)
			} else {
				g.non2xx.Add(1)
			}
			if closeConn {
				return errors.New("server sent Connection: close")
			}
		}
	}
	return nil
}

// quiet hides errors caused by the end of the window.
func (g *genRun) quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// errMalformed reports a response the minimal parser cannot read.
var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response and discards its body. It
// understands Content-Length and chunked bodies, and bodiless statuses; a
// response delimited by closing the connection is an error (net/http never
// sends one on a keep-alive connection).
func readResponse(br *bufio.Reader) (status int, closeConn bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errMalformed
	}
	length := int64(-1)
	chunked := false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return 0, false, errMalformed
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeConn = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return status, closeConn, nil
	case chunked:
		return status, closeConn, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return status, closeConn, err
	default:
		return status, closeConn, fmt.Errorf("%w: no Content-Length and not chunked", errMalformed)
	}
}

// discardChunked skips a chunked body including its trailer section.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			for { // trailers end with an empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil { // data + CRLF
			return err
		}
	}
}

// histogram is an HDR-style log-linear histogram of nanosecond values:
// 64 linear sub-buckets per power of two, so any quantile is within about
// 1.6% of the true value, in fixed memory (about 30 KB) however many
// samples there are.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + 2*histSub
)

// histIndex maps a value to its bucket: values below 128 exactly, above
// that 64 buckets per doubling.
func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1)
	if shift <= 0 {
		return int(v)
	}
	return shift*histSub + int(uint64(v)>>uint(shift))
}

// histValue is the middle of bucket i, the value a quantile reports.
func histValue(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	shift := i/histSub - 1
	m := i - shift*histSub
	lo := float64(uint64(m) << uint(shift))
	return lo + float64(uint64(1)<<uint(shift))/2
}

// Record adds one value.
func (h *histogram) Record(v int64) {
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(max(v, 0)))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Quantile returns the value below which a fraction q of samples fall
// (NaN with no samples).
func (h *histogram) Quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return histValue(i)
		}
	}
	return float64(h.max.Load())
}

// Mean returns the mean value (NaN with no samples).
func (h *histogram) Mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return math.NaN()
	}
	return float64(h.sum.Load()) / float64(n)
}

// finite turns NaN (no samples) into 0, because encoding/json refuses NaN
// and the parent reads the result as JSON; Requests == 0 says "no data".
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
