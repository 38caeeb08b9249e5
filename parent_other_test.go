//go:build !linux

package ese

import "syscall"

// dieWithParent: elsewhere than Linux, the benchmark's Cleanup alone ends
// its child.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
