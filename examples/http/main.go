// Command http is a plain net/http server whose only difference from a
// standard one is unet.Listen. Pick the backend with UNET_BACKEND:
//
//	UNET_BACKEND=uring go run ./examples/http
//
// GET / answers which backend served it; /debug/vars shows unet's
// counters; /file serves a file through the io.ReaderFrom path. With
// UNETBENCH_PPROF=1 (set by unetbench -profile) it also serves
// /debug/pprof/.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof" // registers on DefaultServeMux; served only with UNETBENCH_PPROF=1
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/unetio/unet/unet"
	_ "github.com/unetio/unet/unet/unetexpvar" // unet's counters at /debug/vars
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	file := flag.String("file", "", "file served at /file (benchmarks use it for the sendfile path)")
	flag.Parse()

	ln, err := unet.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	backend := unet.Backend()
	log.Printf("listening on %s with backend %s", ln.Addr(), backend)

	hello := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Unet-Backend", backend)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	mux.HandleFunc("/backend", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served by unet backend %s\n", backend)
	})
	// /bytes?n=N answers N bytes from memory, for payload sweeps.
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > len(payload) {
			http.Error(w, "n must be 0 to 1048576", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(payload[:n])
	})
	if *file != "" {
		mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, *file) })
	}
	mux.Handle("/debug/vars", http.DefaultServeMux)
	if os.Getenv("UNETBENCH_PPROF") != "" {
		mux.Handle("/debug/pprof/", http.DefaultServeMux)
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	// Cleartext HTTP/2 (h2c) as well as HTTP/1.1, so that h2load can
	// measure HTTP/2 without TLS in the way.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Print("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
