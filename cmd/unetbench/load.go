package main

import (
	"context"
	"time"
)

// LoadSpec is what a generator is asked to drive against a server.
type LoadSpec struct {
	Addr     string // host:port
	Path     string // request path and query
	Header   string // extra header line, or ""
	Conns    int
	Pipeline int // requests in flight per connection (h2: max concurrent streams)
	Duration time.Duration
}

// URL is the spec's target as a URL, for wrk and h2load.
func (s LoadSpec) URL() string { return "http://" + s.Addr + s.Path }

// LoadResult is what a generator measured, in the units of Sample.
type LoadResult struct {
	Requests    int64
	Seconds     float64
	ReqPerSec   float64
	P50Us       *float64 // nil when the tool does not report percentiles
	P99Us       *float64
	MeanUs      *float64
	MaxUs       *float64
	Errors      int64
	ErrorDetail string
}

// Generator drives load: wrk, h2load, or the built-in Go client.
type Generator interface {
	Name() string
	Run(ctx context.Context, spec LoadSpec) (LoadResult, error)
}
