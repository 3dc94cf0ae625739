//go:build linux

package uringsched

// This is the one file of the package that imports unsafe. io_uring is
// memory shared with the kernel: the rings and the provided buffers are
// mapped (mmap), and requests carry plain addresses that the kernel reads
// or writes later. Everything that turns Go memory into such an address,
// or kernel-written memory into Go values, is here, so that the rest of
// the package works with slices and typed pointers only.
//
// Two rules make the addresses safe. Mapped memory never moves and the
// garbage collector ignores it, so pointers into it stay valid until the
// mapping is undone. Go heap memory does not move either, but the
// collector no longer sees an address once it is a number: whoever hands
// one to the kernel keeps the memory referenced (an op's buf, the fd's
// sockaddr) until the kernel is done with it, and never hands it stack
// memory, which moves as goroutine stacks grow.

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sizes of the kernel's structures, as the mappings lay them out.
const (
	sizeofSQE          = int(unsafe.Sizeof(sqe{}))
	sizeofCQE          = int(unsafe.Sizeof(cqe{}))
	sizeofBufRingEntry = int(unsafe.Sizeof(ioUringBuf{}))
	// bufRingTailWord is the offset of the 32-bit word that holds entry
	// 0's Bid and the buffer ring's tail (its Resv), which the tail is
	// published through.
	bufRingTailWord = uint32(unsafe.Offsetof(ioUringBuf{}.Bid))
)

// addrOf is the address of b's first byte as the kernel is given it, or 0
// for an empty b.
func addrOf(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

// ptrAddr is p's address as the kernel is given it; 0 for nil.
func ptrAddr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

// u32At returns the 32-bit word at offset off of mem. Indexing mem checks
// the kernel-given offset against the mapping; the kernel aligns every
// ring field, so the word is aligned for atomic access.
func u32At(mem []byte, off uint32) *atomic.Uint32 {
	_ = mem[off+3]
	return (*atomic.Uint32)(unsafe.Pointer(&mem[off]))
}

// sliceAt returns the n values of type T at offset off of mem, after
// checking that they lie within it. The kernel aligns the arrays it places
// in the mapping for their element type.
func sliceAt[T any](mem []byte, off, n uint32) []T {
	size := uintptr(n) * unsafe.Sizeof(*new(T))
	if n == 0 || uintptr(off)+size > uintptr(len(mem)) {
		panic("uringsched: io_uring ring array outside its mapping")
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[off])), n)
}

// ioUringSetup calls io_uring_setup(2). The kernel reads and writes p
// during the call only, so p may live anywhere.
func ioUringSetup(entries uint32, p *ioUringParams) (int, unix.Errno) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(fd), errno
}

// ioUringRegister calls io_uring_register(2) with arg, the first of nrArgs
// values of the opcode's argument type. The conversion of arg to uintptr
// happens in the call expression itself, which keeps arg's memory alive
// and in place for the duration of the call.
func ioUringRegister[T any](fd int, opcode uint32, arg *T, nrArgs uint32) (int, unix.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode), uintptr(unsafe.Pointer(arg)), uintptr(nrArgs), 0, 0)
	return int(n), errno
}

// sockaddrFromRaw converts an address of salen bytes that the kernel wrote
// through the ring, as x/sys/unix converts one inside its own system call
// wrappers (anyToSockaddr), so that unet reports what package net would.
func sockaddrFromRaw(rsa *unix.RawSockaddrAny, salen uint32) unix.Sockaddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		pp := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet4{Port: int(ntohs(pp.Port))}
		sa.Addr = pp.Addr
		return sa
	case unix.AF_INET6:
		pp := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		sa := &unix.SockaddrInet6{Port: int(ntohs(pp.Port)), ZoneId: pp.Scope_id}
		sa.Addr = pp.Addr
		return sa
	case unix.AF_UNIX:
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		pathLen := int(salen) - int(unsafe.Offsetof(pp.Path))
		pathLen = max(0, min(pathLen, len(pp.Path)))
		return unixSockaddr(unsafe.Slice((*byte)(unsafe.Pointer(&pp.Path[0])), pathLen))
	}
	return nil
}
