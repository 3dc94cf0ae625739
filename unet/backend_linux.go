package unet

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	unetrt "github.com/unetio/unet/runtime"
	"github.com/unetio/unet/runtime/epollsched"
	"github.com/unetio/unet/runtime/uringsched"
)

// scheduler returns the scheduler of the backend named by override or the
// environment, or nil for std, starting it on first use.
func scheduler(override string) (unetrt.Scheduler, error) {
	name, err := configured(override)
	if err != nil {
		return nil, err
	}
	var sched unetrt.Scheduler
	switch name {
	case BackendAuto:
		return autoBackend().sched, nil
	case BackendURing:
		s, err := uringsched.Default()
		if err != nil {
			return nil, fmt.Errorf("unet: io_uring unavailable: %w", err)
		}
		logRefused(s)
		sched = s
	case BackendEpoll:
		s, err := epollsched.Default()
		if err != nil {
			return nil, fmt.Errorf("unet: epoll unavailable: %w", err)
		}
		sched = s
	}
	logExplicit(name, override)
	return sched, nil
}

// explicitLogged holds, per backend, the Once that logs its first use by
// name.
var explicitLogged = map[BackendName]*sync.Once{
	BackendURing: new(sync.Once), BackendEpoll: new(sync.Once), BackendStd: new(sync.Once),
}

// logExplicit logs, once per backend, that a backend named explicitly
// serves: the counterpart of auto's log line, at Debug because nothing
// was chosen for the user.
func logExplicit(name BackendName, override string) {
	source := EnvBackend
	if override != "" {
		source = "ListenConfig.Backend or Dialer.Backend"
	}
	explicitLogged[name].Do(func() {
		logger().Debug("backend selected", "backend", name, "reason", "named in "+source)
	})
}

// refusedLogged makes logRefused log once per process.
var refusedLogged sync.Once

// logRefused logs, once, the io_uring features the kernel refused and
// the ring runs without (COOP_TASKRUN before Linux 5.19).
func logRefused(s *uringsched.Scheduler) {
	refusedLogged.Do(func() {
		for _, r := range s.Refused() {
			logger().Warn("io_uring runs without a feature", "backend", BackendURing, "feature", r)
		}
	})
}

// autoChoice is what auto resolved to.
type autoChoice struct {
	name  BackendName
	sched unetrt.Scheduler
	// final says the choice holds for the life of the process: io_uring
	// started, or it was refused for good. A refusal for want of
	// descriptors or memory is not final: the next use tries again, so
	// that a shortage at the first conn does not keep the process off
	// io_uring.
	final bool
}

// autoResolved is auto's choice once it is final.
var (
	autoResolved atomic.Pointer[autoChoice]
	autoMu       sync.Mutex
	// transientLogged says a passing refusal was logged already, so
	// that a shortage does not log on every dial.
	transientLogged bool
)

// autoBackend returns auto's choice, deciding it if no final choice was
// made yet.
func autoBackend() autoChoice {
	if c := autoResolved.Load(); c != nil {
		return *c
	}
	autoMu.Lock()
	defer autoMu.Unlock()
	if c := autoResolved.Load(); c != nil {
		return *c
	}
	c := probeAuto(
		func() (unetrt.Scheduler, error) { return uringsched.Default() },
		func() (unetrt.Scheduler, error) { return epollsched.Default() })
	if c.final {
		autoResolved.Store(&c)
	}
	return c
}

// probeAuto starts io_uring, or else epoll, and logs what it chose and
// why. The schedulers' Default functions are parameters so that tests can
// make them fail. autoMu is held.
func probeAuto(uring, epoll func() (unetrt.Scheduler, error)) autoChoice {
	s, uerr := uring()
	if uerr == nil {
		logger().Info("backend selected", "backend", BackendURing, "reason", "io_uring available")
		if us, ok := s.(*uringsched.Scheduler); ok {
			logRefused(us)
		}
		return autoChoice{BackendURing, s, true}
	}
	final := !transient(uerr)
	logFallback := final || !transientLogged
	transientLogged = transientLogged || !final
	e, eerr := epoll()
	if eerr == nil {
		if logFallback {
			logger().Warn("io_uring unavailable, falling back to epoll", "backend", BackendEpoll, "err", uerr, "retry", !final)
		}
		return autoChoice{BackendEpoll, e, final}
	}
	if logFallback {
		logger().Warn("io_uring and epoll unavailable, falling back to std", "backend", BackendStd, "err", errors.Join(uerr, eerr), "retry", !final)
	}
	return autoChoice{BackendStd, nil, final && !transient(eerr)}
}

// transient reports whether a backend failed to start for want of a
// resource that may come back: descriptors or memory.
func transient(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS, syscall.EAGAIN} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// chosenBackend is the backend in force as far as it is known without
// starting anything: BackendAuto while auto has not chosen yet.
func chosenBackend() BackendName {
	name, err := configured("")
	if err != nil || name != BackendAuto {
		return name
	}
	if c := autoResolved.Load(); c != nil {
		return c.name
	}
	return BackendAuto
}

// runningCounters returns the counters of the backend's scheduler if it
// is already running, and nil otherwise: it never starts one.
func runningCounters(name BackendName) *unetrt.Counters {
	switch name {
	case BackendURing:
		if s, ok := uringsched.Running(); ok {
			return s.Counters()
		}
	case BackendEpoll:
		if s, ok := epollsched.Running(); ok {
			return s.Counters()
		}
	}
	return nil
}
