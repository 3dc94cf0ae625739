package unetexpvar_test

import (
	"context"
	"encoding/json"
	"expvar"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
	_ "github.com/unetio/unet/unet/unetexpvar"
)

// echo serves one conn through backend and sends a message over it, so
// the backend's counters move.
func echo(t *testing.T, backend string) {
	t.Helper()
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		done <- err
	}()
	c, err := (&unet.Dialer{Backend: backend}).Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 4))
	require.NoError(t, err)
	require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
	require.NoError(t, <-done)
}

func TestPublishesStats(t *testing.T) {
	for _, b := range []string{unet.BackendStd, unet.BackendEpoll, unet.BackendURing} {
		t.Run(b, func(t *testing.T) {
			t.Setenv(unet.EnvBackend, b)
			echo(t, b)
			v := expvar.Get("unet")
			require.NotNil(t, v, `the expvar variable "unet" is not published`)
			var st unet.Snapshot
			require.NoError(t, json.Unmarshal([]byte(v.String()), &st))
			require.Equal(t, b, st.Backend)
			if b == unet.BackendStd {
				require.Zero(t, st.Snapshot)
			} else {
				require.Positive(t, st.Accepts)
				require.Positive(t, st.BytesRead)
			}

			// And /debug/vars serves it, which importing expvar mounts.
			rec := httptest.NewRecorder()
			http.DefaultServeMux.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
			require.Equal(t, http.StatusOK, rec.Code)
			var vars struct{ Unet unet.Snapshot }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &vars))
			require.Equal(t, b, vars.Unet.Backend)
		})
	}
}
