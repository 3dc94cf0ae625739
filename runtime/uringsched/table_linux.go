package uringsched

import (
	"sync"
	"sync/atomic"
)

// The op table maps a completion's user_data back to its op. user_data is
// never a descriptor number: a closed descriptor's number is reused at
// once, and a completion keyed by it could reach another connection. It is
// the op's slot (plus one, so that zero means "ignore this completion")
// with a generation in the high half, so a stale completion for a reused
// slot is recognised and dropped.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	maxChunks = 1 << 12 // 16M slots
)

type opChunk [chunkSize]atomic.Pointer[op]

type opTable struct {
	mu      sync.Mutex // guards free, next and gen; lookups take no lock
	free    []uint32
	next    uint32
	gen     uint32
	chunks  [maxChunks]atomic.Pointer[opChunk]
	entries atomic.Int64 // registered ops, for tests and stats
}

// register gives o a slot and a generation.
func (t *opTable) register(o *op) {
	t.mu.Lock()
	var idx uint32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		idx = t.next
		t.next++
		if t.chunks[idx>>chunkBits].Load() == nil {
			t.chunks[idx>>chunkBits].Store(new(opChunk))
		}
	}
	t.gen++
	o.slot, o.gen = idx, t.gen
	t.mu.Unlock()
	t.chunks[idx>>chunkBits].Load()[idx&(chunkSize-1)].Store(o)
	t.entries.Add(1)
}

// unregister frees o's slot; the kernel must hold no request of o's.
func (t *opTable) unregister(o *op) {
	t.chunks[o.slot>>chunkBits].Load()[o.slot&(chunkSize-1)].Store(nil)
	t.mu.Lock()
	t.free = append(t.free, o.slot)
	t.mu.Unlock()
	t.entries.Add(-1)
}

// lookup returns the op that userData names, or nil for a stale one.
func (t *opTable) lookup(userData uint64) *op {
	idx := uint32(userData) - 1
	c := t.chunks[idx>>chunkBits].Load()
	if c == nil {
		return nil
	}
	o := c[idx&(chunkSize-1)].Load()
	if o == nil || o.gen != uint32(userData>>32) {
		return nil
	}
	return o
}
