package unet

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	unetrt "github.com/unetio/unet/runtime"
	"github.com/unetio/unet/runtime/epollsched"
	"github.com/unetio/unet/runtime/uringsched"
)

// EnvBackend is the environment variable that selects the backend.
const EnvBackend = "UNET_BACKEND"

// The backend names.
const (
	backendAuto  = "auto"
	backendURing = "uring"
	backendEpoll = "epoll"
	backendStd   = "std"
)

// Backend reports the backend that Listen and Dial use now, after
// UNET_BACKEND and, for auto, the probe's fallback: "uring", "epoll" or
// "std". An explicit backend that cannot start is still reported by name;
// Listen and Dial then fail with the reason.
func Backend() string {
	name, err := configured("")
	if err != nil {
		return name
	}
	if name == backendAuto {
		return autoBackend().name
	}
	return name
}

// configured returns the backend named by override or else by the
// environment, normalised, or an error for an unknown name.
func configured(override string) (string, error) {
	name := override
	if name == "" {
		name = os.Getenv(EnvBackend)
	}
	switch name {
	case "", backendAuto:
		return backendAuto, nil
	case backendURing, backendEpoll, backendStd:
		return name, nil
	}
	return name, fmt.Errorf("unet: unknown backend %q in %s (want uring, epoll, std or auto)", name, EnvBackend)
}

// scheduler returns the scheduler of the backend named by override or the
// environment, or nil for std.
func scheduler(override string) (unetrt.Scheduler, error) {
	name, err := configured(override)
	if err != nil {
		return nil, err
	}
	switch name {
	case backendAuto:
		return autoBackend().sched, nil
	case backendURing:
		s, err := uringsched.Default()
		if err != nil {
			return nil, fmt.Errorf("unet: io_uring unavailable: %w", err)
		}
		return s, nil
	case backendEpoll:
		s, err := epollsched.Default()
		if err != nil {
			return nil, fmt.Errorf("unet: epoll unavailable: %w", err)
		}
		return s, nil
	}
	return nil, nil
}

// autoChoice is what auto resolved to; it is decided once per process.
type autoChoice struct {
	name  string
	sched unetrt.Scheduler
}

var autoBackend = sync.OnceValue(func() autoChoice {
	s, uerr := uringsched.Default()
	if uerr == nil {
		slog.Info("unet: backend selected", "backend", backendURing, "reason", "io_uring available")
		return autoChoice{backendURing, s}
	}
	e, eerr := epollsched.Default()
	if eerr == nil {
		slog.Info("unet: backend selected", "backend", backendEpoll, "reason", uerr.Error())
		return autoChoice{backendEpoll, e}
	}
	slog.Info("unet: backend selected", "backend", backendStd, "reason", errors.Join(uerr, eerr).Error())
	return autoChoice{backendStd, nil}
})
