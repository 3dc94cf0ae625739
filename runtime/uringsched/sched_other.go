//go:build unix && !linux

package uringsched

import (
	"errors"
	"net"

	unetrt "github.com/unetio/unet/runtime"
)

// Scheduler is the io_uring scheduler; it exists only on Linux.
type Scheduler struct{}

// Default reports that io_uring needs Linux.
func Default() (*Scheduler, error) { return nil, errors.New("io_uring needs Linux") }

// Name implements runtime.Scheduler.
func (*Scheduler) Name() string { return "uring" }

// NewFD implements runtime.Scheduler.
func (*Scheduler) NewFD(int) (unetrt.FD, error) { return nil, net.ErrClosed }

// Counters implements runtime.Scheduler.
func (*Scheduler) Counters() *unetrt.Counters { return new(unetrt.Counters) }
