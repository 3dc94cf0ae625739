package uringsched

// Fault-injection points for tests, which replace them to make the kernel
// refuse io_uring without changing the machine.
var (
	testHookSetup = func() error { return nil } // before io_uring_setup
	testHookProbe = func() error { return nil } // after it, in place of a missing opcode
	// in place of the multishot receive probe's answer
	testHookProbeRecv = func() error { return nil }
	// in place of io_uring_enter's result, before it is called
	testHookEnter = func() error { return nil }
	// in place of io_uring_setup's answer to COOP_TASKRUN
	testHookCoopTaskrun = func() error { return nil }
)
