package ese

import "syscall"

// dieWithParent has a child process killed when this one dies, however.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
