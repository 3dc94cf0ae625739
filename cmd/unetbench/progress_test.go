package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgressETA(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var out bytes.Buffer
	p := newProgress(&out, clock, map[string]planStep{
		"load": {4, 10 * time.Second},
		"mech": {2, 5 * time.Second},
	})
	require.Equal(t, 50*time.Second, p.Planned())
	// The first step took twice its plan: the rest is expected to, too.
	now = now.Add(20 * time.Second)
	p.step("load", "first")
	require.Equal(t, "[  1/6, ETA 1m20s] first\n", out.String())
	// Then on plan: 40 s for 30 s of plan, 20 s of plan left.
	now = now.Add(10 * time.Second)
	p.step("load", "second")
	now = now.Add(10 * time.Second)
	p.step("load", "third")
	require.True(t, strings.HasSuffix(out.String(), "[  3/6, ETA 27s] third\n"), out.String())
	p.step("load", "4")
	p.step("mech", "5")
	p.step("mech", "last")
	require.True(t, strings.HasSuffix(out.String(), "[  6/6, ETA 0s] last\n"), out.String())
}
