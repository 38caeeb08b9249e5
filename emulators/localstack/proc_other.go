//go:build !linux

package localstack

import "syscall"

// sysProcAttr puts the child in a group of its own; without Linux's
// parent-death signal a crash of this process can leave it running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
