//go:build unix && !linux

package uringsched

// Running reports that no io_uring scheduler runs: io_uring needs Linux.
func Running() (*Scheduler, bool) { return nil, false }
