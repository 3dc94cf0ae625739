package main

// Parsers for `perf report --stdio` and `go tool pprof -top`, reducing a
// raw profile to the shares the report tabulates.

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// topN is how many functions the profile table lists per backend.
const topN = 12

// perfSymRe matches a `perf report --stdio --no-children -g none --sort
// sym` line: "    13.50%  [k] irqentry_exit_to_user_mode".
var perfSymRe = regexp.MustCompile(`^\s*([\d.]+)%\s+\[(.)\]\s+(.+?)\s*$`)

// parsePerfSyms reads a symbol report: the kernel ([k]) and user (any
// other mark: [.] user, [g] guest...) entries, each sorted by share, and
// the total share of each side.
func parsePerfSyms(out string) (kernel, user []FuncShare, kPct, uPct float64) {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := perfSymRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		f := FuncShare{Name: m[3], Pct: v}
		if m[2] == "k" {
			kernel = append(kernel, f)
			kPct += v
		} else {
			user = append(user, f)
			uPct += v
		}
	}
	return sortShares(kernel), sortShares(user), kPct, uPct
}

// perfPidRe matches a `--sort pid` line: "     2.15%        0:swapper".
var perfPidRe = regexp.MustCompile(`^\s*([\d.]+)%\s+(\d+):`)

// parsePerfIdle sums the share of thread 0 (the idle task) in a `--sort
// pid` report: the part of the server's CPU nobody used.
func parsePerfIdle(out string) float64 {
	idle := 0.0
	for _, line := range strings.Split(out, "\n") {
		m := perfPidRe.FindStringSubmatch(line)
		if m == nil || m[2] != "0" {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		idle += v
	}
	return idle
}

// parsePprofTop reads `go tool pprof -top` output: after the header line
// "flat  flat%   sum%        cum   cum%", one function per line. The flat
// share is what the function itself spent.
func parsePprofTop(out string) []FuncShare {
	var fs []FuncShare
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 6 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		if err != nil {
			continue
		}
		fs = append(fs, FuncShare{Name: strings.Join(f[5:], " "), Pct: v})
	}
	return sortShares(fs)
}

// sortShares orders by share, largest first, and keeps topN.
func sortShares(fs []FuncShare) []FuncShare {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Pct > fs[j].Pct })
	if len(fs) > topN {
		fs = fs[:topN]
	}
	return fs
}
