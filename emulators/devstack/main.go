// Command devstack runs the whole platform on one machine: the Firestore,
// Pub/Sub, Cloud Tasks and Cloud Storage emulators, the Twilio stand-in and
// every function, the HTTP functions behind one origin. scripts/dev runs
// it; scripts/test runs it with -emulators-only to get just the emulators.
//
// The Pub/Sub-triggered functions run in a second process of their own
// (devstack -serve-events), where the emulator's push subscriptions post,
// as each function is its own service when deployed: the work a burst of
// events makes (a Firestore transaction per inbound message, say) then
// does not queue on the same Go scheduler and collector as the webhooks
// Twilio is waiting on. The Sender is served at the origin unless
// SENDER_URL names one served on its own.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/eventstreamengine/ese/emulators/localstack"
	"github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/functions/localroutes"
	"github.com/eventstreamengine/ese/shared/logging"
)

func main() {
	log := logging.FromEnv()
	slog.SetDefault(log)
	// funcframework prints a "Serving function" line per registered path,
	// most naming nothing: the banner, on the real stdout, says where
	// everything is.
	out := os.Stdout
	if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stdout = devnull
	}
	os.Exit(run(os.Args[1:], os.Getenv, out, log))
}

const usage = `Usage: devstack [flags]   (normally run by scripts/dev)

Environment, with defaults:
  PORT                 8080: the one origin, on 127.0.0.1
  FIRESTORE_PORT       PORT+10000 \
  PUBSUB_PORT          PORT+20000  | 0 means any free port
  CLOUD_TASKS_PORT     PORT+30000  |
  TWILIO_STANDIN_PORT  PORT+40000  |
  STORAGE_PORT         PORT+45000 /
  FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, CLOUD_TASKS_EMULATOR_HOST,
  STORAGE_EMULATOR_HOST
                       a running emulator to use instead of starting one
                       (a storage emulator given so announces uploads only
                       if it was started with PUBSUB_EMULATOR_HOST)
  GOOGLE_CLOUD_PROJECT ` + defaultProject + `
  IMPORT_BUCKET        GOOGLE_CLOUD_PROJECT` + bucketSuffix + `: created on the storage emulator
  API_KEY              ` + defaultAPIKey + `
  ERASURE_KEY          ` + defaultErasureKey + `
  TWILIO_ACCOUNT_SID   ` + defaultTwilioSID + `
  TWILIO_AUTH_TOKEN    ` + defaultTwilioToken + `
  TWILIO_FROM          ` + defaultTwilioFrom + ` (unless TWILIO_MESSAGING_SERVICE_SID is set)
  TWILIO_MESSAGING_SERVICE_SID
                       a Messaging Service (MG...) to send through instead
  PUBLIC_BASE_URL      http://localhost:PORT
  LOG_LEVEL            info
  SENDER_URL           a Sender served on its own (FUNCTION_TARGET=Sender)
                       for the send queues to dispatch to, instead of PORT's
  CHAOS_DUPLICATE_RATE 0: the share of Pub/Sub pushes and Cloud Tasks
                       dispatches delivered twice (chaos tests only)
  CHAOS_SEED           0: the seed of those draws

Flags:
`

// options are the command-line flags.
type options struct {
	emulatorsOnly bool
	serveEvents   string // host:port: serve only the event functions there
	envFile       string
	logDir        string
	cloudTasksBin string
	storageBin    string
}

func run(args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) int {
	var o options
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.emulatorsOnly, "emulators-only", false, "start only the emulators (or check those given by *_EMULATOR_HOST), write -env-file, and wait for SIGINT/SIGTERM")
	fs.StringVar(&o.envFile, "env-file", "", "with -emulators-only: write the *_EMULATOR_HOST variables to this file once the emulators answer")
	fs.StringVar(&o.serveEvents, "serve-events", "", "internal: serve only the Pub/Sub-triggered functions on this 127.0.0.1 host:port, until the parent stack ends (the stack starts this itself)")
	fs.StringVar(&o.logDir, "log-dir", ".run", "folder for the emulators' logs")
	fs.StringVar(&o.storageBin, "storage-emulator", filepath.Join(".bin", "fake-gcs-server"), "the Cloud Storage emulator executable")
	fs.StringVar(&o.cloudTasksBin, "cloud-tasks-emulator", filepath.Join(".bin", "cloud-tasks-emulator"), "the Cloud Tasks emulator executable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "devstack: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.serveEvents != "" {
		// The stack's own child, configured by the environment it set.
		exitWithParent()
		if err := serveEvents(o.serveEvents); err != nil {
			log.Error("devstack -serve-events failed", "error", err)
			return 1
		}
		return 0
	}
	if o.envFile != "" && !o.emulatorsOnly {
		fmt.Fprintln(fs.Output(), "devstack: -env-file goes with -emulators-only")
		return 2
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		log.Error("devstack: bad configuration", "error", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		// After the first signal, a second one ends the process at once;
		// the emulators still die with it (parent-death signal).
		<-ctx.Done()
		stop()
	}()

	if o.emulatorsOnly {
		// Under scripts/test, a killed script must not leave the stack
		// holding ports and CPU.
		exitWithParent()
		err = runEmulators(ctx, cfg, o, stdout, log)
	} else {
		err = runStack(ctx, cfg, o, stdout, log)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("devstack failed", "error", err)
		return 1
	}
	log.Info("devstack stopped")
	return 0
}

// startEmulators starts the emulators cfg gives no host for.
func startEmulators(ctx context.Context, cfg config, o options, log *slog.Logger) (*localstack.Stack, error) {
	return localstack.Start(ctx, localstack.Config{
		FirestoreHost:  cfg.FirestoreHost,
		PubSubHost:     cfg.PubSubHost,
		CloudTasksHost: cfg.CloudTasksHost,
		StorageHost:    cfg.StorageHost,
		FirestorePort:  cfg.FirestorePort,
		PubSubPort:     cfg.PubSubPort,
		CloudTasksPort: cfg.CloudTasksPort,
		StoragePort:    cfg.StoragePort,
		CloudTasksBin:  o.cloudTasksBin,
		StorageBin:     o.storageBin,
		LogDir:         o.logDir,
		Logger:         log,
	})
}

// runEmulators serves scripts/test: emulators only, their addresses in an
// env file, until a signal.
func runEmulators(ctx context.Context, cfg config, o options, stdout io.Writer, log *slog.Logger) error {
	began := time.Now()
	stack, err := startEmulators(ctx, cfg, o, log)
	if err != nil {
		return err
	}
	defer stack.Stop()
	env := strings.Join(stack.Env(), "\n") + "\n"
	if o.envFile != "" {
		if err := writeFileAtomic(o.envFile, env); err != nil {
			return err
		}
		defer os.Remove(o.envFile)
	}
	fmt.Fprint(stdout, env)
	log.Info("emulators ready", "after", time.Since(began).Round(time.Millisecond).String(), "env_file", o.envFile)
	select {
	case <-ctx.Done():
		return nil
	case err := <-stack.Died():
		return err
	}
}

// runStack serves scripts/dev: the whole platform on one origin.
func runStack(ctx context.Context, cfg config, o options, stdout io.Writer, log *slog.Logger) error {
	began := time.Now()
	port := strconv.Itoa(cfg.Port)
	// Claim the ports before the slow start of the emulators, so that a
	// clash shows at once.
	if err := portFree(cfg.Port); err != nil {
		return fmt.Errorf("PORT %d: %w", cfg.Port, err)
	}
	twilioLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.TwilioPort)))
	if err != nil {
		return fmt.Errorf("TWILIO_STANDIN_PORT %d: %w", cfg.TwilioPort, err)
	}
	defer twilioLn.Close()

	stack, err := startEmulators(ctx, cfg, o, log)
	if err != nil {
		return err
	}
	defer stack.Stop()

	origin := "http://127.0.0.1:" + port
	twilioURL := "http://" + twilioLn.Addr().String()
	// The event functions get a process of their own (see the package
	// comment), started below once the environment it inherits is set.
	eventsPort, err := localstack.FreePort()
	if err != nil {
		return fmt.Errorf("a port for the event functions: %w", err)
	}
	eventsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(eventsPort))
	// Where the push subscriptions and the send queues deliver: the
	// events process and the Sender, or duplicating proxies in front of
	// them.
	pushTo, sendTo := "http://"+eventsAddr, cmp.Or(cfg.SenderURL, origin+localroutes.SenderPath)
	if cfg.DuplicateRate > 0 {
		stopProxies, err := duplicate(cfg, &pushTo, &sendTo, log)
		if err != nil {
			return err
		}
		defer stopProxies()
	}
	env := [][2]string{
		{"GOOGLE_CLOUD_PROJECT", cfg.Project},
		{"IMPORT_BUCKET", cfg.ImportBucket},
		{localstack.EnvFirestore, stack.FirestoreHost},
		{localstack.EnvPubSub, stack.PubSubHost},
		{localstack.EnvCloudTasks, stack.CloudTasksHost},
		{localstack.EnvStorage, stack.StorageHost},
		{"TASKS_LOCATION", tasksLocation},
		{"SENDER_URL", sendTo},
		{"PUBLIC_BASE_URL", cfg.PublicBaseURL},
		{"API_KEY", cfg.APIKey},
		{"ERASURE_KEY", cfg.ErasureKey},
		{"TWILIO_ACCOUNT_SID", cfg.TwilioSID},
		{"TWILIO_AUTH_TOKEN", cfg.TwilioToken},
		{"TWILIO_FROM", cfg.TwilioFrom},
		{"TWILIO_MESSAGING_SERVICE_SID", cfg.TwilioService},
		{"TWILIO_API_URL", twilioURL},
	}
	for _, kv := range env {
		if err := os.Setenv(kv[0], kv[1]); err != nil {
			return fmt.Errorf("os.Setenv %s: %w", kv[0], err)
		}
	}

	events, err := startEvents(ctx, eventsAddr, log)
	if err != nil {
		return err
	}
	defer events.stop()
	// Push subscriptions post to the local events process even when
	// PUBLIC_BASE_URL is a tunnel: the emulator is on this machine.
	if err := localstack.Provision(ctx, cfg.Project, pushTo); err != nil {
		return err
	}
	// The bucket, announcing clients' uploads on import-upload, as the
	// deployed one does.
	if err := localstack.ProvisionUploads(ctx, cfg.Project, cfg.ImportBucket); err != nil {
		return err
	}

	standin := twilio.New(twilio.Config{
		AccountSID: cfg.TwilioSID,
		AuthToken:  cfg.TwilioToken,
		// With Twilio's connection overrides, as infra's output gives it
		// (setup.InboundURL): a 5xx is retried.
		InboundURL: cfg.PublicBaseURL + "/webhooks/inbound#rc=3&rp=ct,5xx",
		SenderMPS:  cfg.StandinMPS,
		Contents:   demoContents,
		Logger:     log.With("component", "twilio-standin"),
	})
	twilioSrv := &http.Server{Handler: standin, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := twilioSrv.Serve(twilioLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("twilio stand-in stopped", "error", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = twilioSrv.Shutdown(sctx)
		standin.Close()
	}()

	if err := localroutes.RegisterHTTP(ctx); err != nil {
		return fmt.Errorf("localroutes.RegisterHTTP: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- funcframework.StartHostPort("127.0.0.1", port) }()
	if err := waitListening(ctx, "127.0.0.1:"+port, served); err != nil {
		return err
	}

	printBanner(stdout, banner{
		cfg:     cfg,
		stack:   stack,
		twilio:  twilioURL,
		events:  events.origin,
		logDir:  o.logDir,
		startup: time.Since(began),
	})
	log.Info("stack ready", "origin", origin, "after", time.Since(began).Round(time.Millisecond).String())
	// What Cloud Scheduler does in production: hand on stored callbacks
	// whose webhook died before publishing them, look for campaigns that
	// stopped moving (and settles left over), move on imports left behind,
	// and launch scheduled campaigns whose time has come.
	go sweep(ctx, "http://127.0.0.1:"+port+"/api/v1/maintenance/republish-webhooks", cfg.APIKey, log)
	go sweep(ctx, "http://127.0.0.1:"+port+"/api/v1/maintenance/check-campaigns", cfg.APIKey, log)
	go sweep(ctx, "http://127.0.0.1:"+port+"/api/v1/maintenance/check-imports", cfg.APIKey, log)
	go sweep(ctx, "http://127.0.0.1:"+port+"/api/v1/maintenance/launch-scheduled", cfg.APIKey, log)

	select {
	case <-ctx.Done():
		log.Info("stopping the stack")
		return nil
	case err := <-served:
		return fmt.Errorf("funcframework.StartHostPort: %w", err)
	case err := <-stack.Died():
		return err
	case <-events.done:
		// A signal to the whole process group (kill -TERM -pgid) ends
		// both at once: ours may land a moment after the child's end.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		return fmt.Errorf("the event functions' process (devstack -serve-events) ended: %w", events.err)
	}
}

// eventsProc is the process serving the event functions.
type eventsProc struct {
	origin string
	cmd    *exec.Cmd
	done   chan struct{} // closed when it has ended, err then set
	err    error
}

// startEvents starts devstack -serve-events on addr, its output with
// this process's, and waits until it listens.
func startEvents(ctx context.Context, addr string, log *slog.Logger) (*eventsProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("os.Executable: %w", err)
	}
	cmd := exec.Command(self, "-serve-events", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start devstack -serve-events: %w", err)
	}
	p := &eventsProc{origin: "http://" + addr, cmd: cmd, done: make(chan struct{})}
	served := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		p.err = err
		close(p.done)
		served <- err
	}()
	if err := waitListening(ctx, addr, served); err != nil {
		p.stop()
		return nil, fmt.Errorf("the event functions' process: %w", err)
	}
	log.Info("event functions serving in their own process", "origin", p.origin, "pid", cmd.Process.Pid)
	return p, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *eventsProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// serveEvents serves the event functions on addr until a signal ends the
// process.
func serveEvents(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-serve-events %q: %w", addr, err)
	}
	// The parent stops it (SIGTERM, or the parent-death signal), at once:
	// events in flight are delivered again, as Pub/Sub does. A Ctrl-C at
	// the terminal, which reaches the whole process group, is the
	// parent's to act on, so that it can stop the stack in order.
	signal.Ignore(os.Interrupt)
	ctx := context.Background()
	if err := localroutes.RegisterEvents(ctx); err != nil {
		return fmt.Errorf("localroutes.RegisterEvents: %w", err)
	}
	return funcframework.StartHostPort(host, port)
}

// duplicate puts a localstack.Duplicator in front of *pushTo and another
// in front of *sendTo, each on a port of its own, and points both at
// them; the returned function stops them.
func duplicate(cfg config, pushTo, sendTo *string, log *slog.Logger) (func(), error) {
	var servers []*http.Server
	stop := func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}
	for i, to := range []*string{pushTo, sendTo} {
		u, err := url.Parse(*to)
		if err != nil {
			stop()
			return nil, fmt.Errorf("duplicating proxy for %s: %w", *to, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, fmt.Errorf("duplicating proxy: %w", err)
		}
		// Each proxy draws from a seed of its own, both from CHAOS_SEED.
		d := localstack.NewDuplicator(u, cfg.DuplicateRate, cfg.ChaosSeed+uint64(i), log.With("component", "duplicator"))
		srv := &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		front := *u
		front.Host = ln.Addr().String()
		*to = front.String()
		log.Warn("chaos: delivering a share of requests twice", "to", u.Host+u.Path, "via", front.Host, "rate", cfg.DuplicateRate, "seed", cfg.ChaosSeed+uint64(i))
	}
	return stop, nil
}

// sweep POSTs to url every 30 seconds until ctx ends.
func sweep(ctx context.Context, url, key string, log *slog.Logger) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Warn("maintenance call failed", "url", url, "error", err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			log.Warn("maintenance call failed", "url", url, "http_status", resp.StatusCode)
		}
	}
}

// waitListening waits until addr accepts connections or the server fails.
// Each round first looks at the server: when its bind failed, whatever
// answers on addr is another process.
func waitListening(ctx context.Context, addr string, served <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-served:
			return fmt.Errorf("funcframework.StartHostPort: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			select {
			case err := <-served:
				return fmt.Errorf("funcframework.StartHostPort: %w", err)
			default:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the functions server on %s did not come up: %w", addr, err)
		}
	}
}

// portFree fails when something already listens on 127.0.0.1:port.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is not free (another stack?): %w", port, err)
	}
	return l.Close()
}

// writeFileAtomic writes path through a rename, so that a reader polling
// for the file never sees half of it.
func writeFileAtomic(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("os.MkdirAll: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("os.WriteFile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("os.Rename: %w", err)
	}
	return nil
}
