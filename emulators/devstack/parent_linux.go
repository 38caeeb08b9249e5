package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitWithParent asks the kernel for a SIGTERM when the parent process
// dies, so that the stack shuts down (and stops its emulators) even when
// whoever started it was killed outright.
func exitWithParent() {
	ppid := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return
	}
	// The parent may have died before the request took effect.
	if os.Getppid() != ppid {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
