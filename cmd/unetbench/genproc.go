package main

// Runs the built-in generator (gen.go) in a child process of this binary,
// so that it can be pinned to the generator CPU with its own GOMAXPROCS
// exactly like wrk, while the orchestrator stays out of the measurement.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// genChildArg is the hidden first argument that turns this binary into a
// generator child: `unetbench __gen '<GenConfig JSON>'`.
const genChildArg = "__gen"

// genChildMain is the child's main: run, print the GenResult as JSON.
func genChildMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: unetbench __gen '<json config>'")
		return 2
	}
	var cfg GenConfig
	if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gen child:", err)
		return 2
	}
	res, err := RunGen(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "gen child:", err)
		return 1
	}
	return 0
}

// builtinGen runs the built-in generator as a pinned child process.
type builtinGen struct {
	self string // this executable
	pin  Pinning
}

func (b *builtinGen) Name() string { return "built-in Go generator (keep-alive HTTP/1.1, raw TCP)" }

// Run starts the child, waits for its JSON result and converts it.
func (b *builtinGen) Run(ctx context.Context, spec LoadSpec) (LoadResult, error) {
	cfg := GenConfig{Addr: spec.Addr, Path: spec.Path, Header: spec.Header,
		Conns: spec.Conns, Pipeline: spec.Pipeline, Duration: spec.Duration}
	js, err := json.Marshal(cfg)
	if err != nil {
		return LoadResult{}, err
	}
	argv := b.pin.Wrap([]string{b.self, genChildArg, string(js)}, b.pin.GenCPU)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv(nil, b.pin.Enabled)
	cmd.SysProcAttr = childAttr()
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		return LoadResult{}, err
	}
	b.pin.AfterStart(cmd.Process.Pid, b.pin.GenCPU)
	if err := cmd.Wait(); err != nil {
		return LoadResult{}, fmt.Errorf("generator child: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res GenResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return LoadResult{}, fmt.Errorf("generator child output: %v", err)
	}
	return genToLoad(res), nil
}

// genToLoad converts the generator's result to the common form.
func genToLoad(r GenResult) LoadResult {
	lr := LoadResult{Requests: r.Requests, Seconds: r.Seconds, Errors: r.Non2xx + r.ConnErrors}
	if r.Seconds > 0 {
		lr.ReqPerSec = float64(r.Requests) / r.Seconds
	}
	if r.Requests > 0 {
		lr.P50Us, lr.P99Us, lr.MeanUs, lr.MaxUs = f64(r.P50Us), f64(r.P99Us), f64(r.MeanUs), f64(r.MaxUs)
	}
	if lr.Errors > 0 {
		lr.ErrorDetail = fmt.Sprintf("non-2xx %d, connection errors %d", r.Non2xx, r.ConnErrors)
		if r.FirstError != "" {
			lr.ErrorDetail += " (first: " + r.FirstError + ")"
		}
	}
	return lr
}
