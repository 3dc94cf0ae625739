package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Captured from perf 6.18 `perf report --stdio --no-children -g none
// --percentage absolute --pid <server> --sort sym` (trimmed).
const perfSymOut = `# To display the perf.data header info, please use --header/--header-only options.
#
# Total Lost Samples: 0
#
# Samples: 8K of event 'cpu-clock'
# Event count (approx.): 2017000000
#
# Overhead  Symbol
# ........  ......................................
#
     5.50%  [k] _raw_spin_unlock_irqrestore
     1.90%  [k] do_syscall_64
     0.90%  [.] runtime.mallocgcSmallScanNoHeader
     0.60%  [.] net/textproto.CanonicalMIMEHeaderKey
     0.50%  [.] internal/sync.(*entry[go.shape.interface {},go.shape.interface {}]).compareAndSwap
     0.40%  [k] irqentry_exit_to_user_mode
     0.01%  [.] 0x00007f3a2c1b2e40


#
# (Tip: To change sampling frequency to 100 Hz: perf record -F 100)
#
`

// Captured from `perf report ... --sort pid` on the server's CPU.
const perfPidOut = `# Overhead      Pid:Command
# ........  .......................
#
    28.50%    24551:server
    10.50%    26320:unet-after.test
     2.15%        0:swapper
     0.10%        0:swapper
`

// Captured from `go tool pprof -top` (Go 1.26).
const pprofTopOut = `File: server
Build ID: df1adc2a47ad19a3f630ea6ee86614c993f6b242
Type: cpu
Time: 2026-12-02 01:09:50 UTC
Duration: 2s, Total samples = 680ms (34.00%)
Showing nodes accounting for 340ms, 50.00% of 680ms total
Showing top 8 nodes out of 165
      flat  flat%   sum%        cum   cum%
     220ms 32.35% 32.35%      220ms 32.35%  internal/runtime/syscall/linux.Syscall6
      20ms  2.94% 35.29%       20ms  2.94%  internal/poll.(*fdMutex).decref
      20ms  2.94% 41.18%       40ms  5.88%  net/textproto.validHeaderFieldByte (inline)
         0     0% 50.00%      100ms 14.71%  net/http.(*conn).serve
`

func TestParsePerfSyms(t *testing.T) {
	k, u, kp, up := parsePerfSyms(perfSymOut)
	require.Equal(t, []FuncShare{{"_raw_spin_unlock_irqrestore", 5.5}, {"do_syscall_64", 1.9}, {"irqentry_exit_to_user_mode", 0.4}}, k)
	require.Len(t, u, 4)
	require.Equal(t, FuncShare{"internal/sync.(*entry[go.shape.interface {},go.shape.interface {}]).compareAndSwap", 0.5}, u[2],
		"symbols with spaces are kept whole")
	require.InDelta(t, 7.8, kp, 1e-9)
	require.InDelta(t, 2.01, up, 1e-9)

	k, u, kp, up = parsePerfSyms("# only comments\n")
	require.Empty(t, k)
	require.Empty(t, u)
	require.Zero(t, kp+up)
}

func TestParsePerfIdle(t *testing.T) {
	require.InDelta(t, 2.25, parsePerfIdle(perfPidOut), 1e-9)
	require.Zero(t, parsePerfIdle(""))
}

func TestParsePprofTop(t *testing.T) {
	fs := parsePprofTop(pprofTopOut)
	require.Equal(t, []FuncShare{
		{"internal/runtime/syscall/linux.Syscall6", 32.35},
		{"internal/poll.(*fdMutex).decref", 2.94},
		{"net/textproto.validHeaderFieldByte (inline)", 2.94},
		{"net/http.(*conn).serve", 0},
	}, fs)
	require.Empty(t, parsePprofTop("File: server\n"), "no table, no functions")
}

func TestSortSharesKeepsTop(t *testing.T) {
	var fs []FuncShare
	for i := range 2 * topN {
		fs = append(fs, FuncShare{Name: string(rune('a' + i)), Pct: float64(i)})
	}
	top := sortShares(fs)
	require.Len(t, top, topN)
	require.Equal(t, float64(2*topN-1), top[0].Pct)
}
