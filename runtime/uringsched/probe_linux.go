package uringsched

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// explainSetupError says why io_uring_setup failed in words a user can act
// on: the errno alone does not tell seccomp from a sysctl.
func explainSetupError(err error) error {
	var hint string
	switch {
	case errors.Is(err, unix.ENOSYS):
		hint = "the kernel has no io_uring (Linux 5.1+, CONFIG_IO_URING)"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		hint = "seccomp or kernel.io_uring_disabled?"
		if v := ioURingDisabled(); v != "" && v != "0" {
			hint = "kernel.io_uring_disabled=" + v
		}
	case errors.Is(err, unix.ENOMEM):
		hint = "locked memory limit too low? raise RLIMIT_MEMLOCK on kernels before 5.12"
	default:
		return err
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

// ioURingDisabled reads the sysctl that turns io_uring off (Linux 6.6+):
// 0 enabled, 1 only for the io_uring_group, 2 disabled; "" if absent.
func ioURingDisabled() string {
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
