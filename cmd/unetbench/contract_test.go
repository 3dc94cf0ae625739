package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// contractServer is a server keeping the contract, with one endpoint
// broken on request.
func contractServer(t *testing.T, file string, broken string) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		if broken == "vars" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"unet":{"Backend":"std"}}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("Hello, World!"))
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if broken == "bytes" {
			n--
		}
		w.Write([]byte(strings.Repeat("a", n)))
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) })
	if broken != "pprof" {
		mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCheckContract(t *testing.T) {
	file := filepath.Join(t.TempDir(), "payload.bin")
	require.NoError(t, writePayload(file, 4096))
	all := contractNeeds{sizes: []int{13, 4096, 13}, file: 4096, pprof: true}
	ctx := context.Background()
	require.NoError(t, checkContract(ctx, contractServer(t, file, ""), all))

	for _, tc := range []struct{ broken, want string }{
		{"vars", "GET /debug/vars: status 404"},
		{"bytes", "GET /bytes?n=4096: 4095 body bytes, want 4096"},
		{"pprof", "UNETBENCH_PPROF=1"},
	} {
		err := checkContract(ctx, contractServer(t, file, tc.broken), all)
		require.ErrorContains(t, err, tc.want, tc.broken)
	}
	// What the run does not use is not asked for.
	require.NoError(t, checkContract(ctx, contractServer(t, file, "pprof"), contractNeeds{sizes: []int{13}}))
	// A file of another size than the run's is a broken contract.
	err := checkContract(ctx, contractServer(t, file, ""), contractNeeds{sizes: []int{13}, file: 8192})
	require.ErrorContains(t, err, "GET /file: 4096 body bytes, want 8192")
	// Nothing listening.
	require.Error(t, checkContract(ctx, "127.0.0.1:1", all))
}

// examples/http, the reference server, keeps the contract with every
// endpoint, reports its backend, serves pprof only when asked and shuts
// down cleanly on SIGTERM.
func TestExampleServerKeepsContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/http")
	}
	ctx := context.Background()
	root, err := moduleRoot(ctx)
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	require.NoError(t, buildServer(ctx, root, "./examples/http", bin))
	file := filepath.Join(dir, "payload.bin")
	require.NoError(t, writePayload(file, 65536))

	for _, pprof := range []bool{false, true} {
		opts := ServerOpts{Bin: bin, File: file, Logs: dir}
		if pprof {
			opts.Env = []string{pprofEnv}
		}
		s, err := startServer(ctx, opts, "std+UNET_AA=1")
		require.NoError(t, err)
		require.Equal(t, "std", s.Reported, "the backend comes from /debug/vars")
		err = checkContract(ctx, s.Addr, contractNeeds{sizes: []int{13, 4096, 1 << 20}, file: 65536, pprof: true})
		if pprof {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, "GET /debug/pprof/: status 404", "the default example serves no profiler")
		}
		require.Contains(t, s.Stop(12*time.Second), "clean exit")
	}
	log, err := os.ReadFile(filepath.Join(dir, "server-std+UNET_AA=1.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "with backend std")
}
