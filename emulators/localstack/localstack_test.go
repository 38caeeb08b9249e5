package localstack

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
)

// The emulators scripts/test builds, seen from this folder.
var (
	cloudTasksBin = filepath.Join("..", "..", ".bin", "cloud-tasks-emulator")
	storageBin    = filepath.Join("..", "..", ".bin", "fake-gcs-server")
)

func TestStart_reports_every_missing_prerequisite(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := busy.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{
			name: "missing_sdk_and_binary",
			cfg: Config{SDKRoot: "/nonexistent-sdk", CloudTasksBin: "/nonexistent/cloud-tasks-emulator",
				StorageBin: "/nonexistent/fake-gcs-server", LogDir: t.TempDir()},
			want: []string{"gcloud SDK root /nonexistent-sdk", "/nonexistent/cloud-tasks-emulator missing", "/nonexistent/fake-gcs-server missing"},
		},
		{
			name: "busy_port",
			cfg:  Config{FirestoreHost: "127.0.0.1:1", PubSubHost: "127.0.0.1:1", StorageHost: "127.0.0.1:1", CloudTasksPort: busyPort, CloudTasksBin: "/nonexistent/ct", LogDir: t.TempDir()},
			want: []string{"port " + strconv.Itoa(busyPort) + " is not free"},
		},
		{
			name: "no_log_dir",
			cfg:  Config{FirestoreHost: "127.0.0.1:1", PubSubHost: "127.0.0.1:1", StorageHost: "127.0.0.1:1", CloudTasksBin: "/nonexistent/ct"},
			want: []string{"no log directory"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Start(context.Background(), tc.cfg)
			if err == nil {
				s.Stop()
				t.Fatal("Start: got nil error, want one")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestStart_fails_for_a_given_host_that_does_not_answer(t *testing.T) {
	t.Parallel()
	port := closedPort(t)
	host := "127.0.0.1:" + strconv.Itoa(port)
	_, err := Start(context.Background(), Config{FirestoreHost: host, PubSubHost: host, CloudTasksHost: host, StorageHost: host, StartTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "given by the environment") {
		t.Fatalf("Start: got %v, want an error about the given host", err)
	}
}

func TestStart_reuses_given_hosts(t *testing.T) {
	t.Parallel()
	want := Config{
		FirestoreHost:  emulatortest.Firestore(t),
		PubSubHost:     emulatortest.PubSub(t),
		CloudTasksHost: emulatortest.CloudTasks(t),
		StorageHost:    emulatortest.Storage(t),
	}
	s, err := Start(context.Background(), want)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()
	if s.Started() {
		t.Error("Started: got true, want false (every host was given)")
	}
	got := []string{s.FirestoreHost, s.PubSubHost, s.CloudTasksHost, s.StorageHost}
	if got[0] != want.FirestoreHost || got[1] != want.PubSubHost || got[2] != want.CloudTasksHost || got[3] != want.StorageHost {
		t.Errorf("hosts: got %v, want the given ones %+v", got, want)
	}
}

// TestStart_and_Stop starts the real emulators (not those of scripts/test)
// and checks that Stop leaves none of their processes behind.
func TestStart_and_Stop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts the emulators; skipped under -short")
	}
	logDir := t.TempDir()
	s, err := Start(context.Background(), Config{CloudTasksBin: cloudTasksBin, StorageBin: storageBin, LogDir: logDir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var pids []int
	for _, c := range s.children {
		pids = append(pids, c.cmd.Process.Pid)
	}
	if len(pids) != 4 {
		t.Errorf("started %d emulators, want 4", len(pids))
	}
	for _, l := range []string{"firestore.log", "pubsub.log", "cloudtasks.log", "storage.log"} {
		if _, err := os.Stat(filepath.Join(logDir, l)); err != nil {
			t.Errorf("log: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, probe := range map[string]func() error{
		"firestore":  func() error { return firestoreReady(ctx, s.FirestoreHost) },
		"pubsub":     func() error { return pubsubReady(ctx, s.PubSubHost) },
		"cloudtasks": func() error { return cloudTasksReady(ctx, s.CloudTasksHost) },
		"storage":    func() error { return storageReady(ctx, s.StorageHost) },
	} {
		if err := probe(); err != nil {
			t.Errorf("%s not ready after Start: %v", name, err)
		}
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	for _, pid := range pids {
		if groupAlive(pid) {
			t.Errorf("process group %d still alive after Stop", pid)
		}
	}
	for _, h := range []string{s.FirestoreHost, s.PubSubHost, s.CloudTasksHost, s.StorageHost} {
		if c, err := net.DialTimeout("tcp", h, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", h)
		}
	}
	select {
	case err := <-s.Died():
		t.Errorf("Died after a requested Stop: %v", err)
	default:
	}
}

func TestDied_reports_an_emulator_that_exits(t *testing.T) {
	t.Parallel()
	cfg := Config{
		FirestoreHost: emulatortest.Firestore(t),
		PubSubHost:    emulatortest.PubSub(t),
		StorageHost:   emulatortest.Storage(t),
		CloudTasksBin: cloudTasksBin,
		LogDir:        t.TempDir(),
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()
	if !s.Started() {
		t.Fatal("Started: got false, want the Cloud Tasks emulator started")
	}
	if err := s.children[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.Died():
		if !strings.Contains(err.Error(), "cloudtasks emulator exited unexpectedly") {
			t.Errorf("Died: got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Died: nothing reported 10 s after the emulator was killed")
	}
}

// The group, not just the leader, must go: emulators may spawn helpers.
func TestStop_kills_the_whole_process_group(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "sh.log")
	// The shell ignores SIGTERM, so only the SIGKILL after grace ends it.
	c, err := startChild("sh", exec.Command("sh", "-c", "trap '' TERM; sleep 300 & echo $!; wait"), log)
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	var grandchild int
	for deadline := time.Now().Add(5 * time.Second); grandchild == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(log)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if grandchild == 0 {
		t.Fatal("the shell never reported its background sleep")
	}
	if err := c.stop(200 * time.Millisecond); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if groupAlive(c.cmd.Process.Pid) {
		t.Error("process group alive after stop")
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d alive after stop", grandchild)
	}
}

// groupAlive reports whether a live (not zombie) process is in group pgid,
// giving the kernel a moment to deliver the kill.
func groupAlive(pgid int) bool {
	for range 50 {
		if len(liveMembers(pgid)) == 0 {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// liveMembers lists the processes of group pgid that are not zombies
// (killed orphans stay in the group until init reaps them).
func liveMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range stats {
		state, group, ok := procStat(p)
		if ok && group == pgid && state != "Z" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid runs: a zombie is dead but not yet reaped.
func alive(pid int) bool {
	state, _, ok := procStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && state != "Z"
}

// procStat reads a process's state and group from /proc/<pid>/stat, whose
// fields after the parenthesized command name are: state ppid pgrp.
func procStat(path string) (state string, pgrp int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0], pgrp, err == nil
}

// closedPort returns a port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
