//go:build unix && !linux

package epollsched

import (
	"errors"

	"github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// errNoEpoll is what every entry point returns off Linux.
var errNoEpoll = errors.New("epollsched: epoll needs Linux")

// Scheduler is the epoll backend, which exists only on Linux; elsewhere
// Default fails and no usable Scheduler can be had.
type Scheduler struct{ counters runtime.Counters }

var _ runtime.Scheduler = (*Scheduler)(nil)

// Default returns an error: epoll needs Linux.
func Default() (*Scheduler, error) { return nil, errNoEpoll }

// Name implements runtime.Scheduler.
func (s *Scheduler) Name() string { return "epoll" }

// NewFD implements runtime.Scheduler; it closes sysfd and fails.
func (s *Scheduler) NewFD(sysfd int) (runtime.FD, error) {
	unix.Close(sysfd)
	return nil, errNoEpoll
}

// Counters implements runtime.Scheduler.
func (s *Scheduler) Counters() *runtime.Counters { return &s.counters }
