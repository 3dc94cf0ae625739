package unet

import unetrt "github.com/unetio/unet/runtime"

// Snapshot holds the counters of a backend at one moment. For std it
// holds only the backend's name: the standard library keeps no counters.
type Snapshot struct {
	Backend BackendName // the backend in force, BackendAuto while auto has not chosen
	unetrt.Snapshot
}

// Stats returns the counters of the backend in force (see Backend). It has
// no side effects: it starts no scheduler and does not resolve auto. A
// backend that nothing has used yet reports zero counters, and while auto
// has not chosen yet, because nothing listened or dialed with it, Backend
// is BackendAuto.
//
// Import github.com/unetio/unet/unet/unetexpvar to publish Stats as the
// expvar variable "unet".
func Stats() Snapshot {
	st := Snapshot{Backend: chosenBackend()}
	if c := runningCounters(st.Backend); c != nil {
		st.Snapshot = c.Snapshot()
	}
	return st
}
