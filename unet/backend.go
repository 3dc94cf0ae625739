package unet

import (
	"fmt"
	"os"
)

// EnvBackend is the environment variable that selects the backend.
const EnvBackend = "UNET_BACKEND"

// BackendName names a backend. It is an alias of string, so that the
// Backend fields of ListenConfig and Dialer, which are strings, take the
// constants below as well as names held in string variables, and so that
// code comparing Backend() with a string literal keeps compiling.
type BackendName = string

// The backends, for UNET_BACKEND, ListenConfig.Backend and Dialer.Backend.
const (
	// BackendAuto is io_uring where the kernel allows it, else epoll, else
	// std; std on systems other than Linux. It is the default.
	BackendAuto BackendName = "auto"
	// BackendURing runs I/O on io_uring completions (runtime/uringsched).
	BackendURing BackendName = "uring"
	// BackendEpoll runs I/O on unet's own edge-triggered epoll scheduler
	// (runtime/epollsched).
	BackendEpoll BackendName = "epoll"
	// BackendStd is the standard library's own listeners and conns,
	// untouched.
	BackendStd BackendName = "std"
)

// Backend reports the backend that Listen and Dial use now, after
// UNET_BACKEND and, for auto, the probe's fallback: BackendURing,
// BackendEpoll or BackendStd. An explicit backend that cannot start is
// still reported by name; Listen and Dial then fail with the reason.
// Resolving auto the first time starts the scheduler it picks.
func Backend() BackendName {
	name, err := configured("")
	if err != nil {
		return name
	}
	if name == BackendAuto {
		return autoBackend().name
	}
	return name
}

// configured returns the backend named by override or else by the
// environment, normalised, or an error for an unknown name.
func configured(override string) (BackendName, error) {
	name, source := override, "the Backend field"
	if name == "" {
		name, source = os.Getenv(EnvBackend), EnvBackend
	}
	switch name {
	case "", BackendAuto:
		return BackendAuto, nil
	case BackendURing, BackendEpoll, BackendStd:
		return name, nil
	}
	return name, fmt.Errorf("unet: unknown backend %q in %s (want uring, epoll, std or auto)", name, source)
}
