package nethttptest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/unetio/unet/unet"
)

// testService implements the interop TestService: payloads are seeded
// random bytes, so either end can check them.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func payload(seed uint64, n int32) *testpb.Payload {
	return &testpb.Payload{Body: randomBytes(seed, int(n))}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{
		Payload:  payload(uint64(len(in.GetPayload().GetBody())), in.ResponseSize),
		Username: sum(in.GetPayload().GetBody()),
	}, nil
}

func (testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	for i, p := range in.ResponseParameters {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(uint64(i), p.Size)}); err != nil {
			return err
		}
	}
	return nil
}

func (testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: in.Payload}); err != nil {
			return err
		}
	}
}

// typedListener records the dynamic types of the accepted conns.
type typedListener struct {
	net.Listener
	mu    sync.Mutex
	types map[string]int
}

func (l *typedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		if l.types == nil {
			l.types = map[string]int{}
		}
		l.types[typeName(c)]++
		l.mu.Unlock()
	}
	return c, err
}

func (l *typedListener) check(t *testing.T, b string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	want := "*unet.Conn"
	if b == "std" {
		want = "*net.TCPConn"
	}
	for typ := range l.types {
		require.Equal(t, want, typ, "server conn type")
	}
	require.NotEmpty(t, l.types, "no conn accepted")
}

type grpcEnv struct {
	srv    *grpc.Server
	health *health.Server
	ln     *typedListener
	cc     *grpc.ClientConn
	served chan error
}

func startGRPC(t *testing.T, b string) *grpcEnv {
	t.Helper()
	e := &grpcEnv{
		srv:    grpc.NewServer(),
		health: health.NewServer(),
		ln:     &typedListener{Listener: listen(t, b, "tcp", "127.0.0.1:0")},
		served: make(chan error, 1),
	}
	healthpb.RegisterHealthServer(e.srv, e.health)
	testpb.RegisterTestServiceServer(e.srv, testService{})
	go func() { e.served <- e.srv.Serve(e.ln) }()
	t.Cleanup(func() {
		e.srv.Stop()
		recv(t, e.served, 10*time.Second, "Serve to return")
	})
	cc, err := grpc.NewClient("passthrough:///"+e.ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&unet.Dialer{Backend: b}).DialContext(ctx, "tcp", addr)
			if err == nil && (b == "std") != (typeName(c) == "*net.TCPConn") {
				c.Close()
				return nil, fmt.Errorf("backend %s dialed a %s", b, typeName(c))
			}
			return c, err
		}))
	require.NoError(t, err)
	e.cc = cc
	t.Cleanup(func() { cc.Close() })
	return e
}

func TestGRPC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := startGRPC(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		hc := healthpb.NewHealthClient(e.cc)
		tc := testpb.NewTestServiceClient(e.cc)

		t.Run("health", func(t *testing.T) {
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.Status)
			_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
			require.Equal(t, codes.NotFound, status.Code(err))
		})
		t.Run("watch", func(t *testing.T) {
			wctx, wcancel := context.WithCancel(ctx)
			defer wcancel()
			e.health.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
			w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{Service: "svc"})
			require.NoError(t, err)
			m, err := w.Recv()
			require.NoError(t, err)
			require.Equal(t, healthpb.HealthCheckResponse_SERVING, m.Status)
			for _, st := range []healthpb.HealthCheckResponse_ServingStatus{
				healthpb.HealthCheckResponse_NOT_SERVING,
				healthpb.HealthCheckResponse_SERVING,
				healthpb.HealthCheckResponse_NOT_SERVING,
			} {
				e.health.SetServingStatus("svc", st)
				m, err := w.Recv()
				require.NoError(t, err)
				require.Equal(t, st, m.Status)
			}
			wcancel()
			_, err = w.Recv()
			require.Equal(t, codes.Canceled, status.Code(err))
		})
		t.Run("unary", func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 10 {
						reqSize := (g*10 + i) * 9973 % (1 << 20)
						respSize := int32((g*10 + i) * 7919 % (2 << 20))
						body := randomBytes(uint64(g*100+i), reqSize)
						resp, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: respSize, Payload: &testpb.Payload{Body: body}})
						if !assertNoError(t, err) {
							return
						}
						if resp.Username != sum(body) {
							t.Errorf("call %d/%d: request payload corrupted", g, i)
						}
						if sum(resp.Payload.Body) != sum(randomBytes(uint64(reqSize), int(respSize))) {
							t.Errorf("call %d/%d: response payload corrupted", g, i)
						}
					}
				})
			}
			wg.Wait()
		})
		t.Run("server-streaming", func(t *testing.T) {
			var params []*testpb.ResponseParameters
			for i := range 100 {
				params = append(params, &testpb.ResponseParameters{Size: int32(i * i * 37 % (512 << 10))})
			}
			st, err := tc.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
			require.NoError(t, err)
			for i, p := range params {
				m, err := st.Recv()
				require.NoError(t, err, "message %d", i)
				require.Equal(t, sum(randomBytes(uint64(i), int(p.Size))), sum(m.Payload.Body), "message %d", i)
			}
			_, err = st.Recv()
			require.Equal(t, io.EOF, err)
		})
		t.Run("bidi", func(t *testing.T) {
			st, err := tc.FullDuplexCall(ctx)
			require.NoError(t, err)
			const n = 200
			go func() {
				for i := range n {
					if st.Send(&testpb.StreamingOutputCallRequest{Payload: payload(uint64(i), int32(i*1013%(128<<10)))}) != nil {
						return
					}
				}
				st.CloseSend()
			}()
			for i := range n {
				m, err := st.Recv()
				require.NoError(t, err, "message %d", i)
				require.Equal(t, sum(randomBytes(uint64(i), i*1013%(128<<10))), sum(m.Payload.Body), "message %d", i)
			}
			_, err = st.Recv()
			require.Equal(t, io.EOF, err)
		})
		e.ln.check(t, b)
	})
}

// TestGRPCGracefulStop: GracefulStop lets an open stream finish, refuses
// new work, then returns.
func TestGRPCGracefulStop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := startGRPC(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tc := testpb.NewTestServiceClient(e.cc)
		st, err := tc.FullDuplexCall(ctx)
		require.NoError(t, err)
		echo := func(i int) {
			t.Helper()
			require.NoError(t, st.Send(&testpb.StreamingOutputCallRequest{Payload: payload(uint64(i), 1000)}))
			m, err := st.Recv()
			require.NoError(t, err)
			require.Equal(t, sum(randomBytes(uint64(i), 1000)), sum(m.Payload.Body))
		}
		echo(0)
		stopped := make(chan struct{})
		go func() {
			e.srv.GracefulStop()
			close(stopped)
		}()
		notYet(t, stopped, 200*time.Millisecond, "GracefulStop with a stream open")
		// The open stream still works.
		for i := 1; i < 20; i++ {
			echo(i)
		}
		// New RPCs fail: the listener is closed and the conn going away.
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		_, err = tc.UnaryCall(rctx, &testpb.SimpleRequest{ResponseSize: 1})
		require.Error(t, err, "RPC accepted during GracefulStop")
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		require.NoError(t, st.CloseSend())
		_, err = st.Recv()
		require.Equal(t, io.EOF, err)
		recv(t, stopped, 10*time.Second, "GracefulStop to return")
		require.NoError(t, recv(t, e.served, 5*time.Second, "Serve"))
		e.served <- nil
	})
}

// TestGRPCStop: Stop ends open streams at once.
func TestGRPCStop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := startGRPC(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tc := testpb.NewTestServiceClient(e.cc)
		st, err := tc.FullDuplexCall(ctx)
		require.NoError(t, err)
		require.NoError(t, st.Send(&testpb.StreamingOutputCallRequest{Payload: payload(1, 10)}))
		_, err = st.Recv()
		require.NoError(t, err)
		start := time.Now()
		e.srv.Stop()
		require.Less(t, time.Since(start), 3*time.Second)
		require.NoError(t, recv(t, e.served, 5*time.Second, "Serve"))
		e.served <- nil
		_, err = st.Recv()
		require.Error(t, err)
		require.NotEqual(t, io.EOF, err, "stream ended cleanly after Stop")
		code := status.Code(err)
		require.True(t, code == codes.Unavailable || code == codes.Canceled || code == codes.Internal, "code %v: %v", code, err)
		require.False(t, errors.Is(err, context.DeadlineExceeded))
	})
}
