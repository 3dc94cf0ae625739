package uringsched

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	unetrt "github.com/unetio/unet/runtime"
)

// TestPoolShrinksAfterBurst: a burst of unread data grows the buffers in
// circulation; once it is read and the load falls back to a trickle, the
// pool retires what it no longer needs, and every byte arrives.
func TestPoolShrinksAfterBurst(t *testing.T) {
	cfg := defaultConfig
	cfg.bufCount, cfg.bufSize, cfg.bufInitial = 1024, 1024, 16
	s := testScheduler(t, cfg)
	checkReleased(t, s)
	if !s.mshotLimit {
		t.Skip("the kernel cannot limit a multishot receive (Linux 6.16)")
	}

	const conns, size = 16, 32 << 10
	type pair struct{ c, srv unetrt.FD }
	pairs := make([]pair, conns)
	payload := make([]byte, size)
	for i := range pairs {
		pairs[i].c, pairs[i].srv = tcpPair(t, s)
		_, err := pairs[i].c.Write([]byte{1})
		require.NoError(t, err)
		// A large Read arms a receive that may take the whole burst.
		_, err = pairs[i].srv.Read(make([]byte, 2*size))
		require.NoError(t, err)
		_, err = pairs[i].c.Write(payload)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return s.pool.circulating.Load() > 256 }, 5*time.Second, time.Millisecond,
		"the burst did not grow the pool: %d circulate", s.pool.circulating.Load())
	peak := s.pool.circulating.Load()
	for i, p := range pairs {
		got := 0
		buf := make([]byte, 4096)
		p.srv.SetDeadline(time.Now().Add(10*time.Second), unetrt.ModeRead)
		for got < size {
			n, err := p.srv.Read(buf)
			require.NoError(t, err, "conn %d after %d bytes", i, got)
			got += n
		}
	}

	// A trickle on one conn walks the ring; past the pool's window, the
	// buffers it brings back are retired.
	time.Sleep(trimWindow + 100*time.Millisecond)
	p := pairs[0]
	buf := make([]byte, 64)
	for i := range 4000 {
		msg := fmt.Appendf(nil, "msg %d", i)
		_, err := p.c.Write(msg)
		require.NoError(t, err)
		n, err := p.srv.Read(buf)
		require.NoError(t, err)
		require.Equal(t, string(msg), string(buf[:n]))
		if i == 2000 {
			time.Sleep(trimWindow) // a second window, past the burst's peak
		}
	}
	after := s.pool.circulating.Load()
	t.Logf("circulating: %d at the burst's peak, %d after the trickle (target %d)", peak, after, s.pool.target.Load())
	require.Less(t, after, peak/2, "the pool did not shrink after the burst")
}

// TestPoolTargetIsStable: under a steady load, the circulating count the
// pool trims to must not be one at which the ring is low, or every buffer
// given back is retired and then grown again. With a target of 1.25 times
// the peak it was, at every load above a few buffers, and at 4096 conns
// the madvise calls of that churn took 3% of the server's CPU.
func TestPoolTargetIsStable(t *testing.T) {
	for held := int32(1); held <= 1<<16; held++ {
		target := targetFor(held, 16)
		require.False(t, ringLow(target-held, target),
			"%d buffers held steadily: at the target of %d the ring is low, so the pool grows again", held, target)
	}
}
