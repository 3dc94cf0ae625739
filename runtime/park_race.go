//go:build race

package runtime

import "sync"

// parker is the race detector's version of park_linkname.go's: a channel
// of capacity one holds the latched notification.
type parker struct {
	once sync.Once
	ch   chan struct{}
}

func (p *parker) c() chan struct{} {
	p.once.Do(func() { p.ch = make(chan struct{}, 1) })
	return p.ch
}

func (p *parker) park() { <-p.c() }

func (p *parker) notify() {
	select {
	case p.c() <- struct{}{}:
	default:
	}
}

func (p *parker) clear() {
	select {
	case <-p.c():
	default:
	}
}
