package localstack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// child is a started emulator process, leader of its own process group so
// that stopping it also stops whatever it spawned, and so that a terminal's
// Ctrl-C reaches the parent only, which then stops it in order.
type child struct {
	name     string
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{} // closed once the process is reaped
	err      error         // from Wait; read after done
	stopping atomic.Bool
}

// startChild starts cmd with its output in logPath.
func startChild(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("os.Create: %w", err)
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Linux sends the parent-death signal when the thread that forked
		// the child exits, not the process: pin this goroutine to its
		// thread for the child's lifetime so the runtime cannot retire it.
		runtime.LockOSThread()
		defer f.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("exec %s: %w", cmd.Path, err)
	}
	return c, nil
}

// stop asks the process group to terminate, and kills it after grace.
func (c *child) stop(grace time.Duration) error {
	c.stopping.Store(true)
	pgid := c.cmd.Process.Pid
	select {
	case <-c.done:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
		}
	}
	// The leader may be gone while others in its group live on.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s emulator group %d: %w", c.name, pgid, err)
	}
	<-c.done
	return nil
}

// tail returns the last n lines of the file at path, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return "    " + strings.Join(lines, "\n    ")
}
