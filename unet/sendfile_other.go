//go:build !linux

package unet

import (
	"io"

	unetrt "github.com/unetio/unet/runtime"
)

// sendFile is only used on Linux, the one system with unet backends.
func sendFile(unetrt.FD, io.Reader) (int64, bool, error) { return 0, false, nil }
