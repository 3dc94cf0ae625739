package unet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	unetrt "github.com/unetio/unet/runtime"
)

// FuzzConnOps is a differential fuzz target: the input decodes into a
// program of at most fuzzMaxSteps operations on a connected pair (client,
// server), over tcp or a unix stream socket as the input's first byte
// says, and the same program runs on a std pair, which is the reference,
// and on a uring and an epoll pair. Every world checks on its own that
// each direction received a prefix of what its writer reported written,
// byte for byte (and all of it when the reader saw a clean EOF), and that
// raw I/O never called its function on a closed conn or after its
// deadline passed; then each unet world is compared with std step by step.
//
// The operations: Write, Read (until every byte in flight is read),
// ReadSome (Reads of at most a given number of bytes in all), Read and
// Write at once, raw reads and raw writes through SyscallConn (a read(2)
// or write(2) loop that gives up on EAGAIN, as drivers write them),
// read and write deadlines, CloseRead, CloseWrite, Close, and the
// keep-alive setters of *net.TCPConn, each followed by the four
// keep-alive socket options read back (skipped over unix, where net's
// conn has no such methods).
//
// What is compared is what does not depend on timing: the CLASS of each
// step's error (nil, timeout, closed, EOF, reset, other, or "blocked" when
// the harness had to unblock an operation that would have waited forever),
// with net's Op, and the number of bytes each step moved. Segmentation of
// the stream over Reads is not compared: a Read step reads until it has
// every byte the peer's completed Writes put in flight, or the first error.
//
// Timing enters in a few places, and the comparison knows each:
//   - a deadline set 20ms ahead may or may not have passed when a later
//     step runs: such a step is "loose" and a timeout on either side is
//     accepted for any outcome;
//   - a Write that would fill the socket buffers: past a fixed number of
//     bytes in flight the harness drains the peer while it writes, until
//     the peer has read everything, so that all worlds agree on what is
//     still in flight; if nobody can drain the peer (closed, or shut for
//     reading) it ends the Write with a past deadline, and whether the
//     bytes fit is the kernel's accounting: "blocked" equals nil;
//   - after CloseRead, read(2) returns 0 whenever the receive queue is
//     empty at that instant, though data may still arrive: EOF equals data;
//   - a reset is reported once, to whichever of a concurrent Read and
//     Write reaches the socket first;
//   - a Write towards a closed peer races the reset its data provokes:
//     the reset is accepted in place of std's completing;
//   - once a step's outcome differed in a tolerated way, the worlds no
//     longer hold the same bytes in flight: the rest of the program is only
//     checked for the per-world invariants.
//
// knownDivergence lists the differences of unet from std that are inherent
// and tolerated here, so that fuzzing can find new ones;
// UNET_FUZZ_STRICT=1 turns the tolerance off.
//
// Run the seeds with `go test -run FuzzConnOps ./unet/`, fuzz with
// `go test -run '^$' -fuzz FuzzConnOps -fuzztime 3000x ./unet/` (a count:
// Go 1.26's coordinator races its own deadline with -fuzztime durations).
// UNET_FUZZ_TRACE=1 logs every world's trace. UNET_FUZZ_WRITE_SEEDS=1
// (re)writes the seeds below into testdata/fuzz/FuzzConnOps.
func FuzzConnOps(f *testing.F) {
	seeds := fuzzSeeds()
	for _, s := range seeds {
		f.Add(s.prog)
	}
	if os.Getenv("UNET_FUZZ_WRITE_SEEDS") != "" {
		dir := filepath.Join("testdata", "fuzz", "FuzzConnOps")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			f.Fatal(err)
		}
		for _, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.prog)
			if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(body), 0o644); err != nil {
				f.Fatal(err)
			}
		}
	}
	trace := os.Getenv("UNET_FUZZ_TRACE") != ""
	f.Fuzz(func(t *testing.T, data []byte) {
		network, prog := decodeProgram(data)
		checkFDs(t)
		worlds := make([]*world, len(backends))
		for i, b := range backends {
			worlds[i] = newWorld(t, b, network)
		}
		var wg sync.WaitGroup
		for _, w := range worlds {
			wg.Go(func() { w.run(prog) })
		}
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			// Every wait of the harness is bounded: an operation of a
			// backend does not return.
			buf := make([]byte, 8<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("the program did not finish within 60s\nprogram:\n%s\n%s", formatProgram(network, prog), buf)
		}
		var ref *world
		for _, w := range worlds {
			if w.backend == "std" {
				ref = w
			}
		}
		for _, w := range worlds {
			if trace {
				t.Logf("%s", w.dump(prog))
			}
			for _, msg := range w.violations {
				t.Errorf("backend %s: %s\nprogram:\n%s\n%s", w.backend, msg, formatProgram(network, prog), w.dump(prog))
			}
			if w == ref {
				continue
			}
			if msg := compareWorlds(ref, w, prog); msg != "" {
				t.Errorf("backend %s differs from std: %s\nprogram:\n%s\n%s\n%s", w.backend, msg, formatProgram(network, prog), ref.dump(prog), w.dump(prog))
			}
		}
	})
}

// The program.

const fuzzMaxSteps = 24

type fuzzOp uint8

const (
	fopWrite fuzzOp = iota
	fopRead
	fopSetReadDeadline
	fopSetWriteDeadline
	fopCloseWrite
	fopCloseRead
	fopClose
	fopReadWrite // a Read and a Write on the same conn at once
	fopReadSome  // Reads of at most size bytes in all: leaves the rest in flight
	fopRawRead   // as fopReadSome, through SyscallConn().Read
	fopRawWrite  // as fopWrite, through SyscallConn().Write
	fopKeepAlive // a keep-alive setting, then the socket's keep-alive options
	// fopRawReadWrite is fopReadWrite through SyscallConn: a raw read
	// must not be stranded by a raw write waiting for room meanwhile.
	fopRawReadWrite
	fuzzNumOps
)

var fuzzOpNames = [...]string{"Write", "Read", "SetReadDeadline", "SetWriteDeadline", "CloseWrite", "CloseRead", "Close", "Read+Write",
	"ReadSome", "RawRead", "RawWrite", "KeepAlive", "RawRead+RawWrite"}

type dlKind uint8

const (
	dlPast dlKind = iota
	dlFuture
	dlZero
)

var dlNames = [...]string{"past", "+20ms", "zero"}

// fuzzFuture is how far ahead a "future" deadline is set.
const fuzzFuture = 20 * time.Millisecond

type step struct {
	op   fuzzOp
	side int // 0 client, 1 server: the conn the op is called on
	n    int // bytes to write
	size int // read buffer
	dl   dlKind
	ka   kaAction // fopKeepAlive
}

var sideNames = [...]string{"client", "server"}

func (s step) String() string {
	name := sideNames[s.side] + "." + fuzzOpNames[s.op]
	switch s.op {
	case fopWrite:
		return fmt.Sprintf("%s(%d)", name, s.n)
	case fopRead:
		return fmt.Sprintf("%s(buf %d)", name, s.size)
	case fopReadSome, fopRawRead:
		return fmt.Sprintf("%s(%d)", name, s.size)
	case fopRawWrite:
		return fmt.Sprintf("%s(%d)", name, s.n)
	case fopKeepAlive:
		return fmt.Sprintf("%s.%v", sideNames[s.side], s.ka)
	case fopSetReadDeadline, fopSetWriteDeadline:
		return fmt.Sprintf("%s(%s)", name, dlNames[s.dl])
	case fopReadWrite, fopRawReadWrite:
		return fmt.Sprintf("%s(buf %d, write %d)", name, s.size, s.n)
	}
	return name + "()"
}

func formatProgram(network string, prog []step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  network %s\n", network)
	for i, s := range prog {
		fmt.Fprintf(&b, "  %2d %v\n", i, s)
	}
	return b.String()
}

// decodeProgram decodes the network from the first byte (its low bit:
// tcp over 127.0.0.1, or a unix stream socket), then turns every 3 bytes
// (op, x, y) into a step: the low seven bits of op choose the operation
// (modulo the number of operations) and its top bit the side.
func decodeProgram(b []byte) (network string, prog []step) {
	network = "tcp"
	if len(b) > 0 {
		if b[0]&1 != 0 {
			network = "unix"
		}
		b = b[1:]
	}
	for len(b) >= 3 && len(prog) < fuzzMaxSteps {
		c, x, y := b[0], b[1], b[2]
		b = b[3:]
		s := step{op: fuzzOp((c & 0x7f) % uint8(fuzzNumOps)), side: int(c >> 7)}
		switch s.op {
		case fopWrite, fopRawWrite:
			s.n = decodeWriteSize(x, y)
		case fopRead, fopReadSome, fopRawRead:
			s.size = 1 + (int(x)<<8 | int(y)) // 1..65536
		case fopSetReadDeadline, fopSetWriteDeadline:
			s.dl = dlKind(x % 3)
		case fopReadWrite, fopRawReadWrite:
			s.size = 1 + int(x)*257 // 1..65536
			s.n = int(y) << 10      // 0..255 KiB
		case fopKeepAlive:
			s.ka = decodeKeepAlive(x, y)
		}
		prog = append(prog, s)
	}
	return network, prog
}

// decodeWriteSize spreads sizes over 0..256 KiB: the top two bits of x
// pick the scale.
func decodeWriteSize(x, y byte) int {
	v := int(x&63)<<8 | int(y)
	switch x >> 6 {
	case 0:
		return int(y) // 0..255
	case 1:
		return v // ..16 KiB
	case 2:
		return v * 4 // ..64 KiB
	}
	return (v + 1) * 16 // ..256 KiB
}

// The encoders build seeds readably.

func opByte(op fuzzOp, side int) byte { return byte(op) | byte(side)<<7 }

func sW(side, n int) []byte   { return writeStep(fopWrite, side, n) }
func sRWr(side, n int) []byte { return writeStep(fopRawWrite, side, n) }

func writeStep(op fuzzOp, side, n int) []byte {
	var x, y byte
	switch {
	case n < 256:
		x, y = 0, byte(n)
	case n < 1<<14:
		x, y = 1<<6|byte(n>>8), byte(n)
	case n < 1<<16 && n%4 == 0:
		x, y = 2<<6|byte(n/4>>8), byte(n/4)
	case n <= 256<<10 && n%16 == 0 && n > 0:
		v := n/16 - 1
		x, y = 3<<6|byte(v>>8), byte(v)
	default:
		panic(fmt.Sprintf("write size %d cannot be encoded", n))
	}
	return []byte{opByte(op, side), x, y}
}

func sR(side, size int) []byte   { return readStep(fopRead, side, size) }
func sRS(side, size int) []byte  { return readStep(fopReadSome, side, size) }
func sRRd(side, size int) []byte { return readStep(fopRawRead, side, size) }

func readStep(op fuzzOp, side, size int) []byte {
	v := size - 1
	return []byte{opByte(op, side), byte(v >> 8), byte(v)}
}

func sRD(side int, dl dlKind) []byte { return []byte{opByte(fopSetReadDeadline, side), byte(dl), 0} }
func sWD(side int, dl dlKind) []byte { return []byte{opByte(fopSetWriteDeadline, side), byte(dl), 0} }
func sCW(side int) []byte            { return []byte{opByte(fopCloseWrite, side), 0, 0} }
func sCR(side int) []byte            { return []byte{opByte(fopCloseRead, side), 0, 0} }
func sCL(side int) []byte            { return []byte{opByte(fopClose, side), 0, 0} }

// sRW reads with a buffer of about bufKiB KiB while writing writeKiB KiB.
func sRW(side, bufKiB, writeKiB int) []byte {
	return []byte{opByte(fopReadWrite, side), byte(bufKiB * 1024 / 257), byte(writeKiB)}
}

// sRRW is sRW through SyscallConn.
func sRRW(side, bufKiB, writeKiB int) []byte {
	return []byte{opByte(fopRawReadWrite, side), byte(bufKiB * 1024 / 257), byte(writeKiB)}
}

// prog is a program over tcp, unixProg one over a unix stream socket.
func prog(steps ...[]byte) []byte     { return append([]byte{0}, bytes.Join(steps, nil)...) }
func unixProg(steps ...[]byte) []byte { return append([]byte{1}, bytes.Join(steps, nil)...) }

type fuzzSeed struct {
	name string
	prog []byte
}

const (
	cli = 0
	srv = 1
)

func fuzzSeeds() []fuzzSeed {
	return []fuzzSeed{
		{"echo", prog(sW(cli, 100), sR(srv, 4096), sW(srv, 5000), sR(cli, 1), sR(cli, 65536))},
		{"big-writes-drained", prog(sW(cli, 256<<10), sR(srv, 65536), sW(cli, 200<<10), sW(cli, 256<<10), sW(srv, 64<<10), sR(cli, 1000))},
		{"past-read-deadline-with-data", prog(sW(cli, 10), sRD(srv, dlPast), sR(srv, 10), sR(srv, 10), sRD(srv, dlZero), sR(srv, 10))},
		{"past-write-deadline-big-write", prog(sWD(cli, dlPast), sW(cli, 256<<10), sW(cli, 0), sWD(cli, dlZero), sW(cli, 1), sR(srv, 10))},
		{"future-read-deadline", prog(sRD(srv, dlFuture), sR(srv, 100), sW(cli, 5), sR(srv, 5), sRD(srv, dlZero), sR(srv, 5))},
		{"future-write-deadline-full-buffers", prog(sWD(cli, dlFuture), sW(cli, 256<<10), sW(cli, 256<<10), sWD(cli, dlZero), sW(cli, 1), sR(srv, 65536))},
		{"close-write", prog(sW(cli, 1000), sCW(cli), sR(srv, 65536), sR(srv, 1), sW(cli, 1), sW(cli, 0), sW(srv, 10), sR(cli, 10), sCW(cli))},
		{"close-read", prog(sCR(srv), sR(srv, 10), sW(cli, 10), sR(srv, 10), sW(srv, 5), sR(cli, 5), sCR(srv))},
		{"use-after-close", prog(sCL(cli), sR(cli, 1), sW(cli, 1), sW(cli, 0), sCL(cli), sRD(cli, dlZero), sWD(cli, dlPast), sCW(cli), sCR(cli), sR(srv, 1), sW(srv, 1))},
		{"close-unread-reset", prog(sW(cli, 100), sCL(srv), sR(cli, 10), sW(cli, 10), sW(cli, 10))},
		{"read-write-concurrent", prog(sW(srv, 1000), sRW(cli, 1, 100), sRW(srv, 64, 1), sRW(cli, 4, 0), sR(srv, 65536))},
		{"zero-byte-writes", prog(sW(cli, 0), sR(srv, 1), sW(cli, 1), sR(srv, 1), sCW(cli), sW(cli, 0), sR(srv, 1))},
		{"reset-during-big-writes", prog(sCL(srv), sW(cli, 256<<10), sW(cli, 256<<10), sR(cli, 1))},
		{"both-close-write", prog(sW(cli, 7), sW(srv, 9), sCW(cli), sCW(srv), sR(cli, 100), sR(srv, 100), sR(cli, 1), sCL(cli), sCL(srv))},
		{"many-small", prog(sW(cli, 1), sW(cli, 2), sW(cli, 3), sR(srv, 1), sW(cli, 250), sR(srv, 2), sR(srv, 3), sW(srv, 1), sW(srv, 1), sR(cli, 2), sR(srv, 300))},
		{"deadline-flips", prog(sRD(srv, dlPast), sRD(srv, dlFuture), sRD(srv, dlZero), sW(cli, 50), sR(srv, 50), sWD(srv, dlFuture), sWD(srv, dlZero), sW(srv, 40<<10), sR(cli, 65536))},
		{"close-after-read-armed", prog(sR(srv, 1), sW(cli, 100), sCL(srv), sR(cli, 10), sW(cli, 10))},
		{"read-write-with-deadlines", prog(sWD(srv, dlFuture), sRD(srv, dlFuture), sRW(srv, 16, 255), sW(cli, 3), sRW(srv, 1, 1), sR(cli, 65536))},
		{"read-some", prog(sW(cli, 1000), sRS(srv, 10), sRS(srv, 100), sW(cli, 3), sR(srv, 65536), sRS(srv, 5), sW(cli, 2), sRS(srv, 1), sRS(srv, 1))},

		// Raw I/O through SyscallConn.
		// The peer sends "AB", a Read of one byte takes "A": a raw read
		// sees "B", and after the peer sent "C" too, "BC" (issue 11, case 1).
		{"raw-read-after-read-1", prog(sW(cli, 2), sRS(srv, 1), sRRd(srv, 100), sW(cli, 1), sRRd(srv, 10), sW(cli, 5), sR(srv, 10))},
		{"raw-read-after-read-1-more", prog(sW(cli, 2), sRS(srv, 1), sW(cli, 1), sRRd(srv, 100), sW(cli, 7), sRS(srv, 1), sRRd(srv, 100))},
		// A Read that got less than it asked for may leave uring holding
		// what came next: the documented ErrUnreadData (knownDivergence).
		{"raw-read-after-short-read", prog(sW(cli, 5), sR(srv, 4096), sW(cli, 10), sRRd(srv, 100), sR(srv, 100), sW(cli, 10), sRRd(srv, 100))},
		{"raw-read-past-deadline", prog(sW(cli, 10), sRD(srv, dlPast), sRRd(srv, 10), sRD(srv, dlZero), sRRd(srv, 4), sRRd(srv, 10), sRRd(srv, 10))},
		{"raw-read-racing-deadline", prog(sRD(srv, dlFuture), sRRd(srv, 100), sW(cli, 5), sRRd(srv, 5), sRD(srv, dlFuture), sW(cli, 3), sRRd(srv, 3), sRD(srv, dlZero), sW(cli, 1), sRRd(srv, 5))},
		{"raw-write", prog(sRWr(cli, 100), sR(srv, 4096), sRWr(cli, 256<<10), sRWr(srv, 0), sWD(cli, dlPast), sRWr(cli, 10), sRWr(cli, 0), sWD(cli, dlZero), sRWr(cli, 3), sRRd(srv, 3), sCW(cli), sRWr(cli, 5), sRWr(cli, 0), sR(srv, 10))},
		{"raw-write-future-deadline-full-buffers", prog(sWD(cli, dlFuture), sRWr(cli, 256<<10), sWD(cli, dlZero), sRWr(cli, 1), sRRd(srv, 65536))},
		{"raw-after-close", prog(sCL(cli), sRRd(cli, 1), sRWr(cli, 1), sRWr(cli, 0), sRRd(srv, 10), sRWr(srv, 10), sRWr(srv, 10), sRRd(srv, 1))},
		{"raw-read-reset", prog(sW(cli, 100), sCL(srv), sRRd(cli, 10), sRRd(cli, 10), sRWr(cli, 10))},
		{"raw-read-write-concurrent", prog(sW(srv, 1000), sRRW(cli, 1, 100), sRRW(srv, 64, 1), sRRW(cli, 4, 0), sR(srv, 65536))},
		// A raw read while a raw write waits for room (issue 11, case 2).
		{"raw-read-while-raw-write-waits", prog(sW(srv, 1), sRRW(cli, 1, 255), sW(srv, 3), sRRW(cli, 4, 255), sR(srv, 65536))},
		{"raw-read-close-read", prog(sW(cli, 4), sCR(srv), sRRd(srv, 10), sRRd(srv, 10), sW(cli, 10), sRRd(srv, 10))},

		// Keep-alive settings, read back after each.
		{"keepalive", prog(sKA(cli, false), sKA(cli, true), sKAP(cli, 2), sKAP(srv, 3), sKAC(srv, true, 2, 3, 2), sKAC(cli, true, 3, 2, 3), sKAC(cli, true, 0, 0, 0), sKAC(srv, true, 1, 1, 1), sCL(cli), sKA(cli, true), sKAP(cli, 2), sKAC(cli, true, 2, 2, 2))},

		// The same over a unix stream socket.
		{"unix-echo", unixProg(sW(cli, 100), sR(srv, 4096), sW(srv, 5000), sR(cli, 1), sR(cli, 65536))},
		{"unix-big-writes-drained", unixProg(sW(cli, 256<<10), sR(srv, 65536), sRWr(cli, 200<<10), sW(srv, 64<<10), sR(cli, 1000))},
		{"unix-raw-read-after-read-1", unixProg(sW(cli, 2), sRS(srv, 1), sW(cli, 1), sRRd(srv, 100), sW(cli, 5), sR(srv, 10))},
		{"unix-raw-read-after-short-read", unixProg(sW(cli, 5), sR(srv, 4096), sW(cli, 10), sRRd(srv, 100), sR(srv, 100))},
		{"unix-deadlines", unixProg(sW(cli, 10), sRD(srv, dlPast), sRRd(srv, 10), sR(srv, 10), sRD(srv, dlZero), sRRd(srv, 10), sWD(cli, dlPast), sRWr(cli, 1), sW(cli, 1), sWD(cli, dlFuture), sW(cli, 256<<10))},
		{"unix-close-read", unixProg(sW(cli, 10), sCR(srv), sR(srv, 100), sR(srv, 10), sW(cli, 10), sRWr(cli, 10), sW(srv, 5), sR(cli, 5))},
		{"unix-close-write", unixProg(sW(cli, 1000), sCW(cli), sR(srv, 65536), sR(srv, 1), sW(cli, 1), sRWr(cli, 1), sW(srv, 10), sR(cli, 10))},
		{"unix-close-unread-reset", unixProg(sW(cli, 100), sCL(srv), sR(cli, 10), sRRd(cli, 10), sW(cli, 10), sRWr(cli, 10))},
		{"unix-use-after-close", unixProg(sCL(cli), sR(cli, 1), sRRd(cli, 1), sW(cli, 1), sRWr(cli, 1), sRD(cli, dlZero), sCW(cli), sCR(cli), sR(srv, 1), sW(srv, 1))},
		{"unix-keepalive-skipped", unixProg(sKA(cli, true), sKAP(cli, 1), sKAC(srv, true, 2, 2, 2), sW(cli, 3), sR(srv, 3))},

		// Differences this target found, minimised (issue 11): each fails
		// until the backends behave as net.
		// SetKeepAlivePeriod(0) is net's 15s default; unet sets 1s.
		{"finding-keepalive-period-zero", prog(sKAP(cli, 1))},
		// A negative period leaves the socket alone, without a system
		// call: net returns nil even on a closed conn; unet sets 1s, and
		// fails on a closed conn.
		{"finding-keepalive-period-negative", prog(sKAP(cli, 0))},
		{"finding-keepalive-period-negative-closed", prog(sCL(cli), sKAP(cli, 0))},
		// SetKeepAliveConfig with Enable false still sets Idle, Interval
		// and Count in net (tcpsock_unix.go); unet stops after
		// SO_KEEPALIVE.
		{"finding-keepalive-config-disabled", prog(sKAC(cli, false, 2, 2, 2))},
		// uring: a Read that timed out leaves the multishot receive armed;
		// it takes the reset the peer's close sends, so a raw read sees
		// EOF where net's sees ECONNRESET, and the next Read the reset.
		{"finding-raw-read-after-armed-reset", prog(sW(cli, 1), sR(cli, 1), sCL(srv), sRRd(cli, 1))},
		{"finding-unix-raw-read-after-armed-reset", unixProg(sW(cli, 1), sR(cli, 1), sCL(srv), sRRd(cli, 1))},
		// uring, unix: a conn closed while its multishot receive holds
		// bytes it took ahead tells the peer with SO_LINGER 0, which makes
		// a TCP reset but nothing on a unix socket: the peer reads EOF
		// where net's reads ECONNRESET (the kernel's answer to a unix
		// socket closed with data in its receive queue). The idle Read
		// of the client gives the receive time to take the 50 bytes.
		{"finding-unix-close-with-read-ahead", unixProg(sW(cli, 5), sR(srv, 4096), sW(cli, 50), sRS(cli, 1), sCL(srv), sR(cli, 10))},
	}
}

// The worlds.

// fuzzInFlight is the most bytes the harness lets sit unread in one
// direction before a Write drains the peer: far below what the socket
// buffers set by newWorld hold, so a Write under it never blocks.
const fuzzInFlight = 32 << 10

// fuzzIdleWait is how long a Read that has nothing to read is left parked
// before the harness ends it ("blocked").
const fuzzIdleWait = 25 * time.Millisecond

// fuzzDrainDelay is how long a Write is given to finish on its own
// before the harness drains the peer.
const fuzzDrainDelay = 10 * time.Millisecond

// fuzzForceWait is how long a Write that nobody can drain is left parked
// before the harness ends it.
const fuzzForceWait = 200 * time.Millisecond

// aLongTimeAgo is the past deadline the harness and the programs use.
var aLongTimeAgo = time.Unix(1, 0)

type dlState struct {
	kind dlKind
	t    time.Time
}

type dirStream struct {
	written  []byte // what the writer reported written, in order
	received []byte // what the reader read, in order
}

type outcome struct {
	what  string // "read@client", "write", "drain@server", "final@client"
	class string
	n     int // bytes moved (read or written)
}

type stepResult struct {
	outs []outcome
	// loose: the step ran with a deadline 20ms ahead, so a timeout on
	// either side is acceptable in place of any outcome.
	loose bool
	// racyEOF: the step read on a conn after its CloseRead, where read(2)
	// returns 0 whenever the receive queue is empty at that instant, even
	// with more data on its way: EOF and data are a race.
	racyEOF bool
	// diverged: this world's bytes in flight now depend on timing (a
	// Write ended by force or cut short by a deadline).
	diverged bool
	// mayHoldAhead: a raw read ran while bytes were in flight towards its
	// conn, which was never handed off to raw code before, and the bound
	// of noteRead was not 0: uring may hold bytes read ahead.
	mayHoldAhead bool
	notes        []string
}

type world struct {
	t       *testing.T
	backend string
	network string
	conns   [2]net.Conn

	mu      sync.Mutex   // guards streams' contents
	streams [2]dirStream // indexed by the reading side

	closed [2]bool
	rshut  [2]bool
	wshut  [2]bool // CloseWrite succeeded
	rdl    [2]dlState
	wdl    [2]dlState

	// ahead bounds what uring may hold read ahead, per side (noteRead).
	// handedOff says a raw read handed the conn off to raw code: uring
	// then never reads ahead again. Both are guarded by mu.
	ahead     [2]int
	handedOff [2]bool

	results    []stepResult
	final      [2]outcome // the final drain, per reading side
	finalDone  [2]bool
	violations []string
}

// bufferSetter is what *net.TCPConn and *net.UnixConn have in common to
// size the socket buffers.
type bufferSetter interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// halfCloser is what *net.TCPConn and *net.UnixConn have in common to
// shut one direction down.
type halfCloser interface {
	CloseRead() error
	CloseWrite() error
}

func newWorld(t *testing.T, backend, network string) *world {
	c, s := fuzzPair(t, backend, network)
	w := &world{t: t, backend: backend, network: network, conns: [2]net.Conn{c, s}}
	for _, conn := range w.conns {
		tc := conn.(bufferSetter)
		// Fixed buffers turn off autotuning, so that what fits in flight
		// does not depend on the history of the connection.
		if err := tc.SetReadBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
		if err := tc.SetWriteBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
	}
	for i := range w.rdl {
		w.rdl[i] = dlState{kind: dlZero}
		w.wdl[i] = dlState{kind: dlZero}
	}
	return w
}

func (w *world) violate(format string, args ...any) {
	w.mu.Lock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (w *world) run(prog []step) {
	for i, s := range prog {
		w.results = append(w.results, w.exec(i, s))
	}
	w.finish()
}

func (w *world) exec(i int, s step) stepResult {
	c := w.conns[s.side]
	switch s.op {
	case fopWrite:
		return w.write(i, s.side, s.n, false)
	case fopRawWrite:
		return w.write(i, s.side, s.n, true)
	case fopRead:
		return w.read(s.side, s.size, rmAll)
	case fopReadSome:
		return w.read(s.side, s.size, rmSome)
	case fopRawRead:
		return w.read(s.side, s.size, rmRaw)
	case fopKeepAlive:
		return w.keepAlive(s.side, s.ka)
	case fopReadWrite, fopRawReadWrite:
		raw := s.op == fopRawReadWrite
		mode := rmAll
		if raw {
			mode = rmRaw
		}
		var rr, wr stepResult
		var wg sync.WaitGroup
		wg.Go(func() { rr = w.read(s.side, s.size, mode) })
		wg.Go(func() { wr = w.write(i, s.side, s.n, raw) })
		wg.Wait()
		return stepResult{
			outs:         append(rr.outs, wr.outs...),
			loose:        rr.loose || wr.loose,
			racyEOF:      rr.racyEOF || wr.racyEOF,
			diverged:     rr.diverged || wr.diverged,
			mayHoldAhead: rr.mayHoldAhead,
			notes:        append(rr.notes, wr.notes...),
		}
	case fopSetReadDeadline, fopSetWriteDeadline:
		st := dlState{kind: s.dl}
		switch s.dl {
		case dlPast:
			st.t = aLongTimeAgo
		case dlFuture:
			st.t = time.Now().Add(fuzzFuture)
		}
		var err error
		if s.op == fopSetReadDeadline {
			err = c.SetReadDeadline(st.t)
			if err == nil {
				w.rdl[s.side] = st
			}
		} else {
			err = c.SetWriteDeadline(st.t)
			if err == nil {
				w.wdl[s.side] = st
			}
		}
		return stepResult{outs: []outcome{{class: classify(err)}}}
	case fopCloseWrite:
		err := c.(halfCloser).CloseWrite()
		if err == nil {
			w.wshut[s.side] = true
		}
		return stepResult{outs: []outcome{{class: classify(err)}}}
	case fopCloseRead:
		err := c.(halfCloser).CloseRead()
		if err == nil {
			w.rshut[s.side] = true
		}
		return stepResult{outs: []outcome{{class: classify(err)}}}
	case fopClose:
		err := c.Close()
		w.closed[s.side] = true
		return stepResult{outs: []outcome{{class: classify(err)}}}
	}
	panic("unknown op")
}

// applyDeadline sets the program's deadline of side back after the
// harness moved it.
func (w *world) applyDeadline(side int, read bool) {
	if read {
		w.conns[side].SetReadDeadline(w.rdl[side].t)
	} else {
		w.conns[side].SetWriteDeadline(w.wdl[side].t)
	}
}

// How a read step reads.
type readMode uint8

const (
	// rmAll Reads into the whole buffer until it has every byte in
	// flight.
	rmAll readMode = iota
	// rmSome Reads until it has the first size bytes in flight (or all
	// of them, if fewer), each Read asking for no more than the rest, so
	// that every world takes the same bytes and leaves the same in flight.
	rmSome
	// rmRaw reads as rmSome, through SyscallConn().Read.
	rmRaw
)

// read reads on side as mode says, or until an error; with nothing in
// flight it reads once, and if that Read parks for fuzzIdleWait the
// harness ends it with a past deadline: "blocked".
func (w *world) read(side, size int, mode readMode) stepResult {
	c := w.conns[side]
	st := &w.streams[side]
	res := stepResult{loose: w.rdl[side].kind == dlFuture, racyEOF: w.rshut[side]}
	w.mu.Lock()
	pending := len(st.written) - len(st.received)
	if mode == rmRaw {
		res.mayHoldAhead = !w.handedOff[side] && w.ahead[side] > 0 && pending > 0
	}
	w.mu.Unlock()
	// As internal/poll, raw I/O checks for a closed conn and a deadline
	// already past before it calls the function.
	mustNotCall := w.closed[side] || w.rdl[side].kind == dlPast
	target := size
	if mode != rmAll && pending > 0 {
		target = min(size, pending)
	}
	limit := fuzzIdleWait
	if pending > 0 || w.closed[1-side] || w.wshut[1-side] {
		// The bytes, or the peer's EOF or reset, are in flight: they must
		// come, though on a loaded machine the kernel may take a while
		// to deliver them over loopback.
		limit = 3 * time.Second
	}
	done := make(chan outcome, 1)
	calls := 0 // of the raw function; read after done
	go func() {
		buf := make([]byte, size)
		total := 0
		for {
			p := buf
			if mode != rmAll {
				p = buf[total:target]
			}
			var (
				n   int
				err error
			)
			if mode == rmRaw {
				var k int
				n, k, err = rawRead(c, p)
				calls += k
			} else {
				n, err = c.Read(p)
				if n >= 0 && n <= len(p) {
					w.noteRead(side, len(p), n)
				}
			}
			if n < 0 || n > len(p) {
				done <- outcome{class: fmt.Sprintf("bad-count(%d)", n), n: total}
				return
			}
			w.mu.Lock()
			st.received = append(st.received, p[:n]...)
			caught := len(st.received) >= len(st.written)
			w.mu.Unlock()
			total += n
			switch {
			case err != nil:
				done <- outcome{class: classify(err), n: total}
				return
			case n == 0:
				done <- outcome{class: "zero-read-without-error", n: total}
				return
			case caught || (mode != rmAll && total >= target):
				done <- outcome{class: "nil", n: total}
				return
			}
		}
	}()
	what := "read@" + sideNames[side]
	if mode == rmRaw {
		what = "raw-" + what
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(limit):
		c.SetReadDeadline(aLongTimeAgo)
		select {
		case o = <-done:
		case <-time.After(5 * time.Second):
			w.violate("a Read did not return within 5s of a past deadline")
			o = <-done
		}
		w.applyDeadline(side, true)
		if strings.HasPrefix(o.class, "timeout") {
			o.class = "blocked"
		}
	}
	if mode == rmRaw {
		if mustNotCall && calls > 0 {
			w.violate("a raw read on a closed conn or after its deadline passed called its function %d times", calls)
		}
		if calls > 0 || strings.HasPrefix(o.class, "unread-data") {
			w.mu.Lock()
			w.handedOff[side] = true
			w.mu.Unlock()
		}
	}
	o.what = what
	res.outs = []outcome{o}
	return res
}

// fuzzData is the content of step i's Write: a function of the step, so
// that every world writes the same bytes.
func fuzzData(i, n int) []byte {
	b := make([]byte, n)
	x := uint32(i+1) * 2654435761
	for j := range b {
		x = x*1664525 + 1013904223
		b[j] = byte(x >> 24)
	}
	return b
}

// write writes n bytes from side. Past fuzzInFlight bytes in flight it
// drains the peer meanwhile, until the peer has read everything written,
// so that afterwards nothing is in flight in any world. A Write nobody
// can drain is ended after fuzzForceWait with a past deadline: "blocked".
//
// With raw, it writes through SyscallConn().Write instead.
func (w *world) write(i, side, n int, raw bool) stepResult {
	c := w.conns[side]
	peer := 1 - side
	st := &w.streams[peer]
	res := stepResult{loose: w.wdl[side].kind == dlFuture}
	data := fuzzData(i, n)
	w.mu.Lock()
	pending := len(st.written) - len(st.received)
	w.mu.Unlock()
	drain := pending+n > fuzzInFlight
	mustNotCall := w.closed[side] || w.wdl[side].kind == dlPast

	type wres struct {
		n, calls int
		err      error
	}
	wch := make(chan wres, 1)
	go func() {
		if raw {
			n, calls, err := rawWrite(c, data)
			wch <- wres{n, calls, err}
			return
		}
		n, err := c.Write(data)
		wch <- wres{n: n, err: err}
	}()
	var r wres
	got := false
	if !drain {
		select {
		case r = <-wch:
			got = true
		case <-time.After(3 * time.Second):
			// The buffers did not hold what they should: drain after all,
			// and stop comparing what is in flight.
			drain = true
			res.diverged = true
			res.notes = append(res.notes, "write under the in-flight threshold blocked")
		}
	}
	writeDone := make(chan struct{})
	dch := make(chan outcome, 1)
	if drain {
		// Nobody reads a closed conn, and one shut for reading returns EOF
		// whenever its queue is empty for an instant: neither can drain.
		if w.closed[peer] || w.rshut[peer] {
			dch <- outcome{what: "drain@" + sideNames[peer], class: "-"}
		} else {
			// Reading while the Write still runs only ever finds data:
			// the writer's side is open. A Write that fails at once
			// (closed, shut, reset, past deadline) is done before the
			// delay, and then the drainer reads only the bytes in flight,
			// never into an EOF or a reset that a later step would see.
			// With a deadline ahead, let it pass while the Write is
			// parked on full buffers.
			delay := fuzzDrainDelay
			if res.loose {
				delay = 2 * fuzzFuture
			}
			go func() {
				select {
				case <-writeDone:
				case <-time.After(delay):
				}
				w.drainer(peer, writeDone, dch)
			}()
		}
	}
	forced := false
	if !got {
		var drained *outcome
		force := time.After(fuzzForceWait)
		if !w.closed[peer] && !w.rshut[peer] {
			force = time.After(10 * time.Second) // the drainer will let it through
		}
	wait:
		for {
			select {
			case r = <-wch:
				break wait
			case o := <-dch:
				// The drainer gave up (EOF, reset): give the Write a last
				// chance, then end it.
				drained = &o
				dch = nil
				force = time.After(fuzzForceWait)
			case <-force:
				c.SetWriteDeadline(aLongTimeAgo)
				select {
				case r = <-wch:
				case <-time.After(5 * time.Second):
					w.violate("a Write did not return within 5s of a past deadline")
					r = <-wch
				}
				w.applyDeadline(side, false)
				forced = true
				break wait
			}
		}
		if drained != nil {
			dch = make(chan outcome, 1)
			dch <- *drained
		}
	}
	w.mu.Lock()
	if r.n >= 0 && r.n <= n {
		st.written = append(st.written, data[:r.n]...)
	}
	w.mu.Unlock()
	close(writeDone)

	if mustNotCall && r.calls > 0 {
		w.violate("a raw write on a closed conn or after its deadline passed called its function %d times", r.calls)
	}
	o := outcome{what: "write", class: classify(r.err), n: r.n}
	if raw {
		o.what = "raw-write"
	}
	switch {
	case r.n < 0 || r.n > n:
		o.class = fmt.Sprintf("bad-count(%d of %d)", r.n, n)
	case r.err == nil && r.n != n:
		o.class = fmt.Sprintf("short-write-without-error(%d of %d)", r.n, n)
	case forced && strings.HasPrefix(o.class, "timeout"):
		o.class = "blocked"
	}
	if forced || (r.n != 0 && r.n != n) {
		res.diverged = true
	}
	res.outs = []outcome{o}
	if drain {
		res.outs = append(res.outs, <-dch)
	}
	return res
}

// drainer reads the peer's side until the Write is done and everything
// written has been read, or the read fails; then it restores the side's
// read deadline. It reports how the reading ended: "" when it caught up.
func (w *world) drainer(side int, writeDone <-chan struct{}, out chan<- outcome) {
	c := w.conns[side]
	st := &w.streams[side]
	buf := make([]byte, 64<<10)
	last := time.Now()
	o := outcome{what: "drain@" + sideNames[side], class: "caught-up"}
	for {
		finished := false
		select {
		case <-writeDone:
			finished = true
		default:
		}
		w.mu.Lock()
		caught := len(st.received) >= len(st.written)
		w.mu.Unlock()
		if finished && caught {
			break
		}
		if finished && time.Since(last) > 3*time.Second {
			o.class = "drain-stalled"
			break
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, err := c.Read(buf)
		if n >= 0 && n <= len(buf) {
			w.noteRead(side, len(buf), n)
		}
		if n > 0 {
			last = time.Now()
			w.mu.Lock()
			st.received = append(st.received, buf[:n]...)
			w.mu.Unlock()
			o.n += n
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			o.class = classify(err)
			break
		}
	}
	w.applyDeadline(side, true)
	out <- o
}

// finish half-closes both writers, reads both directions to their end and
// checks the streams.
func (w *world) finish() {
	for side := range 2 {
		if !w.closed[side] {
			w.conns[side].(halfCloser).CloseWrite()
		}
	}
	for side := range 2 {
		if w.closed[side] {
			continue
		}
		c := w.conns[side]
		st := &w.streams[side]
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64<<10)
		o := outcome{what: "final@" + sideNames[side]}
		for {
			n, err := c.Read(buf)
			st.received = append(st.received, buf[:n]...)
			o.n += n
			if err != nil {
				o.class = classify(err)
				break
			}
		}
		w.final[side], w.finalDone[side] = o, true
		if strings.HasPrefix(o.class, "timeout") {
			w.violate("%s: no EOF or error within 5s after the peer half-closed (%d bytes read at the end)", sideNames[side], o.n)
		}
		if o.class == "EOF" && !w.rshut[side] && len(st.received) != len(st.written) {
			w.violate("%s read a clean EOF after %d bytes, but its peer wrote %d", sideNames[side], len(st.received), len(st.written))
		}
	}
	for side := range 2 {
		st := &w.streams[side]
		if len(st.received) > len(st.written) {
			w.violate("%s received %d bytes, more than the %d its peer wrote", sideNames[side], len(st.received), len(st.written))
		}
		k := min(len(st.received), len(st.written))
		if i := firstDiff(st.received[:k], st.written[:k]); i >= 0 {
			w.violate("%s received a byte stream that differs from what its peer wrote at offset %d (of %d received)", sideNames[side], i, len(st.received))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// classify names the class of an operation's error, with net's Op.
func classify(err error) string {
	if err == nil {
		return "nil"
	}
	if err == io.EOF {
		return "EOF"
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		return fmt.Sprintf("not-an-OpError(%T: %v)", err, err)
	}
	var cls string
	switch {
	case errors.Is(err, io.EOF):
		cls = "wrapped-EOF"
	case errors.Is(err, unetrt.ErrUnreadData):
		cls = "unread-data"
	case errors.Is(err, net.ErrClosed):
		cls = "closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		cls = "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		cls = "reset"
	default:
		var errno syscall.Errno
		if errors.As(err, &errno) {
			cls = "other:" + errno.Error()
		} else {
			cls = fmt.Sprintf("other:%T", oe.Err)
		}
	}
	return cls + "(" + oe.Op + ")"
}

// sameOutcome compares two outcomes of one step. A loose step accepts a
// timeout on either side in place of anything, and a Read parked until the
// harness ended it in place of one that returned; a Write ended by force
// (nobody could drain the peer) in place of one that completed; a
// racyEOF step (a side shut for reading) accepts
// EOF in place of data; a concurrent Read and Write accept EOF in place
// of a reset on the Read; a Write towards a closed peer accepts the reset
// in place of std's completing.
func sameOutcome(a, b outcome, loose, racyEOF, concurrent, peerClosed bool) bool {
	if a == b {
		return true
	}
	if peerClosed && a.what == b.what && (a.what == "write" || a.what == "raw-write") &&
		a.class == "nil" && b.class == "reset("+a.what+")" {
		// The peer's kernel answers the data with a reset, and whether
		// a Write completes before the reset comes back is timing, even
		// between two runs of std: of ten runs of one program (the peer
		// shut for reading and closed, then a 177 KiB Write), std's
		// Write completed in four and took the reset after 142848 bytes
		// in six, the same as epoll and uring in all ten.
		return true
	}
	if a.what == b.what && (a.what == "write" || a.what == "raw-write") && (a.class == "blocked" && b.class == "nil" || a.class == "nil" && b.class == "blocked") {
		// Nobody could drain the peer (closed, or shut for reading):
		// whether the bytes fit in the socket buffers is the kernel's
		// accounting, which varies with how they were segmented.
		return true
	}
	if a.what == b.what && strings.HasPrefix(a.what, "drain") && a.n == b.n {
		// A drainer that has read everything stops when the Write is
		// done, unless its last read already saw the peer's EOF: which
		// comes first is timing.
		doneOrEOF := func(c string) bool { return c == "caught-up" || c == "EOF" }
		if doneOrEOF(a.class) && doneOrEOF(b.class) {
			return true
		}
	}
	if concurrent && a.what == b.what && strings.Contains(a.what, "read@") {
		// A reset is reported once, to whichever of the Read and the
		// Write reaches the socket first; the other sees EOF or EPIPE.
		resetOrEOF := func(c string) bool { return c == "EOF" || c == "reset(read)" || c == "reset(raw-read)" }
		if resetOrEOF(a.class) && resetOrEOF(b.class) {
			return true
		}
	}
	if racyEOF && a.what == b.what && strings.Contains(a.what, "read@") {
		// Shut for reading: whether data, EOF or a reset (the kernel's
		// answer to data arriving at a shut socket) is seen first is a
		// race, for raw reads as for Reads.
		dataOrEOF := func(c string) bool {
			return c == "nil" || c == "EOF" || c == "reset(read)" || c == "reset(raw-read)"
		}
		if dataOrEOF(a.class) && dataOrEOF(b.class) {
			return true
		}
	}
	if !loose {
		return false
	}
	isTimeout := func(c string) bool { return strings.HasPrefix(c, "timeout") || c == "blocked" }
	return isTimeout(a.class) || isTimeout(b.class)
}

// fuzzStrict turns off the tolerance of the known divergences below, to
// see them or to check a fix.
var fuzzStrict = os.Getenv("UNET_FUZZ_STRICT") != ""

// knownDivergence says whether b, the outcome of backend, differs from
// std's a in a way that is inherent to the design, and whether the
// worlds' bytes in flight part there. sticky is the first EOF or reset
// that a Read on the outcome's conn returned in b's world; peerClosed says
// that the program closed the other end; mayHoldAhead is the step's (see
// stepResult) in b's world.
//
// uring only: after a Read returned part of what it asked for, uring may
// have read ahead up to the rest of that Read's length (a little more: see
// noteRead). Those bytes have left the socket and cannot go back, so a raw
// read (or File) fails with an error that wraps runtime.ErrUnreadData
// instead of returning them, and the next Read returns them; std's raw
// read returns them. Tolerated only for a raw read that std answered with
// data, on a conn never handed off before (after that uring reads without
// read-ahead), while the bound on what uring may hold is not 0: a raw read
// after Reads of one byte that got it, or with nothing in flight, must
// see the stream as std does. This bound assumes the kernel's limit on
// multishot receives (Linux 6.16); without it uring reads ahead further.
//
// uring only, and only on a loaded machine: after the peer closed, a
// Write may succeed where std's Write already takes the reset that the
// peer's kernel answered an earlier Write with. The reset travels
// asynchronously (on loopback, in a softirq that the kernel defers to
// ksoftirqd when the CPUs are busy), and which Write finds it depends on
// when the kernel gets to it: seen 6 times in 3000 runs of one program
// with both CPUs busy, never in 300 on a quiet machine, never for epoll.
// We have not pinned down why only uring loses that race; on a real
// network which Write sees a reset is a matter of round-trip time anyway.
//
// This fuzz target found four more differences, since fixed: a zero-byte
// Write now calls write(2) as std does; uring reports a Read error once
// instead of repeating it; uring closes a conn with unread data with a
// reset, as the kernel does, although its receive queue is already empty;
// and a reset that uring's armed receive took is reported to a write that
// comes first, as the kernel reports it to the first call that asks
// (TestConnResetTakenByWrite).
func knownDivergence(backend string, s step, what string, a, b outcome, sticky string, peerClosed, mayHoldAhead bool) (known, parts bool) {
	if fuzzStrict {
		return false, false
	}
	// A raw write towards a peer that closed calls write(2) on every
	// backend, std's included: whether the peer's reset has arrived by
	// then is timing (seen under -race on a loaded machine: std's raw
	// write took the reset, uring's finished first).
	if peerClosed && what == "raw-write" && a.class == "reset(raw-write)" && b.class == "nil" {
		return true, true
	}
	if backend != "uring" {
		return false, false
	}
	if (s.op == fopRawRead || s.op == fopRawReadWrite) && mayHoldAhead && b.class == "unread-data(raw-read)" && b.n == 0 && a.class == "nil" && a.n > 0 {
		return true, true
	}
	if peerClosed && what == "write" && a.class == "reset(write)" && b.class == "nil" {
		return true, true
	}
	return false, false
}

// eofOrReset reports whether a final read ended in EOF or a reset.
func eofOrReset(o outcome) bool { return o.class == "EOF" || o.class == "reset(read)" }

// compareWorlds compares w with the reference step by step, as long as
// their bytes in flight are the same, and then the final drains.
func compareWorlds(ref, w *world, prog []step) string {
	var (
		sticky [2]string // per side, in w
		closed [2]bool   // per side, closed by the program
		rshut  [2]bool   // per side, shut for reading by the program
	)
	sideOf := func(s step, what string) int {
		switch {
		case strings.HasSuffix(what, "@client"):
			return 0
		case strings.HasSuffix(what, "@server"):
			return 1
		}
		return s.side
	}
	for i := range prog {
		a, b := ref.results[i], w.results[i]
		loose := a.loose || b.loose
		racyEOF := a.racyEOF || b.racyEOF
		if len(a.outs) != len(b.outs) {
			return fmt.Sprintf("step %d (%v): %d outcomes against %d", i, prog[i], len(b.outs), len(a.outs))
		}
		parted := a.diverged || b.diverged
		for k := range a.outs {
			ao, bo := a.outs[k], b.outs[k]
			if parted {
				// This step's byte counts depend on timing: a Write that
				// timed out or was ended by force moved what it could.
				ao.n, bo.n = 0, 0
			}
			what := bo.what
			side := sideOf(prog[i], what)
			switch {
			case ao == bo:
			case sameOutcome(ao, bo, loose, racyEOF, prog[i].op == fopReadWrite || prog[i].op == fopRawReadWrite, closed[1-side]):
				parted = true // a tolerated difference: the worlds part here
			default:
				// With the counts as measured: a tolerance may need them.
				known, parts := knownDivergence(w.backend, prog[i], what, a.outs[k], b.outs[k], sticky[side], closed[1-side], b.mayHoldAhead)
				if !known {
					return fmt.Sprintf("step %d (%v): outcome %d is %+v, std's %+v", i, prog[i], k, b.outs[k], a.outs[k])
				}
				parted = parted || parts
			}
			if what != "write" && what != "" && sticky[side] == "" && (bo.class == "EOF" || bo.class == "reset(read)") {
				sticky[side] = bo.class
			}
		}
		if prog[i].op == fopClose {
			closed[prog[i].side] = true
		}
		if prog[i].op == fopCloseRead && b.outs[0].class == "nil" {
			rshut[prog[i].side] = true
		}
		if parted {
			return ""
		}
	}
	for side := range 2 {
		if ref.finalDone[side] != w.finalDone[side] {
			return fmt.Sprintf("final read of %s: done %v, std's %v", sideNames[side], w.finalDone[side], ref.finalDone[side])
		}
		if rshut[side] {
			// How much a conn shut for reading still reads, and whether
			// the data that kept arriving ends in EOF or in a reset when
			// the peer closes, is a race even between two std runs.
			continue
		}
		if rshut[1-side] && closed[1-side] && eofOrReset(ref.final[side]) && eofOrReset(w.final[side]) {
			// The same race seen from the other end: a peer shut for
			// reading lets its window lag, so when it closes, what this
			// side wrote last may still be in flight (the peer's close
			// sends a FIN, read here as EOF, and the data's arrival a
			// reset after it) or already queued there (a reset at once).
			// Seen on epoll and uring alike (seed f6f137672fda81b5).
			continue
		}
		if ref.final[side] != w.final[side] {
			if known, _ := knownDivergence(w.backend, step{}, w.final[side].what, ref.final[side], w.final[side], sticky[side], closed[1-side], false); !known {
				return fmt.Sprintf("final read of %s: %+v, std's %+v", sideNames[side], w.final[side], ref.final[side])
			}
			return ""
		}
	}
	for side := range 2 {
		if len(ref.streams[side].written) != len(w.streams[side].written) ||
			(!rshut[side] && len(ref.streams[side].received) != len(w.streams[side].received)) {
			return fmt.Sprintf("%s: wrote %d and read %d bytes, std %d and %d", sideNames[side],
				len(w.streams[side].written), len(w.streams[side].received),
				len(ref.streams[side].written), len(ref.streams[side].received))
		}
	}
	return ""
}

func (w *world) dump(prog []step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace of %s:\n", w.backend)
	for i, r := range w.results {
		fmt.Fprintf(&b, "  %2d %-40v %v", i, prog[i], r.outs)
		if r.loose {
			b.WriteString(" loose")
		}
		if r.diverged {
			b.WriteString(" diverged")
		}
		for _, n := range r.notes {
			b.WriteString(" [" + n + "]")
		}
		b.WriteString("\n")
	}
	for side := range 2 {
		fmt.Fprintf(&b, "  final %s: %+v (wrote %d towards it, it read %d)\n", sideNames[side], w.final[side],
			len(w.streams[side].written), len(w.streams[side].received))
	}
	return b.String()
}
