package runtime

import "sync"

// Lazy holds a value started on first use, such as a backend's
// process-wide scheduler. A failed start is returned to its caller and
// tried again by the next one, so that a passing shortage (EMFILE at the
// first conn) does not disable a backend for the life of the process.
type Lazy[T any] struct {
	mu      sync.Mutex
	v       T
	started bool
}

// Get returns the value, calling start if no call has succeeded yet.
func (l *Lazy[T]) Get(start func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		v, err := start()
		if err != nil {
			return v, err
		}
		l.v, l.started = v, true
	}
	return l.v, nil
}

// Peek returns the value if it has been started, and never starts it.
func (l *Lazy[T]) Peek() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v, l.started
}
