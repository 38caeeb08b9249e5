// Package localstack runs the Google Cloud emulators the platform needs on
// a developer's machine or in CI (Firestore, Pub/Sub, Cloud Tasks and Cloud
// Storage), each as a child process in a process group of its own, and lays
// out the Pub/Sub topology (Provision) and the uploads bucket with its
// notification (ProvisionUploads) that Terraform gives the deployed system.
package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The variables the Google client libraries (and this project) read to reach
// an emulator instead of the real service.
const (
	EnvFirestore  = "FIRESTORE_EMULATOR_HOST"
	EnvPubSub     = "PUBSUB_EMULATOR_HOST"
	EnvCloudTasks = "CLOUD_TASKS_EMULATOR_HOST"
	EnvStorage    = "STORAGE_EMULATOR_HOST"
)

// DefaultSDKRoot is where Debian's google-cloud-sdk package puts the SDK,
// used when gcloud cannot say where it lives.
const DefaultSDKRoot = "/usr/lib/google-cloud-sdk"

// Config says which emulators to start and where.
type Config struct {
	// Hosts (host:port) of emulators that already run, typically from the
	// *_EMULATOR_HOST variables: such an emulator is checked, not started.
	FirestoreHost, PubSubHost, CloudTasksHost, StorageHost string

	// Ports on 127.0.0.1 for the emulators that are started; 0 picks a
	// free port.
	FirestorePort, PubSubPort, CloudTasksPort, StoragePort int

	// SDKRoot is the gcloud SDK holding the Firestore and Pub/Sub
	// emulators; empty asks gcloud, then tries DefaultSDKRoot.
	SDKRoot string

	// CloudTasksBin is the cloud-tasks-emulator executable (built from the
	// tool module in emulators/cloudtasks).
	CloudTasksBin string

	// StorageBin is the fake-gcs-server executable, the Cloud Storage
	// emulator (built from the tool module in emulators/gcs).
	StorageBin string

	// LogDir receives one log file per started emulator.
	LogDir string

	// StartTimeout bounds the wait for a started emulator to answer;
	// zero means 90 s (a cold JVM on two busy cores is slow).
	StartTimeout time.Duration

	// Logger reports progress; nil discards it.
	Logger *slog.Logger
}

// Stack is a set of running emulators, started or reused.
type Stack struct {
	// Addresses (host:port) of the four emulators.
	FirestoreHost, PubSubHost, CloudTasksHost, StorageHost string

	children []*child
	died     chan error
	stopOnce sync.Once
	stopErr  error
}

// emulator is one emulator to reach: either given or to be started.
type emulator struct {
	name  string
	host  *string // in Stack; set on start when not given
	given bool
	port  int
	cmd   func(port int) *exec.Cmd
	ready func(ctx context.Context, host string) error
}

// Start starts every emulator that cfg gives no host for, waits until all
// of them (started or given) answer, and returns them. On error nothing it
// started is left running.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	s := &Stack{
		FirestoreHost:  cfg.FirestoreHost,
		PubSubHost:     cfg.PubSubHost,
		CloudTasksHost: cfg.CloudTasksHost,
		StorageHost:    cfg.StorageHost,
	}
	ems := []*emulator{
		{name: "firestore", host: &s.FirestoreHost, port: cfg.FirestorePort, ready: firestoreReady},
		{name: "pubsub", host: &s.PubSubHost, port: cfg.PubSubPort, ready: pubsubReady},
		{name: "cloudtasks", host: &s.CloudTasksHost, port: cfg.CloudTasksPort, ready: cloudTasksReady},
		{name: "storage", host: &s.StorageHost, port: cfg.StoragePort, ready: storageReady},
	}
	var toStart []*emulator
	for _, e := range ems {
		e.given = *e.host != ""
		if !e.given {
			toStart = append(toStart, e)
		}
	}
	if err := prepare(cfg, toStart); err != nil {
		return nil, fmt.Errorf("localstack.Start: %w", err)
	}

	began := time.Now()
	for _, e := range toStart {
		*e.host = net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
	}
	for _, e := range toStart {
		cmd := e.cmd(e.port)
		if e.name == "storage" {
			// It publishes the buckets' notifications (ProvisionUploads)
			// to the stack's Pub/Sub, connecting on its first publish:
			// it need not wait for Pub/Sub to be ready.
			cmd.Env = append(os.Environ(), EnvPubSub+"="+s.PubSubHost)
		}
		logPath := filepath.Join(cfg.LogDir, e.name+".log")
		c, err := startChild(e.name, cmd, logPath)
		if err != nil {
			s.stopChildren()
			return nil, fmt.Errorf("localstack.Start: %w", err)
		}
		s.children = append(s.children, c)
		log.Info("emulator starting", "emulator", e.name, "host", *e.host, "log", logPath)
	}
	s.died = make(chan error, len(s.children))
	for _, c := range s.children {
		go s.watch(c)
	}

	// Wait for all of them at once: the JVMs start in parallel.
	errc := make(chan error, len(ems))
	for _, e := range ems {
		go func() {
			wait := timeout
			if e.given {
				// A given emulator should already answer, but a loaded
				// machine (a test run on two cores) can keep it from
				// answering for a while; a typo still fails within a minute.
				wait = min(timeout, time.Minute)
			}
			rctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			if err := s.waitReady(rctx, e); err != nil {
				errc <- err
				return
			}
			if e.given {
				log.Info("emulator reused", "emulator", e.name, "host", *e.host)
			} else {
				log.Info("emulator ready", "emulator", e.name, "host", *e.host, "after", time.Since(began).Round(time.Millisecond).String())
			}
			errc <- nil
		}()
	}
	var errsList []error
	for range ems {
		if err := <-errc; err != nil {
			errsList = append(errsList, err)
		}
	}
	if err := errors.Join(errsList...); err != nil {
		s.stopChildren()
		return nil, fmt.Errorf("localstack.Start: %w", err)
	}
	return s, nil
}

// prepare resolves ports and commands for the emulators to start, reporting
// every missing prerequisite at once.
func prepare(cfg Config, toStart []*emulator) error {
	if len(toStart) == 0 {
		return nil
	}
	var problems []error
	if cfg.LogDir == "" {
		problems = append(problems, errors.New("no log directory given"))
	} else if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		problems = append(problems, fmt.Errorf("os.MkdirAll: %w", err))
	}
	needsSDK := false
	for _, e := range toStart {
		if e.name == "firestore" || e.name == "pubsub" {
			needsSDK = true
		}
	}
	var java, sdk string
	if needsSDK {
		var err error
		if java, err = exec.LookPath("java"); err != nil {
			problems = append(problems, errors.New("java is not on PATH: the Firestore and Pub/Sub emulators need a Java runtime (apt-get install default-jre-headless)"))
		}
		if sdk, err = sdkRoot(cfg.SDKRoot); err != nil {
			problems = append(problems, err)
		}
	}
	for _, e := range toStart {
		if err := e.resolve(cfg, java, sdk); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// resolve picks e's port and command.
func (e *emulator) resolve(cfg Config, java, sdk string) error {
	if e.port == 0 {
		p, err := FreePort()
		if err != nil {
			return fmt.Errorf("%s emulator: %w", e.name, err)
		}
		e.port = p
	} else if err := portFree(e.port); err != nil {
		// Checked first: otherwise the readiness probe could happily talk to
		// a stale emulator on that port while ours fails to bind.
		return fmt.Errorf("%s emulator: %w", e.name, err)
	}
	switch e.name {
	case "firestore":
		jar := filepath.Join(sdk, "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
		if sdk != "" {
			if _, err := os.Stat(jar); err != nil {
				return fmt.Errorf("firestore emulator not installed (%s missing): apt-get install google-cloud-cli-firestore-emulator, or gcloud components install cloud-firestore-emulator", jar)
			}
		}
		e.cmd = func(port int) *exec.Cmd {
			return exec.Command(java, "-Duser.language=en", "-cp", jar,
				"com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
				"--host=127.0.0.1", "--port="+strconv.Itoa(port))
		}
	case "pubsub":
		// The jar, run by the same java as Firestore, rather than the SDK's
		// launcher script: one process fewer in the group to stop.
		jars, _ := filepath.Glob(filepath.Join(sdk, "platform", "pubsub-emulator", "lib", "cloud-pubsub-emulator-*.jar"))
		if sdk != "" && len(jars) == 0 {
			return fmt.Errorf("pub/sub emulator not installed (no %s): apt-get install google-cloud-cli-pubsub-emulator, or gcloud components install pubsub-emulator", filepath.Join(sdk, "platform", "pubsub-emulator", "lib", "cloud-pubsub-emulator-*.jar"))
		}
		sort.Strings(jars)
		e.cmd = func(port int) *exec.Cmd {
			return exec.Command(java, "-jar", jars[len(jars)-1], "--host=127.0.0.1", "--port="+strconv.Itoa(port))
		}
	case "cloudtasks":
		if cfg.CloudTasksBin == "" {
			return errors.New("cloud tasks emulator: no executable given")
		}
		if _, err := os.Stat(cfg.CloudTasksBin); err != nil {
			return fmt.Errorf("cloud tasks emulator %s missing: build it with (cd emulators/cloudtasks && go build -o ../../.bin/cloud-tasks-emulator github.com/aertje/cloud-tasks-emulator)", cfg.CloudTasksBin)
		}
		e.cmd = func(port int) *exec.Cmd {
			return exec.Command(cfg.CloudTasksBin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
		}
	case "storage":
		if cfg.StorageBin == "" {
			return errors.New("cloud storage emulator: no executable given")
		}
		if _, err := os.Stat(cfg.StorageBin); err != nil {
			return fmt.Errorf("cloud storage emulator %s missing: build it with (cd emulators/gcs && go build -o ../../.bin/fake-gcs-server github.com/fsouza/fake-gcs-server)", cfg.StorageBin)
		}
		e.cmd = func(port int) *exec.Cmd {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			// In memory, over plain HTTP, and naming itself by the address
			// clients reach (uploads' Location headers, signed URLs). At
			// info, its log holds every request and, above all, any
			// notification it failed to publish.
			return exec.Command(cfg.StorageBin, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
				"-backend", "memory", "-public-host", addr, "-external-url", "http://"+addr, "-log-level", "info")
		}
	}
	return nil
}

// waitReady polls e until it answers, its process exits or ctx ends.
func (s *Stack) waitReady(ctx context.Context, e *emulator) error {
	var exited <-chan struct{}
	var c *child
	if !e.given {
		for _, ch := range s.children {
			if ch.name == e.name {
				c, exited = ch, ch.done
			}
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = e.ready(actx, *e.host)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s emulator exited before answering (%v); last lines of %s:\n%s", e.name, c.err, c.logPath, tail(c.logPath, 15))
		case <-ctx.Done():
			if e.given {
				return fmt.Errorf("%s emulator at %s (given by the environment) does not answer: %w", e.name, *e.host, last)
			}
			return fmt.Errorf("%s emulator at %s did not answer in time (%w); see %s", e.name, *e.host, last, c.logPath)
		case <-tick.C:
		}
	}
}

// watch reports a child that exits before Stop asked it to.
func (s *Stack) watch(c *child) {
	<-c.done
	if !c.stopping.Load() {
		s.died <- fmt.Errorf("%s emulator exited unexpectedly (%v); see %s", c.name, c.err, c.logPath)
	}
}

// Died delivers an error for each emulator the stack started that exits
// before Stop; it never delivers when nothing was started.
func (s *Stack) Died() <-chan error { return s.died }

// Env returns the emulator variables as KEY=value lines, for a process
// environment or an env file.
func (s *Stack) Env() []string {
	return []string{
		EnvFirestore + "=" + s.FirestoreHost,
		EnvPubSub + "=" + s.PubSubHost,
		EnvCloudTasks + "=" + s.CloudTasksHost,
		EnvStorage + "=" + s.StorageHost,
	}
}

// Started reports whether the stack started any emulator itself.
func (s *Stack) Started() bool { return len(s.children) > 0 }

// Stop stops the emulators the stack started (never reused ones) and their
// process groups. It is safe to call more than once.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stopChildren() })
	return s.stopErr
}

func (s *Stack) stopChildren() error {
	var wg sync.WaitGroup
	errc := make(chan error, len(s.children))
	for _, c := range s.children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.stop(5 * time.Second); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	var all []error
	for err := range errc {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// sdkRoot finds the gcloud SDK: the given root, else the one gcloud is in,
// else DefaultSDKRoot.
func sdkRoot(given string) (string, error) {
	hasPlatform := func(root string) bool {
		fi, err := os.Stat(filepath.Join(root, "platform"))
		return err == nil && fi.IsDir()
	}
	if given != "" {
		if !hasPlatform(given) {
			return "", fmt.Errorf("gcloud SDK root %s has no platform/ folder", given)
		}
		return given, nil
	}
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		// gcloud is <root>/bin/gcloud; resolving the link spares the
		// half second that `gcloud info` takes.
		if real, err := filepath.EvalSymlinks(gcloud); err == nil && hasPlatform(filepath.Dir(filepath.Dir(real))) {
			return filepath.Dir(filepath.Dir(real)), nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, gcloud, "info", "--format=value(installation.sdk_root)").Output()
		if root := string(bytes.TrimSpace(out)); err == nil && root != "" && hasPlatform(root) {
			return root, nil
		}
	}
	if hasPlatform(DefaultSDKRoot) {
		return DefaultSDKRoot, nil
	}
	return "", errors.New("gcloud SDK with the Firestore and Pub/Sub emulators is required (gcloud on PATH, or " + DefaultSDKRoot + "); it cannot be installed from this machine's registries")
}

// portFree fails when something already listens on 127.0.0.1:port.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is not free (another stack or an old emulator?): %w", port, err)
	}
	return l.Close()
}
