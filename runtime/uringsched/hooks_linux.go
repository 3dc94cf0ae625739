package uringsched

// Fault-injection points for tests, which replace them to make the kernel
// refuse io_uring without changing the machine.
var (
	testHookSetup = func() error { return nil } // before io_uring_setup
	testHookProbe = func() error { return nil } // after it, in place of a missing opcode
)
