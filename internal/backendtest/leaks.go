package backendtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unetio/unet/unet"
)

// CountFDs counts the open descriptors of the process.
func CountFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	return len(ents) - 1 // the directory's own descriptor
}

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		dst, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+dst)
	}
	return strings.Join(out, " ")
}

// CheckFDs records the descriptor count and checks, when the test and its
// cleanups are done, that it came back to that level. Register it first so
// that it runs after the test's other cleanups. Closing may complete
// asynchronously (server goroutines, completion queues), so it waits a
// little for the count to settle.
func CheckFDs(t testing.TB) {
	t.Helper()
	start := CountFDs()
	t.Cleanup(func() {
		if t.Failed() {
			return // a failed test may leave conns to its goroutines
		}
		deadline := time.Now().Add(5 * time.Second)
		n := CountFDs()
		for n > start && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			n = CountFDs()
		}
		if n > start {
			t.Errorf("descriptor leak: %d open at start of test, %d at end (baseline after warm-up %d)\n%s",
				start, n, baselineFDs, listFDs())
		}
	})
}

// warmup runs each backend once through listen, dial, accept, I/O,
// deadlines and close, so that the lazily started schedulers exist before
// the descriptor baseline and the goroutine snapshot are taken.
func warmup(backend string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ln, err := (&unet.ListenConfig{Backend: backend}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(c, c)
		// Closed before done is sent, so that warmup returns with every
		// descriptor it opened closed: a close after it would free a
		// descriptor under a test that counts them.
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := (&unet.Dialer{Backend: backend}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	msg := []byte("warm-up")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("echo mismatch: %q", buf)
	}
	// A short deadline that expires exercises the timer path.
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	if _, err := c.Read(buf); err == nil {
		return fmt.Errorf("read with expired deadline succeeded")
	}
	c.SetReadDeadline(time.Time{})
	c.(interface{ CloseWrite() error }).CloseWrite()
	if _, err := c.Read(buf); err != io.EOF {
		return fmt.Errorf("want io.EOF after half-close, got %v", err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("echo server did not finish")
	}
}

// goroutineEntries returns the entry functions (the outermost frame) of
// the goroutines whose entry function lies in package prefix.
func goroutineEntries(prefix string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	seen := map[string]bool{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		var entry string
		sc := bufio.NewScanner(strings.NewReader(g))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") ||
				strings.HasPrefix(line, "created by ") || strings.HasPrefix(line, "[originating") {
				continue
			}
			if i := strings.LastIndexByte(line, '('); i > 0 {
				entry = line[:i]
			}
		}
		if strings.HasPrefix(entry, prefix) && !strings.Contains(entry, "_test.") {
			seen[entry] = true
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// schedulerEntries are the long-lived goroutines of the schedulers,
// started once per backend and kept for the life of the process: they are
// found after the warm-up by their entry function lying in unet's own
// packages, so any goroutine of the same kind is ignored by the leak
// check, and any other goroutine (one per conn or per operation that
// outlives its conn) is reported.
func schedulerEntries() []string {
	return goroutineEntries("github.com/unetio/unet")
}
