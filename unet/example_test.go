//go:build linux

package unet_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/unetio/unet/unet"
)

// get fetches url with a client of its own and returns the body.
func get(url string) string {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return string(body)
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, "hello from unet")
})

// A server changes one line: net.Listen becomes unet.Listen. The backend
// comes from UNET_BACKEND (auto by default).
func ExampleListen() {
	ln, err := unet.Listen("tcp", "127.0.0.1:0") // was: net.Listen
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, hello)

	fmt.Println(get("http://" + ln.Addr().String() + "/"))
	// Output: hello from unet
}

// A ListenConfig picks the backend of one listener, whatever UNET_BACKEND
// says. On uring and epoll the listener is a *unet.Listener, which tells
// the backend that serves it.
func ExampleListenConfig() {
	lc := unet.ListenConfig{Backend: unet.BackendEpoll}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err) // on systems other than Linux: epoll needs Linux
	}
	defer ln.Close()
	if l, ok := ln.(*unet.Listener); ok {
		fmt.Println("served by", l.Backend())
	}
	// Output: served by epoll
}

// A unet.Dialer plugs into http.Transport, so an HTTP client's
// connections run on the backend too.
func ExampleDialer() {
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, hello)

	dialer := &unet.Dialer{Timeout: 5 * time.Second, Backend: unet.BackendURing}
	tr := &http.Transport{DialContext: dialer.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello from unet
}

// gRPC serves on a unet listener as on any net.Listener, and its client
// dials through unet with grpc.WithContextDialer.
func ExampleDialer_grpc() {
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	dialer := &unet.Dialer{}
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	// Output: SERVING
}

// Under systemd socket activation the listening socket arrives as
// descriptor 3 (LISTEN_FDS=1): f := os.NewFile(3, "http.socket"). Here a
// socket that net created stands in for it.
func ExampleFileListener() {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	f, err := nl.(*net.TCPListener).File()
	if err != nil {
		log.Fatal(err)
	}
	nl.Close()

	ln, err := unet.FileListener(f)
	if err != nil {
		log.Fatal(err)
	}
	f.Close() // the listener has its own copy
	defer ln.Close()
	go http.Serve(ln, hello)

	fmt.Println(get("http://" + ln.Addr().String() + "/"))
	// Output: hello from unet
}

// A listener made elsewhere, here by net.Listen, moves onto a backend with
// its address and backlog; the original is closed.
func ExampleListenConfig_NewListener() {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	lc := unet.ListenConfig{Backend: unet.BackendURing}
	ln, err := lc.NewListener(nl)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, hello)

	fmt.Println(ln.Addr().String() == nl.Addr().String(), get("http://"+ln.Addr().String()+"/"))
	// Output: true hello from unet
}

// Stats reads the counters of the backend in force without starting
// anything. Import github.com/unetio/unet/unet/unetexpvar to serve them
// at /debug/vars as well.
func ExampleStats() {
	st := unet.Stats()
	fmt.Printf("%s: %d accepts, %d reads, %d system calls, %d parks\n",
		st.Backend, st.Accepts, st.Reads, st.Syscalls(), st.Parks)
}

// SetLogger sends unet's few log lines, which say which backend serves
// and why auto fell back, to a logger of the program's own.
func ExampleSetLogger() {
	unet.SetLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "unet"))
}
