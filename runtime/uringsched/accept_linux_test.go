//go:build linux

package uringsched

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestAcceptDrainsBacklogUnderLoad: conns already in the listen backlog
// are taken without a request through the ring and without parking, as
// std takes them with accept4(2). Through the ring each Accept cost a
// round of the loop, and under load a round is a turn of every goroutine
// it woke: at 4096 conns the backlog drained at 9 conns a second and new
// conns waited seconds for their first byte (issue 13).
func TestAcceptDrainsBacklogUnderLoad(t *testing.T) {
	s := testScheduler(t, defaultConfig)
	ln := listenFD(t, s)
	defer ln.Close()
	port := boundPort(t, ln)

	const conns = 32
	for range conns {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		defer unix.Close(c)
		// Blocking connect: it returns once the kernel queued the conn.
		require.NoError(t, unix.Connect(c, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	}

	sqes, parks := s.counters.SQEs.Load(), s.counters.Parks.Load()
	for i := range conns {
		nfd, peer, err := ln.Accept()
		require.NoError(t, err, "accept %d", i)
		require.IsType(t, &unix.SockaddrInet4{}, peer)
		unix.Close(nfd)
	}
	require.Zero(t, s.counters.SQEs.Load()-sqes, "requests through the ring to take %d queued conns", conns)
	require.Zero(t, s.counters.Parks.Load()-parks, "parks to take %d queued conns", conns)

	// An empty backlog still waits through the ring.
	done := make(chan error, 1)
	go func() {
		nfd, _, err := ln.Accept()
		if err == nil {
			unix.Close(nfd)
		}
		done <- err
	}()
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(c)
	require.NoError(t, unix.Connect(c, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, <-done)
}
