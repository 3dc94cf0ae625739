package nethttptest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestDescriptorFlood floods a server, running in a child process with a
// low RLIMIT_NOFILE, with more conns than it has descriptors: Accept fails
// with EMFILE, which http.Server must take as temporary, and once the
// flood is gone the server serves again.
func TestDescriptorFlood(t *testing.T) {
	if b := os.Getenv("NETHTTP_FLOOD_CHILD"); b != "" {
		floodChild(t, b)
		return
	}
	forEachBackend(t, func(t *testing.T, b string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDescriptorFlood$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NETHTTP_FLOOD_CHILD="+b)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr syncBuffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		var out syncBuffer
		addrCh := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				out.Write([]byte(line + "\n"))
				if a, ok := strings.CutPrefix(line, "ADDR "); ok {
					addrCh <- a
				}
			}
			exited <- cmd.Wait()
		}()
		defer func() {
			stdin.Close()
			select {
			case err := <-exited:
				require.NoError(t, err, "child failed\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Errorf("child did not exit\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
			}
			require.Contains(t, out.String(), "FLOOD-CHILD-OK")
		}()
		var addr string
		select {
		case addr = <-addrCh:
		case <-time.After(30 * time.Second):
			t.Fatalf("child did not start\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		}

		// The flood: far more conns than the child has descriptors.
		var flood []net.Conn
		defer func() {
			for _, c := range flood {
				c.Close()
			}
		}()
		for range 200 {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			flood = append(flood, c)
		}
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "too many open files") },
			10*time.Second, 10*time.Millisecond, "the server never ran out of descriptors\n%s", stderr.String())
		for _, c := range flood {
			c.Close()
		}
		flood = nil

		// The server serves again.
		c := client(t, "", nil)
		for i := range 5 {
			status, body := get(t, c, fmt.Sprintf("http://%s/after/%d", addr, i))
			require.Equal(t, 200, status)
			require.Equal(t, fmt.Sprintf("path=/after/%d", i), string(body))
		}
	})
}

func floodChild(t *testing.T, b string) {
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	lim.Cur = uint64(countFDs() + 40)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	ln := listen(t, b, "tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(echoInfo), ErrorLog: log.New(os.Stderr, "", 0)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent is done
	require.NoError(t, srv.Close())
	require.ErrorIs(t, <-done, http.ErrServerClosed)
	fmt.Println("FLOOD-CHILD-OK")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
