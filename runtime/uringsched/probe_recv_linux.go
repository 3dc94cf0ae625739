package uringsched

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// probeRecv finds out, before the loop starts, what the kernel's multishot
// receive can do, by using it on a socket pair holding two bytes:
//
//   - limited to one byte in all, it must post one byte and stop: the kernel
//     bounds read-ahead itself (IORING_RECV_MSHOT_LIM, Linux 6.16), and
//     s.mshotLimit is set;
//   - else, unlimited, it must post both bytes and stay armed: read-ahead is
//     then bounded by cancelling the receive (config.maxQueued);
//   - else the kernel has no multishot receive (Linux 6.0), and uring
//     cannot start: the opcode probe does not show it, since RECV itself
//     is older.
func (s *Scheduler) probeRecv() error {
	if err := testHookProbeRecv(); err != nil {
		return err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("probing multishot receive: %w", os.NewSyscallError("socketpair", err))
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte("ab")); err != nil {
		return fmt.Errorf("probing multishot receive: %w", os.NewSyscallError("write", err))
	}

	const udLimited, udUnlimited = 1, 2
	s.ring.GetSQE().PrepRecvMultishot(int32(fds[0]), bufGroup, 1, 1, udLimited)
	c, err := s.probeWait()
	if err != nil {
		return err
	}
	if c.Res == 1 && c.Flags&cqeFMore == 0 {
		// UNET_URING_READAHEAD=0 measures receives without the limit.
		s.mshotLimit = s.cfg.maxReadAhead > 0
		s.pool.limited = s.mshotLimit
		return nil
	}
	if c.Res != -int32(unix.EINVAL) {
		return fmt.Errorf("probing multishot receive: limited to 1 byte, got result %d, flags %#x", c.Res, c.Flags)
	}

	s.ring.GetSQE().PrepRecvMultishot(int32(fds[0]), bufGroup, 0, 0, udUnlimited)
	if c, err = s.probeWait(); err != nil {
		return err
	}
	if c.Res == -int32(unix.EINVAL) {
		return errors.New("kernel lacks multishot receive (IORING_RECV_MULTISHOT, Linux 6.0+)")
	}
	if c.Res != 2 || c.Flags&cqeFMore == 0 {
		return fmt.Errorf("probing multishot receive: got result %d, flags %#x", c.Res, c.Flags)
	}
	// Still armed: cancel it and wait for its last completion, so that
	// nothing of the probe is left in the kernel.
	s.ring.GetSQE().PrepCancel(udUnlimited, 0, 0)
	for c.Flags&cqeFMore != 0 || c.UserData != udUnlimited {
		if c, err = s.probeWait(); err != nil {
			return err
		}
	}
	return nil
}

// probeWait submits what is queued, waits for completions and returns the
// last one of a request (user_data not 0), giving back the provided
// buffers they used.
func (s *Scheduler) probeWait() (cqe, error) {
	var got cqe
	for {
		if _, err := s.ring.Submit(1, true); err != nil {
			return got, fmt.Errorf("probing multishot receive: %w", os.NewSyscallError("io_uring_enter", err))
		}
		got.UserData = 0
		s.ring.Reap(func(c *cqe) {
			if c.UserData != 0 {
				got = *c
			}
			if c.Flags&cqeFBuffer != 0 {
				s.pool.take()
				s.recycle([]uint16{uint16(c.Flags >> cqeBufferShift)})
			}
		})
		if got.UserData != 0 {
			return got, nil
		}
	}
}
