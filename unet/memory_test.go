package unet_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The memory tests hold what a backend keeps in the process for data the
// application has not read against std, where unread data stays in the
// kernel's socket buffers (bounded by SO_RCVBUF, pushing back on the
// sender). Each scenario runs in a fresh process per backend, so that one
// backend's pools do not show in another's numbers.

// memScenario is one load that leaves data unread.
type memScenario struct {
	Name  string
	Conns int
	// Each client sends Size bytes in writes of Chunk bytes.
	Size, Chunk int
	// The server Reads once with a buffer of ReadSize, then stops reading.
	ReadSize int
	// SockBuf, if set, is the server's SetReadBuffer and the client's
	// SetWriteBuffer, so that the sender blocks soon.
	SockBuf int
}

var memScenarios = []memScenario{
	{Name: "slow readers", Conns: 8, Size: 32 << 20, Chunk: 256 << 10, ReadSize: 32 << 10},
	{Name: "many conns", Conns: 1500, Size: 64 << 10, Chunk: 64 << 10, ReadSize: 32 << 10},
	{Name: "large unread", Conns: 256, Size: 1 << 20, Chunk: 256 << 10, ReadSize: 4 << 10},
	{Name: "byte per segment", Conns: 4, Size: 8 << 10, Chunk: 1, ReadSize: 64 << 10},
	{Name: "small buffers", Conns: 4, Size: 1 << 20, Chunk: 64 << 10, ReadSize: 32 << 10, SockBuf: 8 << 10},
}

// memResult is what a child process measured.
type memResult struct {
	RSSDelta int64 // bytes of resident memory the unread data cost
	Sent     int64 // bytes the clients got into the connection before blocking
}

const memChildEnv = "UNET_TEST_MEM_CHILD"

// TestReadAheadMemory: for every scenario, what a backend holds for unread
// data stays within 2x std's + 32 MiB, and the senders are pushed back as
// on std (at most 64 KiB more per conn got through).
func TestReadAheadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a process per backend and scenario")
	}
	for _, sc := range memScenarios {
		t.Run(sc.Name, func(t *testing.T) {
			std := runMemChild(t, "std", sc)
			for _, b := range backends[1:] {
				got := runMemChild(t, b, sc)
				t.Logf("%s: RSS +%.1f MiB (std +%.1f MiB); sent %d KiB (std %d KiB)", b,
					float64(got.RSSDelta)/(1<<20), float64(std.RSSDelta)/(1<<20), got.Sent>>10, std.Sent>>10)
				require.LessOrEqual(t, got.RSSDelta, 2*max(std.RSSDelta, 0)+32<<20,
					"%s holds too much for unread data", b)
				require.LessOrEqual(t, got.Sent, std.Sent+int64(sc.Conns)*64<<10,
					"%s lets senders push far more than std", b)
			}
		})
	}
}

func runMemChild(t *testing.T, backend string, sc memScenario) memResult {
	t.Helper()
	spec, err := json.Marshal(sc)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadAheadMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), memChildEnv+"="+backend+"|"+string(spec))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child %s %s:\n%s", backend, sc.Name, out)
	for line := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "memresult "); ok {
			var r memResult
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			return r
		}
	}
	t.Fatalf("child %s %s printed no result:\n%s", backend, sc.Name, out)
	return memResult{}
}

// TestReadAheadMemoryChild runs one scenario on one backend when the
// parent asks for it through the environment.
func TestReadAheadMemoryChild(t *testing.T) {
	arg := os.Getenv(memChildEnv)
	if arg == "" {
		t.Skip("run by TestReadAheadMemory")
	}
	backend, spec, _ := strings.Cut(arg, "|")
	var sc memScenario
	require.NoError(t, json.Unmarshal([]byte(spec), &sc))

	ln := listen(t, backend, "tcp", "127.0.0.1:0")
	payload := bytes.Repeat([]byte("unread data "), sc.Chunk/12+1)[:sc.Chunk]
	before := settledRSS(t)

	servers := make([]net.Conn, 0, sc.Conns)
	clients := make([]net.Conn, 0, sc.Conns)
	for range sc.Conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		clients = append(clients, c)
		s, err := ln.Accept()
		require.NoError(t, err)
		if sc.SockBuf > 0 {
			require.NoError(t, asTCP(t, s).SetReadBuffer(sc.SockBuf))
			require.NoError(t, asTCP(t, c).SetWriteBuffer(sc.SockBuf))
		}
		servers = append(servers, s)
	}
	defer func() {
		for i := range servers {
			servers[i].Close()
			clients[i].Close()
		}
	}()

	// Every client sends what it can within a second; every server reads
	// once, as a slow handler would, and then reads no more.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int64
	for i, c := range clients {
		wg.Go(func() {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			var n int64
			for n < int64(sc.Size) {
				w, err := c.Write(payload[:min(len(payload), sc.Size-int(n))])
				n += int64(w)
				if err != nil {
					break
				}
			}
			mu.Lock()
			sent += n
			mu.Unlock()
		})
		wg.Go(func() {
			buf := make([]byte, sc.ReadSize)
			servers[i].SetReadDeadline(time.Now().Add(5 * time.Second))
			servers[i].Read(buf)
		})
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // what was armed has arrived
	after := settledRSS(t)
	r := memResult{RSSDelta: after - before, Sent: sent}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	fmt.Printf("memresult %s\n", b)

	// Nothing is stalled or lost: each conn still reads its bytes.
	for i, s := range servers[:min(len(servers), 8)] {
		clients[i].Close()
		s.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.Copy(io.Discard, s)
		require.NoError(t, err)
	}
}

// settledRSS returns the process's resident memory after a full GC.
func settledRSS(t testing.TB) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
