package nethttptest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/unetio/unet/unet"
)

// TestWebSocketEcho upgrades through Hijack and echoes many messages of
// random sizes while the server pings concurrently with its reads.
func TestWebSocketEcho(t *testing.T) {
	messages := 300
	if testing.Short() {
		messages = 100
	}
	if *soak {
		messages = 5000
	}
	forEachBackend(t, func(t *testing.T, b string) {
		var pongs atomic.Int64
		serverDone := make(chan error, 1)
		upgrader := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
		s := startServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				serverDone <- err
				return
			}
			defer ws.Close()
			ws.SetPongHandler(func(string) error { pongs.Add(1); return nil })
			// Pings from another goroutine while this one reads: gorilla
			// allows WriteControl concurrently with everything.
			stop := make(chan struct{})
			var pw sync.WaitGroup
			pw.Go(func() {
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
						if err := ws.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "ping %d", i), time.Now().Add(5*time.Second)); err != nil {
							return
						}
					}
				}
			})
			defer func() { close(stop); pw.Wait() }()
			var werr error
			for {
				typ, msg, err := ws.ReadMessage()
				if err != nil {
					if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
						serverDone <- werr
					} else {
						serverDone <- fmt.Errorf("server read: %w", err)
					}
					return
				}
				if werr == nil {
					werr = ws.WriteMessage(typ, msg)
				}
			}
		}), nil)

		for _, dialBackend := range []string{"", b} {
			name := "std-client"
			if dialBackend != "" {
				name = "unet-client"
			}
			t.Run(name, func(t *testing.T) {
				pongs.Store(0)
				d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
				if dialBackend != "" {
					d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
						return (&unet.Dialer{Backend: dialBackend}).DialContext(ctx, network, addr)
					}
				}
				ws, resp, err := d.Dial("ws://"+s.Addr+"/ws", nil)
				require.NoError(t, err)
				defer ws.Close()
				require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
				var pings atomic.Int64
				ws.SetPingHandler(func(data string) error {
					if !strings.HasPrefix(data, "ping ") {
						return fmt.Errorf("bad ping %q", data)
					}
					pings.Add(1)
					err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
					if err == websocket.ErrCloseSent {
						return nil // a ping that crossed our close frame
					}
					return err
				})
				ws.SetReadDeadline(time.Now().Add(60 * time.Second))
				rng := rand.New(rand.NewPCG(uint64(len(name)), 9))
				// Writer and reader run at once, a window of messages apart.
				sizes := make([]int, messages)
				for i := range sizes {
					switch rng.IntN(4) {
					case 0:
						sizes[i] = rng.IntN(16)
					case 1, 2:
						sizes[i] = rng.IntN(4 << 10)
					default:
						sizes[i] = rng.IntN(256 << 10)
					}
				}
				msg := func(i int) []byte { return randomBytes(uint64(i)+1e6, sizes[i]) }
				werr := make(chan error, 1)
				go func() {
					for i := range messages {
						typ := websocket.BinaryMessage
						if i%5 == 0 {
							typ = websocket.TextMessage
						}
						m := msg(i)
						if typ == websocket.TextMessage {
							m = bytes.ToValidUTF8(bytes.Map(func(r rune) rune { return 'a' + r%26 }, m), nil)
						}
						if err := ws.WriteMessage(typ, m); err != nil {
							werr <- err
							return
						}
					}
					werr <- nil
				}()
				for i := range messages {
					typ, got, err := ws.ReadMessage()
					require.NoError(t, err, "message %d", i)
					want := msg(i)
					wantTyp := websocket.BinaryMessage
					if i%5 == 0 {
						wantTyp = websocket.TextMessage
						want = bytes.ToValidUTF8(bytes.Map(func(r rune) rune { return 'a' + r%26 }, want), nil)
					}
					require.Equal(t, wantTyp, typ, "message %d type", i)
					require.True(t, bytes.Equal(want, got), "message %d (%d bytes) differs", i, len(want))
				}
				require.NoError(t, recv(t, werr, 30*time.Second, "client writer"))
				// The server's close frame answers ours; don't answer it again.
				ws.SetCloseHandler(func(int, string) error { return nil })
				require.NoError(t, ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")))
				// Read until the server's close frame comes back.
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						require.True(t, websocket.IsCloseError(err, websocket.CloseNormalClosure), "close: %v", err)
						break
					}
				}
				require.NoError(t, recv(t, serverDone, 10*time.Second, "server handler"))
				require.NotZero(t, pings.Load(), "client saw no ping")
				require.NotZero(t, pongs.Load(), "server saw no pong")
				t.Logf("%d pings, %d pongs", pings.Load(), pongs.Load())
			})
		}
	})
}
