package unet

import (
	"expvar"

	unetrt "github.com/unetio/unet/runtime"
)

// Snapshot holds the counters of a backend at one moment. For std it
// holds only the backend's name: the standard library keeps no counters.
type Snapshot struct {
	Backend string
	unetrt.Snapshot
}

// Stats returns the counters of the backend in force, starting its
// scheduler if it is not running yet.
func Stats() Snapshot {
	st := Snapshot{Backend: Backend()}
	if sched, err := scheduler(st.Backend); err == nil && sched != nil {
		st.Snapshot = sched.Counters().Snapshot()
	}
	return st
}

// The expvar variable "unet" shows Stats at /debug/vars.
func init() {
	expvar.Publish("unet", expvar.Func(func() any { return Stats() }))
}
