//go:build !linux

package unet

import (
	"fmt"
	"runtime"
	"sync"

	unetrt "github.com/unetio/unet/runtime"
)

// checkBackend accepts the backends that run on this system, std and
// auto (which means std here), and fails for uring and epoll, which need
// Linux: a backend named explicitly is never silently replaced.
func checkBackend(override string) error {
	name, err := configured(override)
	if err != nil {
		return err
	}
	switch name {
	case BackendURing, BackendEpoll:
		return fmt.Errorf("unet: the %s backend needs Linux, this is %s", name, runtime.GOOS)
	case BackendAuto:
		autoBackend()
	}
	return nil
}

// autoChoice is what auto resolved to: std on every system but Linux.
type autoChoice struct{ name BackendName }

var autoBackend = sync.OnceValue(func() autoChoice {
	logger().Debug("backend selected", "backend", BackendStd, "reason", "io_uring and epoll need Linux")
	return autoChoice{BackendStd}
})

// chosenBackend is the backend in force: auto is std here.
func chosenBackend() BackendName {
	name, err := configured("")
	if err == nil && name == BackendAuto {
		return BackendStd
	}
	return name
}

// runningCounters returns nil: no scheduler runs on this system.
func runningCounters(BackendName) *unetrt.Counters { return nil }
