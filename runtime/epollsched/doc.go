// Package epollsched is unet's epoll backend: a runtime.Scheduler that
// serves sockets from its own edge-triggered epoll instance instead of Go's
// netpoller. It needs Linux; elsewhere Default returns an error.
//
// # Readiness, edge-triggered, registered once
//
// Each socket is added to the epoll instance once, by NewFD, for input and
// output at the same time (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLPRI|EPOLLET),
// and removed once, when it is destroyed. Operations never call epoll_ctl:
// with edge triggering the kernel reports each change of state once, and the
// interest set never needs rearming, so the per-operation cost is the I/O
// system call alone. This is the model of the runtime's netpoll_epoll.go.
//
// # The poller
//
// One goroutine harvests events. It must not hold an OS thread in a blocking
// epoll_wait, so it lets Go's netpoller wait for it: an epoll descriptor is
// itself pollable (readable while it has events ready), so the scheduler
// wraps its non-blocking epfd in an *os.File and calls
// SyscallConn().Read with a function that runs epoll_wait with a zero
// timeout until the ready list is empty and then returns false, which parks
// the goroutine in Go's netpoller until our epfd is readable again. A
// harvest smaller than the buffer has emptied the ready list, so the poller
// parks without a last epoll_wait that would find nothing. The poller never
// returns true: the scheduler lives as long as the process, as Go's
// netpoller does. The price of not blocking a thread is one more goroutine
// hop per wake-up: Go's netpoller wakes the poller, which wakes the
// operations.
//
// An event's 64-bit data is not the descriptor number alone, which the
// kernel reuses as soon as a socket is closed, but a key of two halves: the
// descriptor number, which indexes a table of *fd, and a generation that
// NewFD hands out. An event that the poller harvested just before its
// socket was closed may find the slot empty, or taken by a new socket with
// the same number; the generation differs and the event is dropped.
//
// # The ready flags
//
// Each fd has a readReady and a writeReady flag. For every edge the poller
// sets the direction's flag and, if it was clear, notifies the direction's
// runtime.Waiter (EPOLLHUP and EPOLLERR wake both directions). An operation
// swaps its flag to false before its system call and, if the kernel says
// EAGAIN, parks on the Waiter. Clearing before the call is what makes this
// safe: readiness that arrives after the call looked produces an edge after
// the swap, which finds the flag clear, sets it and latches a notification,
// so the Wait that follows returns at once. Readiness that arrived before
// the swap is already visible to the call.
//
// The flag also saves system calls. A read that returns fewer bytes than
// asked has emptied a stream socket's receive queue, so Read leaves the flag
// cleared and the next Read parks at once, where internal/poll pays for a
// read(2) that fails with EAGAIN on every request. This holds while more
// input can only arrive with a new edge; it does not after a hangup or an
// error (the next read must report EOF or the error, but no further edge
// comes) or while urgent data is pending (a read stops at the urgent mark).
// The poller therefore turns the shortcut off for good on a socket once it
// sees EPOLLRDHUP, EPOLLHUP, EPOLLERR or EPOLLPRI, and NewFD keeps it off for
// sockets that are not SOCK_STREAM, where a short read is just a short
// datagram. Write is symmetrical: a partial write means the send buffer is
// full, and the kernel reports the space it frees with an edge.
//
// # Deadlines
//
// Deadlines live in the runtime.Waiter of each direction: a runtime timer
// that marks the Waiter expired and wakes it. Operations check the Waiter
// before each system call, so a deadline in the past fails at once even
// when data is buffered, as package net does.
//
// # Close and descriptor reuse
//
// Close marks the runtime.FDLock closing, evicts both Waiters so that parked
// operations return net.ErrClosed, and waits until the last operation has
// dropped its reference. Only then does the lock's destroy callback run:
// EPOLL_CTL_DEL, empty the table slot, close(2). So the number is never
// closed, and hence never reused, while an operation still uses it, and it
// is free again when Close returns.
package epollsched
