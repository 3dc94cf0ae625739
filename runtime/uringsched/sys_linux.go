//go:build linux

package uringsched

import (
	"golang.org/x/sys/unix"
)

// This file mirrors the kernel's io_uring ABI, include/uapi/linux/io_uring.h
// as of Linux 6.18. Each constant keeps its kernel name in a comment so the
// header can be grepped for it. The Debian copy under /usr/include is older
// than the kernels this runs on, so nothing here is taken from it.

// sqe mirrors struct io_uring_sqe, 64 bytes. The kernel reads it in place
// from the mapped SQE array, so field order and size must match exactly.
type sqe struct {
	Opcode      uint8     // opcode: IORING_OP_*
	Flags       uint8     // flags: IOSQE_*
	Ioprio      uint16    // ioprio; also recv/send/accept flags
	Fd          int32     // fd
	Off         uint64    // off; also addr2, cmd_op
	Addr        uint64    // addr; also splice_off_in
	Len         uint32    // len
	OpFlags     uint32    // rw_flags, msg_flags, accept_flags, cancel_flags, timeout_flags, poll32_events...
	UserData    uint64    // user_data, echoed in the completion
	BufIndex    uint16    // buf_index; also buf_group
	Personality uint16    // personality
	SpliceFdIn  int32     // splice_fd_in; also file_index, addr_len
	Addr3       uint64    // addr3
	_           [1]uint64 // __pad2
}

// cqe mirrors struct io_uring_cqe, 16 bytes: rings are set up without
// IORING_SETUP_CQE32, so there is no big_cqe tail.
type cqe struct {
	UserData uint64 // user_data of the request
	Res      int32  // result, or -errno
	Flags    uint32 // IORING_CQE_F_*
}

// sqringOffsets mirrors struct io_sqring_offsets: where each field of the
// submission ring lies in its mapping.
type sqringOffsets struct {
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Flags       uint32
	Dropped     uint32
	Array       uint32
	Resv1       uint32
	UserAddr    uint64
}

// cqringOffsets mirrors struct io_cqring_offsets: where each field of the
// completion ring lies in its mapping.
type cqringOffsets struct {
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Overflow    uint32
	Cqes        uint32
	Flags       uint32
	Resv1       uint32
	UserAddr    uint64
}

// ioUringParams mirrors struct io_uring_params, 120 bytes, which
// io_uring_setup reads and then fills in.
type ioUringParams struct {
	SQEntries    uint32
	CQEntries    uint32
	Flags        uint32
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     uint32
	WqFd         uint32
	Resv         [3]uint32
	SQOff        sqringOffsets
	CQOff        cqringOffsets
}

// ioUringProbeOp mirrors struct io_uring_probe_op.
type ioUringProbeOp struct {
	Op    uint8
	Resv  uint8
	Flags uint16 // IO_URING_OP_SUPPORTED
	Resv2 uint32
}

// ioUringProbe mirrors struct io_uring_probe with room for 64 opcodes in
// its flexible ops array.
type ioUringProbe struct {
	LastOp uint8
	OpsLen uint8
	Resv   uint16
	Resv2  [3]uint32
	Ops    [64]ioUringProbeOp
}

// ioUringBuf mirrors struct io_uring_buf, one entry of a provided buffer
// ring. The Resv field of entry 0 doubles as the ring's tail
// (struct io_uring_buf_ring).
type ioUringBuf struct {
	Addr uint64
	Len  uint32
	Bid  uint16
	Resv uint16
}

// ioUringBufReg mirrors struct io_uring_buf_reg, the argument of
// IORING_REGISTER_PBUF_RING and IORING_UNREGISTER_PBUF_RING.
type ioUringBufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Flags       uint16 // IOU_PBUF_RING_*
	Resv        [3]uint64
}

// Opcodes, enum io_uring_op.
const (
	opNop            = iota // IORING_OP_NOP
	opReadv                 // IORING_OP_READV
	opWritev                // IORING_OP_WRITEV
	opFsync                 // IORING_OP_FSYNC
	opReadFixed             // IORING_OP_READ_FIXED
	opWriteFixed            // IORING_OP_WRITE_FIXED
	opPollAdd               // IORING_OP_POLL_ADD
	opPollRemove            // IORING_OP_POLL_REMOVE
	opSyncFileRange         // IORING_OP_SYNC_FILE_RANGE
	opSendmsg               // IORING_OP_SENDMSG
	opRecvmsg               // IORING_OP_RECVMSG
	opTimeout               // IORING_OP_TIMEOUT
	opTimeoutRemove         // IORING_OP_TIMEOUT_REMOVE
	opAccept                // IORING_OP_ACCEPT
	opAsyncCancel           // IORING_OP_ASYNC_CANCEL
	opLinkTimeout           // IORING_OP_LINK_TIMEOUT
	opConnect               // IORING_OP_CONNECT
	opFallocate             // IORING_OP_FALLOCATE
	opOpenat                // IORING_OP_OPENAT
	opClose                 // IORING_OP_CLOSE
	opFilesUpdate           // IORING_OP_FILES_UPDATE
	opStatx                 // IORING_OP_STATX
	opRead                  // IORING_OP_READ
	opWrite                 // IORING_OP_WRITE
	opFadvise               // IORING_OP_FADVISE
	opMadvise               // IORING_OP_MADVISE
	opSend                  // IORING_OP_SEND
	opRecv                  // IORING_OP_RECV
	opOpenat2               // IORING_OP_OPENAT2
	opEpollCtl              // IORING_OP_EPOLL_CTL
	opSplice                // IORING_OP_SPLICE
	opProvideBuffers        // IORING_OP_PROVIDE_BUFFERS
	opRemoveBuffers         // IORING_OP_REMOVE_BUFFERS
	opTee                   // IORING_OP_TEE
	opShutdown              // IORING_OP_SHUTDOWN
	opRenameat              // IORING_OP_RENAMEAT
	opUnlinkat              // IORING_OP_UNLINKAT
	opMkdirat               // IORING_OP_MKDIRAT
	opSymlinkat             // IORING_OP_SYMLINKAT
	opLinkat                // IORING_OP_LINKAT
	opMsgRing               // IORING_OP_MSG_RING
	opFsetxattr             // IORING_OP_FSETXATTR
	opSetxattr              // IORING_OP_SETXATTR
	opFgetxattr             // IORING_OP_FGETXATTR
	opGetxattr              // IORING_OP_GETXATTR
	opSocket                // IORING_OP_SOCKET
	opUringCmd              // IORING_OP_URING_CMD
	opSendZC                // IORING_OP_SEND_ZC
	opSendmsgZC             // IORING_OP_SENDMSG_ZC
	opReadMultishot         // IORING_OP_READ_MULTISHOT
	opWaitid                // IORING_OP_WAITID
	opFutexWait             // IORING_OP_FUTEX_WAIT
	opFutexWake             // IORING_OP_FUTEX_WAKE
	opFutexWaitv            // IORING_OP_FUTEX_WAITV
	opFixedFdInstall        // IORING_OP_FIXED_FD_INSTALL
	opFtruncate             // IORING_OP_FTRUNCATE
	opBind                  // IORING_OP_BIND
	opListen                // IORING_OP_LISTEN
	opRecvZC                // IORING_OP_RECV_ZC
	opEpollWait             // IORING_OP_EPOLL_WAIT
	opReadvFixed            // IORING_OP_READV_FIXED
	opWritevFixed           // IORING_OP_WRITEV_FIXED
	opPipe                  // IORING_OP_PIPE
	opLast                  // IORING_OP_LAST in Linux 6.18
)

// SQE flags, sqe.Flags (IOSQE_*).
const (
	sqeFixedFile      = 1 << 0 // IOSQE_FIXED_FILE: fd is an index into the registered files
	sqeIODrain        = 1 << 1 // IOSQE_IO_DRAIN: issue after all earlier requests complete
	sqeIOLink         = 1 << 2 // IOSQE_IO_LINK: the next SQE starts after this one
	sqeIOHardlink     = 1 << 3 // IOSQE_IO_HARDLINK: like IO_LINK, even if this one fails
	sqeAsync          = 1 << 4 // IOSQE_ASYNC: always go to a worker thread
	sqeBufferSelect   = 1 << 5 // IOSQE_BUFFER_SELECT: take a buffer from group BufIndex
	sqeCQESkipSuccess = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: post no CQE on success
)

// io_uring_setup flags, ioUringParams.Flags (IORING_SETUP_*).
const (
	setupIOPoll           = 1 << 0  // IORING_SETUP_IOPOLL
	setupSQPoll           = 1 << 1  // IORING_SETUP_SQPOLL
	setupSQAff            = 1 << 2  // IORING_SETUP_SQ_AFF
	setupCQSize           = 1 << 3  // IORING_SETUP_CQSIZE
	setupClamp            = 1 << 4  // IORING_SETUP_CLAMP
	setupAttachWQ         = 1 << 5  // IORING_SETUP_ATTACH_WQ
	setupRDisabled        = 1 << 6  // IORING_SETUP_R_DISABLED
	setupSubmitAll        = 1 << 7  // IORING_SETUP_SUBMIT_ALL
	setupCoopTaskrun      = 1 << 8  // IORING_SETUP_COOP_TASKRUN
	setupTaskrunFlag      = 1 << 9  // IORING_SETUP_TASKRUN_FLAG
	setupSQE128           = 1 << 10 // IORING_SETUP_SQE128
	setupCQE32            = 1 << 11 // IORING_SETUP_CQE32
	setupSingleIssuer     = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	setupDeferTaskrun     = 1 << 13 // IORING_SETUP_DEFER_TASKRUN
	setupNoMmap           = 1 << 14 // IORING_SETUP_NO_MMAP
	setupRegisteredFdOnly = 1 << 15 // IORING_SETUP_REGISTERED_FD_ONLY
	setupNoSQArray        = 1 << 16 // IORING_SETUP_NO_SQARRAY
	setupHybridIOPoll     = 1 << 17 // IORING_SETUP_HYBRID_IOPOLL
	setupCQEMixed         = 1 << 18 // IORING_SETUP_CQE_MIXED
)

// Features the kernel reports in ioUringParams.Features (IORING_FEAT_*).
const (
	featSingleMmap     = 1 << 0  // IORING_FEAT_SINGLE_MMAP: one mapping serves both rings
	featNoDrop         = 1 << 1  // IORING_FEAT_NODROP: overflowing CQEs are kept, not dropped
	featSubmitStable   = 1 << 2  // IORING_FEAT_SUBMIT_STABLE
	featRWCurPos       = 1 << 3  // IORING_FEAT_RW_CUR_POS
	featCurPersonality = 1 << 4  // IORING_FEAT_CUR_PERSONALITY
	featFastPoll       = 1 << 5  // IORING_FEAT_FAST_POLL: internal poll instead of a worker thread
	featPoll32Bits     = 1 << 6  // IORING_FEAT_POLL_32BITS
	featSQPollNonfixed = 1 << 7  // IORING_FEAT_SQPOLL_NONFIXED
	featExtArg         = 1 << 8  // IORING_FEAT_EXT_ARG
	featNativeWorkers  = 1 << 9  // IORING_FEAT_NATIVE_WORKERS
	featRsrcTags       = 1 << 10 // IORING_FEAT_RSRC_TAGS
	featCQESkip        = 1 << 11 // IORING_FEAT_CQE_SKIP
	featLinkedFile     = 1 << 12 // IORING_FEAT_LINKED_FILE
	featRegRegRing     = 1 << 13 // IORING_FEAT_REG_REG_RING
	featRecvsendBundle = 1 << 14 // IORING_FEAT_RECVSEND_BUNDLE
	featMinTimeout     = 1 << 15 // IORING_FEAT_MIN_TIMEOUT
	featRWAttr         = 1 << 16 // IORING_FEAT_RW_ATTR
	featNoIOWait       = 1 << 17 // IORING_FEAT_NO_IOWAIT
)

// io_uring_enter flags (IORING_ENTER_*).
const (
	enterGetEvents      = 1 << 0 // IORING_ENTER_GETEVENTS: reap, flush overflow, wait for min_complete
	enterSQWakeup       = 1 << 1 // IORING_ENTER_SQ_WAKEUP
	enterSQWait         = 1 << 2 // IORING_ENTER_SQ_WAIT
	enterExtArg         = 1 << 3 // IORING_ENTER_EXT_ARG
	enterRegisteredRing = 1 << 4 // IORING_ENTER_REGISTERED_RING
	enterAbsTimer       = 1 << 5 // IORING_ENTER_ABS_TIMER
	enterExtArgReg      = 1 << 6 // IORING_ENTER_EXT_ARG_REG
	enterNoIOWait       = 1 << 7 // IORING_ENTER_NO_IOWAIT
)

// Submission ring flags, which the kernel sets in the mapped sq_flags
// (IORING_SQ_*).
const (
	sqNeedWakeup = 1 << 0 // IORING_SQ_NEED_WAKEUP: the SQPOLL thread sleeps
	sqCQOverflow = 1 << 1 // IORING_SQ_CQ_OVERFLOW: CQEs wait in the kernel's overflow list
	sqTaskrun    = 1 << 2 // IORING_SQ_TASKRUN: task work waits for an io_uring_enter
)

// CQE flags, cqe.Flags (IORING_CQE_F_*).
const (
	cqeFBuffer       = 1 << 0  // IORING_CQE_F_BUFFER: the upper 16 bits hold a provided buffer's id
	cqeFMore         = 1 << 1  // IORING_CQE_F_MORE: the request stays armed and will post more CQEs
	cqeFSockNonempty = 1 << 2  // IORING_CQE_F_SOCK_NONEMPTY: the socket has more to read
	cqeFNotif        = 1 << 3  // IORING_CQE_F_NOTIF: a zero-copy send's buffer notification
	cqeFBufMore      = 1 << 4  // IORING_CQE_F_BUF_MORE: an incremental buffer stays in use
	cqeFSkip         = 1 << 5  // IORING_CQE_F_SKIP: padding in a CQE_MIXED ring
	cqeF32           = 1 << 15 // IORING_CQE_F_32: a 32-byte CQE in a CQE_MIXED ring

	cqeBufferShift = 16 // IORING_CQE_BUFFER_SHIFT
)

// ASYNC_CANCEL flags, sqe.OpFlags (IORING_ASYNC_CANCEL_*).
const (
	asyncCancelAll      = 1 << 0 // IORING_ASYNC_CANCEL_ALL: every match, not just the first
	asyncCancelFd       = 1 << 1 // IORING_ASYNC_CANCEL_FD: match on fd, not user_data
	asyncCancelAny      = 1 << 2 // IORING_ASYNC_CANCEL_ANY
	asyncCancelFdFixed  = 1 << 3 // IORING_ASYNC_CANCEL_FD_FIXED
	asyncCancelUserdata = 1 << 4 // IORING_ASYNC_CANCEL_USERDATA
	asyncCancelOp       = 1 << 5 // IORING_ASYNC_CANCEL_OP
)

// Send and receive flags, sqe.Ioprio.
const (
	recvsendPollFirst = 1 << 0 // IORING_RECVSEND_POLL_FIRST
	recvMultishot     = 1 << 1 // IORING_RECV_MULTISHOT
	recvsendFixedBuf  = 1 << 2 // IORING_RECVSEND_FIXED_BUF
	sendZCReportUsage = 1 << 3 // IORING_SEND_ZC_REPORT_USAGE
	recvsendBundle    = 1 << 4 // IORING_RECVSEND_BUNDLE
	sendVectorized    = 1 << 5 // IORING_SEND_VECTORIZED
)

// Accept flags, sqe.Ioprio (IORING_ACCEPT_*).
const (
	acceptMultishot = 1 << 0 // IORING_ACCEPT_MULTISHOT
	acceptDontwait  = 1 << 1 // IORING_ACCEPT_DONTWAIT
	acceptPollFirst = 1 << 2 // IORING_ACCEPT_POLL_FIRST
)

// io_uring_register opcodes, enum io_uring_register_op.
const (
	registerBuffers          = 0       // IORING_REGISTER_BUFFERS
	unregisterBuffers        = 1       // IORING_UNREGISTER_BUFFERS
	registerFiles            = 2       // IORING_REGISTER_FILES
	unregisterFiles          = 3       // IORING_UNREGISTER_FILES
	registerEventfd          = 4       // IORING_REGISTER_EVENTFD
	unregisterEventfd        = 5       // IORING_UNREGISTER_EVENTFD
	registerFilesUpdate      = 6       // IORING_REGISTER_FILES_UPDATE
	registerEventfdAsync     = 7       // IORING_REGISTER_EVENTFD_ASYNC
	registerProbe            = 8       // IORING_REGISTER_PROBE
	registerPersonality      = 9       // IORING_REGISTER_PERSONALITY
	unregisterPersonality    = 10      // IORING_UNREGISTER_PERSONALITY
	registerRestrictions     = 11      // IORING_REGISTER_RESTRICTIONS
	registerEnableRings      = 12      // IORING_REGISTER_ENABLE_RINGS
	registerFiles2           = 13      // IORING_REGISTER_FILES2
	registerFilesUpdate2     = 14      // IORING_REGISTER_FILES_UPDATE2
	registerBuffers2         = 15      // IORING_REGISTER_BUFFERS2
	registerBuffersUpdate    = 16      // IORING_REGISTER_BUFFERS_UPDATE
	registerIOWQAff          = 17      // IORING_REGISTER_IOWQ_AFF
	unregisterIOWQAff        = 18      // IORING_UNREGISTER_IOWQ_AFF
	registerIOWQMaxWorkers   = 19      // IORING_REGISTER_IOWQ_MAX_WORKERS
	registerRingFds          = 20      // IORING_REGISTER_RING_FDS
	unregisterRingFds        = 21      // IORING_UNREGISTER_RING_FDS
	registerPbufRing         = 22      // IORING_REGISTER_PBUF_RING
	unregisterPbufRing       = 23      // IORING_UNREGISTER_PBUF_RING
	registerSyncCancel       = 24      // IORING_REGISTER_SYNC_CANCEL
	registerFileAllocRange   = 25      // IORING_REGISTER_FILE_ALLOC_RANGE
	registerPbufStatus       = 26      // IORING_REGISTER_PBUF_STATUS
	registerNapi             = 27      // IORING_REGISTER_NAPI
	unregisterNapi           = 28      // IORING_UNREGISTER_NAPI
	registerClock            = 29      // IORING_REGISTER_CLOCK
	registerCloneBuffers     = 30      // IORING_REGISTER_CLONE_BUFFERS
	registerSendMsgRing      = 31      // IORING_REGISTER_SEND_MSG_RING
	registerZcrxIfq          = 32      // IORING_REGISTER_ZCRX_IFQ
	registerResizeRings      = 33      // IORING_REGISTER_RESIZE_RINGS
	registerMemRegion        = 34      // IORING_REGISTER_MEM_REGION
	registerQuery            = 35      // IORING_REGISTER_QUERY
	registerUseRegisteredRng = 1 << 31 // IORING_REGISTER_USE_REGISTERED_RING, or'ed into the opcode
)

// probeOpSupported marks a supported opcode in ioUringProbeOp.Flags
// (IO_URING_OP_SUPPORTED).
const probeOpSupported = 1 << 0

// mmap offsets that select what a mapping of the ring fd shows
// (IORING_OFF_*).
const (
	offSQRing    = 0          // IORING_OFF_SQ_RING
	offCQRing    = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs      = 0x10000000 // IORING_OFF_SQES
	offPbufRing  = 0x80000000 // IORING_OFF_PBUF_RING
	offPbufShift = 16         // IORING_OFF_PBUF_SHIFT
)

// ioUringEnter calls io_uring_enter(2) without an extended argument: no
// signal mask, no timeout. One that waits for completions may block, so
// it goes through Syscall6, which tells the Go scheduler.
//
// An enter that does not wait for completions never blocks: the kernel
// issues what it can inline and hands the rest to its own workers. Such a
// call is made as a raw system call, without telling the Go scheduler: a
// large batch can take long enough for sysmon to hand the P to another
// thread, and the ping-pong of threads that follows (futex sleeps and
// wake-ups) cost 15% of the CPU in a profile at 256 conns.
func ioUringEnter(fd int, toSubmit, minComplete, flags uint32) (int, unix.Errno) {
	if minComplete == 0 {
		n, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), 0, uintptr(flags), 0, 0)
		return int(n), errno
	}
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	return int(n), errno
}
