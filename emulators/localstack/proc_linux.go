package localstack

import "syscall"

// sysProcAttr puts the child in a group of its own and has the kernel kill
// it if this process dies without stopping it (a crash or SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
