package main

// The contract a server must keep for unetbench to measure it, checked
// against every backend's server when it first starts, so a server that
// answers 404s or the wrong sizes fails loudly instead of producing fast,
// meaningless numbers. -server and -server-bin accept any binary that
// keeps it; examples/http is the reference.
//
// Started as:
//
//	<bin> -addr 127.0.0.1:<port> [-file <path>]
//
// with the environment UNET_BACKEND=<backend> (plus a variant's KEY=VALUE
// pairs: uring+UNET_URING_SHARDS=2), GOMAXPROCS=1 when pinned, and
// UNETBENCH_PPROF=1 with -profile. -file is passed only when -file-sizes
// is not empty.
//
// Endpoints:
//
//	GET /debug/vars    200, expvar JSON. Readiness: unetbench polls it until
//	                   it answers. An optional "unet" object carries the
//	                   backend the server really runs ("Backend": "uring")
//	                   and numeric counters; a backend other than the one
//	                   asked for is reported as a silent fallback.
//	GET /              2xx, a 13-byte body (the default points).
//	GET /bytes?n=N     2xx, exactly N body bytes (only with -sizes other than 13).
//	GET /file          2xx/206, the -file, honouring Range (only with -file-sizes).
//	/debug/pprof/      net/http/pprof (only with -profile).
//
// SIGTERM asks for a graceful shutdown; a server not gone after 12 s is
// killed and reported as a hung shutdown.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// contractNeeds is what this run will ask of the server.
type contractNeeds struct {
	sizes []int // response sizes from memory (13 is GET /)
	file  int   // size of -file, 0 when not used
	pprof bool
}

// needs lists what the configured sweep uses.
func (b *bench) needs() contractNeeds {
	n := contractNeeds{file: b.fileSize, pprof: b.cfg.profile}
	for _, p := range b.run.Points {
		if p.Mode == ModeLoad && p.Source == SrcMem {
			n.sizes = append(n.sizes, p.Size)
		}
	}
	if len(n.sizes) == 0 {
		n.sizes = []int{helloSize} // the idle point requests /
	}
	return n
}

// checkContract requests every endpoint the run needs from the server at
// addr and says which one breaks the contract.
func checkContract(ctx context.Context, addr string, n contractNeeds) error {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path, header string, wantLen int, codes ...int) error {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		if header != "" {
			req.Header.Set("Range", header)
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("GET %s: %v", path, err)
		}
		ok := false
		for _, code := range codes {
			ok = ok || resp.StatusCode == code
		}
		if !ok {
			return fmt.Errorf("GET %s: status %s, want %v", path, resp.Status, codes)
		}
		if wantLen >= 0 && len(body) != wantLen {
			return fmt.Errorf("GET %s: %d body bytes, want %d", path, len(body), wantLen)
		}
		return nil
	}
	if err := get("/debug/vars", "", -1, 200); err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, s := range n.sizes {
		if seen[s] {
			continue
		}
		seen[s] = true
		p := Point{Mode: ModeLoad, Size: s, Source: SrcMem}
		if err := get(p.Path(), "", s, 200); err != nil {
			return err
		}
	}
	if n.file > 0 {
		if err := get("/file", "", n.file, 200); err != nil {
			return err
		}
		if n.file > 1 {
			if err := get("/file", "bytes=0-0", 1, 206); err != nil {
				return err
			}
		}
	}
	if n.pprof {
		if err := get("/debug/pprof/", "", -1, 200); err != nil {
			return fmt.Errorf("%v (with -profile the server must serve net/http/pprof when %s)", err, pprofEnv)
		}
	}
	return nil
}
