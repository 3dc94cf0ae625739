package uringsched

import (
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
	// maxQueued bounds the bytes received for a connection that its
	// reader has not taken yet; beyond it the multishot receive is
	// cancelled, so a slow reader cannot drain the buffer ring.
	maxQueued int
	// shards is the number of rings, each with its own loop, that
	// descriptors are spread over (UNET_URING_SHARDS).
	shards int
}

var defaultConfig = config{
	sqEntries:     1024,
	cqEntries:     16384,
	multishotRecv: true,
	bufCount:      16384,
	bufInitial:    256,
	bufSize:       4096,
	maxQueued:     256 << 10,
	shards:        1,
}

func configFromEnv() config {
	c := defaultConfig
	envUint := func(name string, dst *uint32) {
		if v, err := strconv.ParseUint(os.Getenv(name), 10, 32); err == nil && v > 0 {
			*dst = uint32(v)
		}
	}
	envUint("UNET_URING_SQ", &c.sqEntries)
	envUint("UNET_URING_CQ", &c.cqEntries)
	envUint("UNET_URING_BUFSIZE", &c.bufSize)
	var bufs uint32
	envUint("UNET_URING_BUFS", &bufs)
	if bufs > 0 && bufs <= 1<<15 && bufs&(bufs-1) == 0 {
		c.bufCount = uint16(bufs)
	}
	var initial uint32
	envUint("UNET_URING_BUFS_INITIAL", &initial)
	if initial > 0 && initial <= 1<<15 {
		c.bufInitial = uint16(initial)
	}
	var shards uint32
	envUint("UNET_URING_SHARDS", &shards)
	if shards > 0 && shards <= 64 {
		c.shards = int(shards)
	}
	if os.Getenv("UNET_URING_RECV") == "single" {
		c.multishotRecv = false
	}
	return c
}
