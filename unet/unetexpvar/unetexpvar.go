// Package unetexpvar publishes unet's counters, unet.Stats, as the expvar
// variable "unet". It is imported only for that side effect, the way
// net/http/pprof is:
//
//	import _ "github.com/unetio/unet/unet/unetexpvar"
//
// Importing it also imports expvar, which registers the handler of
// /debug/vars, with the process's command line and memory statistics, on
// http.DefaultServeMux. Package unet itself imports neither, so that using
// unet changes nothing else in a program.
package unetexpvar

import (
	"expvar"

	"github.com/unetio/unet/unet"
)

func init() {
	expvar.Publish("unet", expvar.Func(func() any { return unet.Stats() }))
}
