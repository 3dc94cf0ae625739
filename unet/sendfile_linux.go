package unet

import (
	"io"
	"os"

	unetrt "github.com/unetio/unet/runtime"
	"golang.org/x/sys/unix"
)

// maxSendfileSize caps one sendfile(2) call, as internal/poll does.
const maxSendfileSize = 4 << 20

// sendFile copies from r to fd with sendfile(2) when r is a regular file,
// or an io.LimitedReader around one, waiting for writability on the
// scheduler between calls so that deadlines and Close apply. handled is
// false when r is not such a file and nothing was written, and, as in
// internal/poll, when the conn was closed or past its write deadline
// before sendfile ran: the caller's copy then fails as net's does.
func sendFile(fd unetrt.FD, r io.Reader) (written int64, handled bool, err error) {
	remain := int64(1<<63 - 1)
	lr, ok := r.(*io.LimitedReader)
	if ok {
		remain, r = lr.N, lr.R
		if remain <= 0 {
			return 0, true, nil
		}
	}
	f, ok := r.(*os.File)
	if !ok {
		return 0, false, nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, false, nil
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var (
		serr, werr error
		ran        bool
	)
	cerr := sc.Control(func(src uintptr) {
		werr = fd.RawWrite(func(dst int) bool {
			ran = true
			for remain > 0 {
				n, err := unix.Sendfile(dst, int(src), nil, int(min(remain, maxSendfileSize)))
				if n > 0 {
					written += int64(n)
					remain -= int64(n)
				}
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false
				case err != nil:
					serr = err
					return true
				case n == 0:
					return true // end of file
				}
			}
			return true
		})
	})
	if lr != nil {
		lr.N = remain
	}
	if cerr != nil {
		return written, true, cerr
	}
	if werr != nil && !ran {
		return 0, false, nil
	}
	if werr != nil {
		return written, true, werr
	}
	if written == 0 && serr == unix.EINVAL {
		// The file system cannot sendfile; copy instead.
		return 0, false, nil
	}
	return written, true, serr
}
