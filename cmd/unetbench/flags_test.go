package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuickFlags(t *testing.T) {
	c, err := parseFlags([]string{"-quick"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{16, 256, 4096}, c.conns)
	require.Equal(t, []int{13}, c.sizes)
	require.Empty(t, c.fileSizes)
	require.Equal(t, time.Second, c.duration)
	require.Equal(t, MinPairs, c.reps, "-quick runs enough pairs for a verdict")
	require.Equal(t, 1, c.idleReps)
	require.Equal(t, 2*time.Second, c.mechDuration)
	require.Equal(t, []string{"std", controlBackend, "epoll", "uring"}, c.backends, "the A/A control runs by default")
	var labels []string
	for _, p := range buildPoints(c) {
		labels = append(labels, p.Label())
	}
	require.Equal(t, []string{
		"http/1.1 c=16 13 B p1", "http/1.1 c=256 13 B p1", "http/1.1 c=4096 13 B p1",
		"http/1.1 c=256 13 B p16", "idle 10000 conns",
	}, labels)

	// Explicit flags win over -quick's defaults.
	c, err = parseFlags([]string{"-quick", "-conns", "16", "-duration", "3s", "-backends", "std", "-control=false"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{16}, c.conns)
	require.Equal(t, 3*time.Second, c.duration)
	require.Equal(t, []string{"std"}, c.backends)
	require.Len(t, buildPoints(c), 4) // c16 p1, c256 p1 and p16 (pipeline pair), idle
}

func TestFullFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []int{1, 16, 256, 1024, 4096, 10000}, c.conns)
	require.Equal(t, []int{13, 4096, 65536, 1 << 20}, c.sizes)
	require.Equal(t, 6, c.reps)
	require.Equal(t, 6, c.idleReps)
	require.Equal(t, 3*time.Second, c.duration)
	require.Equal(t, 3*time.Second, c.mechDuration)
	require.False(t, c.profile)
	require.True(t, c.restart, "a fresh server per repetition by default")
	points := buildPoints(c)
	require.Len(t, points, 4*6+1+2*2+1) // sizes x conns, p16, files x file-conns, idle
	_, err = parseFlags([]string{"-sizes", "2m"}, io.Discard)
	require.Error(t, err)
	_, err = parseFlags([]string{"-conns", "x"}, io.Discard)
	require.Error(t, err)
}

func TestWithControl(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"std", "uring"}, []string{"std", controlBackend, "uring"}},
		{[]string{"uring", "std"}, []string{"uring", "std", controlBackend}},
		{[]string{"std", "std+X=1"}, []string{"std", controlBackend, "std+X=1"}},
		{[]string{"std", controlBackend}, []string{"std", controlBackend}},
		{[]string{"epoll", "uring"}, []string{"epoll", "uring"}}, // no std, no ratios, no control
	} {
		require.Equal(t, tc.want, withControl(tc.in), "%v", tc.in)
	}
}

func TestBackendOrder(t *testing.T) {
	b := []string{"A", "B", "C"}
	require.Equal(t, []string{"A", "B", "C"}, backendOrder(b, 0, 0))
	require.Equal(t, []string{"C", "B", "A"}, backendOrder(b, 1, 0))
	require.Equal(t, []string{"B", "C", "A"}, backendOrder(b, 2, 0))
	require.Equal(t, []string{"A", "C", "B"}, backendOrder(b, 3, 0))
	require.Equal(t, []string{"C", "B", "A"}, backendOrder(b, 0, 1), "alternates within a repetition")
	// Over six repetitions every backend runs first exactly twice.
	first := map[string]int{}
	for rep := 0; rep < 6; rep++ {
		first[backendOrder(b, rep, 0)[0]]++
	}
	require.Equal(t, map[string]int{"A": 2, "B": 2, "C": 2}, first)
}

func TestCommandLine(t *testing.T) {
	require.Equal(t, "go run ./cmd/unetbench -quick -out \"a b\"", commandLine([]string{"/tmp/go-build123/b001/exe/unetbench", "-quick", "-out", "a b"}))
	require.Equal(t, "./unetbench -reps 8", commandLine([]string{"./unetbench", "-reps", "8"}))
}

func TestSplitVariant(t *testing.T) {
	for _, tc := range []struct {
		spec, backend string
		env           []string
	}{
		{"uring", "uring", nil},
		{"std", "std", nil},
		{"uring+UNET_URING_SHARDS=2", "uring", []string{"UNET_URING_SHARDS=2"}},
		{"uring+A=1+B=2", "uring", []string{"A=1", "B=2"}},
	} {
		b, env := splitVariant(tc.spec)
		require.Equal(t, tc.backend, b, tc.spec)
		require.Equal(t, tc.env, env, tc.spec)
	}
}
