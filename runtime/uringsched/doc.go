// Package uringsched is unet's io_uring completion scheduler: Read, Write
// and Accept of unet conns park their goroutine on one shared ring and are
// woken when the kernel posts the completion.
//
// # Ring
//
// One ring per process (Default); UNET_URING_SHARDS=n spreads
// descriptors over n rings with a loop each, which measured no better
// than one ring on two cores (BENCHMARKS.md). The ring is set up with
// SUBMIT_ALL, CLAMP and NO_SQARRAY, 1024 SQEs and 65536 CQEs (the most
// the kernel allows: at 16384 the CQ overflowed at 10000 conns), on raw
// system calls of golang.org/x/sys/unix (ring_linux.go, sys_linux.go: the
// kernel ABI, kept apart from the scheduling logic and tested on its
// own; unsafe_linux.go: every use of package unsafe). The ring, its SQEs
// and the provided buffers live in mmap'd memory the garbage collector
// never sees. IORING_FEAT_NODROP keeps completions through a CQ overflow;
// the next io_uring_enter flushes them. SQPOLL is not used: it burns a core,
// and on two cores that is half the machine.
//
// Completions interrupt no one: the ring is set up with COOP_TASKRUN and
// TASKRUN_FLAG (setup_linux.go). The task work that posts a completion is
// queued to the thread that submitted the request and run at its next
// kernel entry or exit; a sleeping thread is woken for it without an
// inter-processor interrupt, and a Go thread running user code is
// preempted by sysmon within about 10 ms (TestCompletionNeverStranded
// holds every thread state to a bound). Without it, every completion for
// a running thread cost an interrupt: 0.8 per request at 16 conns against
// std's 0.1 (BENCHMARKS.md). A kernel that refuses the flags (before 5.19)
// gets the ring without them, logged.
//
// Measured and not used (BENCHMARKS.md, experiments 10 and 18-20; the
// tests in decisions_linux_test.go):
//   - SINGLE_ISSUER with DEFER_TASKRUN needs every submission and reap on
//     one thread. Go moves goroutines between threads, so the loop would
//     be a goroutine locked to a ring-owner thread, and a switch to it and
//     back costs 17 us on this machine against 0.65 us between ordinary
//     goroutines (BenchmarkLockedThreadHandOff), at 0.3 loop rounds per
//     request at 16 conns; COOP_TASKRUN already took the interrupts away.
//   - A registered ring fd (IORING_REGISTER_RING_FDS) belongs to the
//     thread that registered it (TestRegisteredRingIsPerThread), while any
//     thread may enter our ring; it would save one fdget per enter, at
//     0.01-0.05 enters per request.
//   - Registered files (IOSQE_FIXED_FILE) saved 50 ns of a 1.1 us send,
//     not significant (p=0.078, BenchmarkSendFile), and would cost a
//     file-table update per conn.
//   - SQPOLL burns one of the two cores.
//
// # Accept
//
// Accept takes what the listen backlog holds with accept4(2), as std
// does, and waits through the ring only when it is empty. Through the
// ring, every Accept cost a round of the loop, and under load a round is
// a turn of every goroutine it woke: at 4096 conns the backlog drained at
// 9 conns a second. A multishot accept would take the backlog without
// system calls but for the peer's address (getpeername, one per conn, as
// accept4), and would move the backlog into user space, where it
// outlives a Close or a hand-off of the listener: not worth it.
//
// # Op lifecycle
//
// Each fd owns one op per kind of request (multishot receive, receive,
// send, accept, connect, poll in and out); Reads are serialized with Reads
// and Writes with Writes, so an op has at most one request in the kernel
// and is reused, never allocated per operation. A completion's user_data is
// the op's slot in a table plus a generation (table_linux.go), never the
// descriptor number: a closed number is reused at once, and a completion
// keyed by it could reach another connection. A caller's buffer is stored
// in its op while the kernel holds it, which keeps it reachable and forces
// it onto the heap, where Go never moves memory.
//
// # Reads
//
// Read arms one multishot receive per connection into a ring of provided
// buffers and then takes what its completions queued, copying into the
// caller's slice: while the receive stays armed, a Read costs no system
// call and no submission. Read-ahead is bounded by the reader: the
// receive's total is the length of the Read that armed it
// (IORING_RECV_MSHOT_LIM, Linux 6.16, probed at start), at most 64 KiB and
// a fair part of a 16 MiB budget for all conns (pool_linux.go), so the
// rest stays in the socket under SO_RCVBUF and TCP flow control, and raw
// code after a Read sees what net would have left there. Raw reads and
// File stop the receive for good first (HandOff); bytes it already took
// and no Read returned make them fail with runtime.ErrUnreadData rather
// than hand out a stream with a hole. When the buffers run out anyway
// (ENOBUFS), reads fall back to a one-shot receive into the caller's slice
// until a quarter of the buffers is free again. The pool grows by
// doubling as the load takes buffers, up to 16384 of 4 KiB, and retires
// buffers that come back while more circulate than twice the most
// held in the last second, returning their pages to the system.
// UNET_URING_RECV=single selects one-shot receives throughout, to measure.
//
// # Experiment switches
//
// For measuring, not for tuning in production (config_linux.go; a value
// that is set but invalid fails the start, naming the variable):
// UNET_URING_SQ, _CQ (queue sizes), _BUFS, _BUFS_INITIAL, _BUFSIZE (the
// provided buffers), _READAHEAD (bytes a receive may take ahead of its
// Read; 0 leaves receives unlimited), _RECV=single, _SEND=direct (a
// send(2) first, the ring only to wait), _TASKRUN=ipi (completions by
// interrupt, without COOP_TASKRUN), _SHARDS (rings with a loop each),
// _ROUND=netpoll (between rounds the loop waits until Go's scheduler polls
// the network, as std hands out ready goroutines, instead of yielding once).
//
// # Batching and the loop
//
// A goroutine queues its SQE under a mutex and parks. One loop goroutine
// submits everything queued with one io_uring_enter, reaps every
// completion, wakes their goroutines and then yields, so that the
// goroutines it woke run and queue their next requests before its next
// round: at 256 connections one enter carries about 140 SQEs and one reap
// about 160 CQEs, 0.007 enters per request (unetbench counters). When it
// finds nothing to do, the loop parks on the ring's descriptor through Go's
// own netpoller (the ring fd is pollable), so no thread blocks in
// io_uring_enter and an idle scheduler costs no CPU. A goroutine that
// queues a request while the loop is parked yields once and submits the
// batch itself; without that yield a profile showed one enter per Write.
// An enter that does not wait is a raw system call, so that a long batch
// does not make sysmon hand the P to another thread.
//
// The yield is not std's fairness. std's netpoller hands out ready
// goroutines only when the P has run everything runnable (or every 10 ms),
// so every ready conn gets a turn per round; the loop wakes goroutines
// again after one yield, and those it wakes go to the P's local run queue
// ahead of any that overflowed to the global one. With one-shot receives
// (three parks per request) that starved conns: at 1024 conns a woken
// goroutine waited 150-350 ms to run, p50 3-4 ms but p99 0.5-0.75 s (std
// 36 ms). UNET_URING_ROUND=netpoll, the default with one-shot receives,
// makes the loop wait for the scheduler's network poll (at most 2 ms) and
// brings that p99 to 39 ms;
// with multishot receives, the default, it measured 0.72x std at 4096
// conns against 0.76x and 0.65x pipelined against 0.82x, so the default
// stays the yield (BENCHMARKS.md, experiment 22).
//
// # Parking
//
// Goroutines park on runtime.Waiter, which uses the runtime's own gopark
// and goready on one atomic word, as the netpoller does
// (runtime/park_linkname.go, the one file with linkname): a ping-pong of
// wake-ups costs about 250-400 ns against 610 ns with channels on this
// machine (BenchmarkWaiterPingPong, GOMAXPROCS=1).
//
// # Deadlines and cancellation
//
// A deadline is a runtime timer that wakes the parked goroutine (shared
// with the epoll backend). A Read waiting for its multishot receive simply
// returns: nothing in the kernel belongs to it. A request that holds the
// caller's buffer (a one-shot receive, a send, accept, connect) is
// cancelled with IORING_OP_ASYNC_CANCEL by user_data, and the goroutine
// waits for the request's own completion before it returns, so the kernel
// never touches the buffer after Read or Write returned. If the request
// completed first, its result is kept: an accepted connection is returned,
// bytes sent are counted.
//
// # Close
//
// Close wakes every parked operation with net.ErrClosed and waits for the
// references they hold. The last one cancels what the kernel still holds
// (the multishot receive) with IORING_ASYNC_CANCEL_FD|ALL, waits until
// every request on the fd has posted its final completion, returns the
// queued buffers to the ring, frees the op slots, and only then closes the
// descriptor. Close returns after that, so the number is free and no
// completion can ever name it again.
//
// # Availability
//
// Default probes: io_uring_setup, the opcodes unet uses
// (IORING_REGISTER_PROBE), NODROP and FAST_POLL, the provided buffer ring
// (5.19+) and multishot receive on a socket pair (6.0+), with or without
// its limit (6.16+). A failed start is tried again by the next call, so a
// shortage of descriptors at the first conn does not disable uring. A refusal is returned with its likely cause (seccomp,
// kernel.io_uring_disabled, memlock); unet's auto backend then uses epoll,
// and an explicit uring backend fails with that error.
package uringsched
