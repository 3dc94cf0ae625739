package unet

import (
	"log/slog"
	"sync/atomic"
)

// userLogger is the logger set by SetLogger; nil means slog.Default().
var userLogger atomic.Pointer[slog.Logger]

// SetLogger sets the logger that unet reports its backend choice to: at
// Info which backend auto chose, at Warn each fallback with its cause in
// the attribute "err", and at Debug a backend named explicitly, the first
// time it is used. A nil logger restores the default, slog.Default() at
// the time of each message.
func SetLogger(l *slog.Logger) { userLogger.Store(l) }

// logger returns the logger in force.
func logger() *slog.Logger {
	if l := userLogger.Load(); l != nil {
		return l
	}
	return slog.Default()
}
