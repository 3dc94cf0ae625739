package uringsched

import (
	"fmt"
	"os"
	"strconv"
)

// config sizes the ring and picks the receive strategy. The defaults are
// the measured best on the machines in BENCHMARKS.md; the environment
// variables exist for experiments, not for tuning in production.
type config struct {
	sqEntries uint32 // UNET_URING_SQ
	cqEntries uint32 // UNET_URING_CQ
	// multishotRecv receives with one multishot request per connection
	// into provided buffers, so a Read costs no system call
	// (UNET_URING_RECV=multishot, the default, or single).
	multishotRecv bool
	bufCount      uint16 // UNET_URING_BUFS: provided buffers at most, a power of two
	// bufInitial is how many of them the kernel gets at start; more are
	// given as the load asks (UNET_URING_BUFS_INITIAL).
	bufInitial uint16
	bufSize    uint32 // UNET_URING_BUFSIZE: bytes per provided buffer
	// maxReadAhead caps the bytes one multishot receive may take from the
	// socket for a Read, on kernels that can limit it (Linux 6.16);
	// 0 leaves receives unlimited, as before the limit, to measure it
	// (UNET_URING_READAHEAD).
	maxReadAhead int
	// maxHeld bounds the bytes of unread data all conns together hold:
	// each conn's read-ahead is its share of it (bufPool.share).
	maxHeld int
	// maxQueued bounds the bytes received for a connection that its
	// reader has not taken yet on kernels that cannot limit a receive;
	// beyond it the multishot receive is cancelled, so a slow reader
	// cannot drain the buffer ring.
	maxQueued int
	// directSend writes with a non-blocking send(2) first, as std does,
	// and through the ring only to wait for room (UNET_URING_SEND=direct;
	// the default, ring, sends through the ring).
	directSend bool
	// coopTaskrun sets the ring up with IORING_SETUP_COOP_TASKRUN and
	// TASKRUN_FLAG (UNET_URING_TASKRUN=coop, the default, or ipi).
	coopTaskrun bool
	// roundByNetpoll makes the loop wait, after a round that woke
	// goroutines, until Go's scheduler polls the network, which it does
	// when it has run everything runnable (UNET_URING_ROUND=netpoll; the
	// default with multishot receives, yield, yields once; with one-shot
	// receives the default is netpoll).
	roundByNetpoll bool
	// shards is the number of rings, each with its own loop, that
	// descriptors are spread over (UNET_URING_SHARDS).
	shards int
}

var defaultConfig = config{
	sqEntries: 1024,
	// The kernel's maximum (CLAMP would cut a larger value to it). At
	// 16384 the CQ overflowed at 10000 conns and p99 was 1.64x what it is
	// at 65536 (p=0.002, BENCHMARKS.md experiment 25); the 768 KiB more
	// of ring memory showed no cost at 16 to 4096 conns.
	cqEntries:     65536,
	multishotRecv: true,
	bufCount:      16384,
	bufInitial:    256,
	bufSize:       4096,
	maxReadAhead:  64 << 10,
	maxHeld:       16 << 20,
	maxQueued:     256 << 10,
	coopTaskrun:   true,
	shards:        1,
}

// configFromEnv reads the UNET_URING_* variables over the defaults. A
// variable that is set but invalid is an error that names it: a typo must
// not silently measure the default.
func configFromEnv() (config, error) {
	c := defaultConfig
	var err error
	envUint := func(name string, lo, hi uint64, pow2 bool, set func(uint64)) {
		v, ok := os.LookupEnv(name)
		if !ok || err != nil {
			return
		}
		n, perr := strconv.ParseUint(v, 10, 64)
		switch {
		case perr != nil || n < lo || n > hi:
			err = fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi)
		case pow2 && n&(n-1) != 0:
			err = fmt.Errorf("%s=%q: want a power of two from %d to %d", name, v, lo, hi)
		default:
			set(n)
		}
	}
	envUint("UNET_URING_SQ", 1, 32768, false, func(n uint64) { c.sqEntries = uint32(n) })
	envUint("UNET_URING_CQ", 1, 1<<20, false, func(n uint64) { c.cqEntries = uint32(n) })
	envUint("UNET_URING_BUFSIZE", 64, 1<<20, false, func(n uint64) { c.bufSize = uint32(n) })
	envUint("UNET_URING_BUFS", 1, 1<<15, true, func(n uint64) { c.bufCount = uint16(n) })
	envUint("UNET_URING_BUFS_INITIAL", 1, 1<<15, false, func(n uint64) { c.bufInitial = uint16(n) })
	envUint("UNET_URING_SHARDS", 1, 64, false, func(n uint64) { c.shards = int(n) })
	envUint("UNET_URING_READAHEAD", 0, 1<<30, false, func(n uint64) { c.maxReadAhead = int(n) })
	if err != nil {
		return c, err
	}
	switch v, ok := os.LookupEnv("UNET_URING_RECV"); {
	case !ok || v == "multishot":
	case v == "single":
		c.multishotRecv = false
	default:
		return c, fmt.Errorf("UNET_URING_RECV=%q: want multishot or single", v)
	}
	switch v, ok := os.LookupEnv("UNET_URING_SEND"); {
	case !ok || v == "ring":
	case v == "direct":
		c.directSend = true
	default:
		return c, fmt.Errorf("UNET_URING_SEND=%q: want ring or direct", v)
	}
	switch v, ok := os.LookupEnv("UNET_URING_TASKRUN"); {
	case !ok || v == "coop":
	case v == "ipi":
		c.coopTaskrun = false
	default:
		return c, fmt.Errorf("UNET_URING_TASKRUN=%q: want coop or ipi", v)
	}
	// One-shot receives park three times per request, and with the
	// yield their conns starve (experiment 22): they wait for the
	// network poll unless told otherwise.
	switch v, ok := os.LookupEnv("UNET_URING_ROUND"); {
	case !ok:
		c.roundByNetpoll = !c.multishotRecv
	case v == "yield":
	case v == "netpoll":
		c.roundByNetpoll = true
	default:
		return c, fmt.Errorf("UNET_URING_ROUND=%q: want yield or netpoll", v)
	}
	c.bufInitial = min(c.bufInitial, c.bufCount)
	return c, nil
}
