package unet_test

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The keep-alive step: one of the three ways *net.TCPConn sets
// keep-alive, then the four socket options they touch, read back, so that
// the comparison holds unet's settings against net's own.

type kaKind uint8

const (
	kaSetKeepAlive kaKind = iota
	kaSetPeriod
	kaSetConfig
)

type kaAction struct {
	kind   kaKind
	enable bool
	period time.Duration
	cfg    net.KeepAliveConfig
}

// kaPeriods are the arguments of SetKeepAlivePeriod: negative (net leaves
// the socket alone), zero (net's 15 s default), and two that are set.
var kaPeriods = [4]time.Duration{-time.Second, 0, time.Second, 90 * time.Second}

// kaDurations are KeepAliveConfig's Idle and Interval; 1.5 s is rounded
// up to 2.
var kaDurations = [4]time.Duration{-time.Second, 0, 1500 * time.Millisecond, 90 * time.Second}

var kaCounts = [4]int{-1, 0, 1, 20}

// decodeKeepAlive: x chooses the method, y its argument; for
// SetKeepAliveConfig bit 0 of y is Enable and the pairs of bits above it
// Idle, Interval and Count.
func decodeKeepAlive(x, y byte) kaAction {
	a := kaAction{kind: kaKind(x % 3)}
	switch a.kind {
	case kaSetKeepAlive:
		a.enable = y&1 != 0
	case kaSetPeriod:
		a.period = kaPeriods[y&3]
	case kaSetConfig:
		a.cfg = net.KeepAliveConfig{
			Enable:   y&1 != 0,
			Idle:     kaDurations[y>>1&3],
			Interval: kaDurations[y>>3&3],
			Count:    kaCounts[y>>5&3],
		}
	}
	return a
}

func (a kaAction) String() string {
	switch a.kind {
	case kaSetKeepAlive:
		return fmt.Sprintf("SetKeepAlive(%v)", a.enable)
	case kaSetPeriod:
		return fmt.Sprintf("SetKeepAlivePeriod(%v)", a.period)
	}
	return fmt.Sprintf("SetKeepAliveConfig(%+v)", a.cfg)
}

// sKA, sKAP and sKAC encode the three kinds; the arguments of the last
// two are indexes into kaPeriods, kaDurations and kaCounts.
func sKA(side int, on bool) []byte {
	return []byte{opByte(fopKeepAlive, side), byte(kaSetKeepAlive), byte(boolBit(on))}
}

func sKAP(side, period int) []byte {
	return []byte{opByte(fopKeepAlive, side), byte(kaSetPeriod), byte(period)}
}

func sKAC(side int, enable bool, idle, interval, count int) []byte {
	return []byte{opByte(fopKeepAlive, side), byte(kaSetConfig), byte(boolBit(enable) | idle<<1 | interval<<3 | count<<5)}
}

func boolBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keepAliver is how *net.TCPConn sets keep-alive.
type keepAliver interface {
	SetKeepAlive(bool) error
	SetKeepAlivePeriod(time.Duration) error
	SetKeepAliveConfig(net.KeepAliveConfig) error
}

// keepAlive runs a keep-alive step: the setter's error, then the options.
// On unix sockets it is skipped: *net.UnixConn has no keep-alive methods,
// so there is nothing of net's to compare with.
func (w *world) keepAlive(side int, a kaAction) stepResult {
	if w.network != "tcp" {
		return stepResult{outs: []outcome{{what: "keepalive", class: "skipped(" + w.network + ")"}}}
	}
	c := w.conns[side]
	ka, ok := c.(keepAliver)
	if !ok {
		return stepResult{outs: []outcome{{what: "keepalive", class: fmt.Sprintf("no-method(%T)", c)}}}
	}
	var err error
	switch a.kind {
	case kaSetKeepAlive:
		err = ka.SetKeepAlive(a.enable)
	case kaSetPeriod:
		err = ka.SetKeepAlivePeriod(a.period)
	case kaSetConfig:
		err = ka.SetKeepAliveConfig(a.cfg)
	}
	return stepResult{outs: []outcome{
		{what: "keepalive", class: classify(err)},
		{what: "keepalive-options", class: keepAliveOptions(c)},
	}}
}

// keepAliveOptions reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and
// TCP_KEEPCNT, or says why it could not.
func keepAliveOptions(c net.Conn) string {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return classify(err)
	}
	var (
		vals [4]int
		gerr error
	)
	opts := [4][2]int{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	}
	err = rc.Control(func(fd uintptr) {
		for i, o := range opts {
			if vals[i], gerr = unix.GetsockoptInt(int(fd), o[0], o[1]); gerr != nil {
				return
			}
		}
	})
	switch {
	case err != nil:
		return classify(err)
	case gerr != nil:
		return "getsockopt:" + gerr.Error()
	}
	return fmt.Sprintf("keepalive=%d idle=%d intvl=%d cnt=%d", vals[0], vals[1], vals[2], vals[3])
}
