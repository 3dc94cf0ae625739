package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCPUTicksAndOtherLoad(t *testing.T) {
	stat := "cpu  300 0 200 1000 10 0 5 0 0 0\n" +
		"cpu0 100 0 50 800 0 0 0 0 0 0\n" +
		"cpu1 200 0 150 200 10 0 5 0 0 0\n"
	c0, err := parseCPUTicks(stat, 0)
	require.NoError(t, err)
	require.Equal(t, cpuTicks{total: 950, idle: 800}, c0)
	c1, err := parseCPUTicks(stat, 1)
	require.NoError(t, err)
	require.Equal(t, cpuTicks{total: 565, idle: 210}, c1)
	_, err = parseCPUTicks(stat, 2)
	require.Error(t, err)

	// 200 ticks pass, 20 idle: 180 busy, 150 of them the server's.
	after := cpuTicks{total: c0.total + 200, idle: c0.idle + 20}
	v, ok := otherLoadPct(c0, after, 150)
	require.True(t, ok)
	require.InDelta(t, 15.0, v, 1e-9)
	// Tick rounding can put the server above the CPU's busy time.
	v, ok = otherLoadPct(c0, after, 190)
	require.True(t, ok)
	require.Zero(t, v)
	_, ok = otherLoadPct(c0, c0, 0)
	require.False(t, ok)
}
