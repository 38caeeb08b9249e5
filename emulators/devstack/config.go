package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Defaults for a local stack; none of them is a real secret.
const (
	defaultPort    = 8080
	defaultProject = "ese-local"
	defaultAPIKey  = "local-dev-key"
	// defaultErasureKey keys erased people's hashed opt-outs locally; a
	// deployment's is a secret (infra/secrets.tf).
	defaultErasureKey  = "local-erasure-key-not-for-production"
	defaultTwilioSID   = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	defaultTwilioToken = "localtwiliotoken"      // alphanumeric, as Twilio's are
	defaultTwilioFrom  = "whatsapp:+14155238886" // Twilio's WhatsApp sandbox
	tasksLocation      = "us-central1"
	bucketSuffix       = "-uploads" // IMPORT_BUCKET is GOOGLE_CLOUD_PROJECT plus this
)

// Emulator ports default to PORT plus these, so that stacks with different
// PORTs never collide.
const (
	firestoreOffset  = 10000
	pubsubOffset     = 20000
	cloudTasksOffset = 30000
	twilioOffset     = 40000
	storageOffset    = 45000
)

var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// config is the stack's configuration, read from the environment.
type config struct {
	Port           int // the one origin, 127.0.0.1:Port
	FirestorePort  int
	PubSubPort     int
	CloudTasksPort int
	StoragePort    int
	TwilioPort     int // the Twilio stand-in

	// Emulators already running (from *_EMULATOR_HOST): reused, not started.
	FirestoreHost, PubSubHost, CloudTasksHost, StorageHost string

	Project       string
	ImportBucket  string // the uploads bucket, created on the emulator
	APIKey        string
	ErasureKey    string
	TwilioSID     string
	TwilioToken   string
	TwilioFrom    string
	TwilioService string // a Messaging Service to send through instead of TwilioFrom
	// StandinMPS is the stand-in's throughput per sender (0: unlimited).
	StandinMPS    float64
	PublicBaseURL string

	// SenderURL is a Sender served on its own (FUNCTION_TARGET=Sender),
	// where the send queues dispatch instead of the origin's /tasks/send;
	// empty: the origin's.
	SenderURL string
	// DuplicateRate is the share of Pub/Sub pushes and Cloud Tasks
	// dispatches delivered twice (localstack.Duplicator), drawn from
	// ChaosSeed: local chaos tests only, 0 (off) by default.
	DuplicateRate float64
	ChaosSeed     uint64

	// Defaulted lists "NAME=value" for each variable left unset, so that
	// the banner can show what to copy.
	Defaulted []string
}

// loadConfig reads the configuration through getenv (os.Getenv outside
// tests), reporting every bad value at once.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var problems []error
	str := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		c.Defaulted = append(c.Defaulted, name+"="+def)
		return def
	}
	port := func(name string, def, lowest int) int {
		v := getenv(name)
		if v == "" {
			if def > 65535 {
				problems = append(problems, fmt.Errorf("%s defaults to PORT+%d = %d, past 65535: set %s or a smaller PORT", name, def-c.Port, def, name))
			}
			return def
		}
		p, err := strconv.Atoi(v)
		if err != nil || p < lowest || p > 65535 {
			problems = append(problems, fmt.Errorf("%s=%q: want a port number from %d to 65535", name, v, lowest))
		}
		return p
	}

	c.Port = port("PORT", defaultPort, 1)
	// 0 asks for any free port, which is how scripts/test avoids a
	// running scripts/dev.
	c.FirestoreHost = getenv("FIRESTORE_EMULATOR_HOST")
	c.PubSubHost = getenv("PUBSUB_EMULATOR_HOST")
	c.CloudTasksHost = getenv("CLOUD_TASKS_EMULATOR_HOST")
	c.StorageHost = getenv("STORAGE_EMULATOR_HOST")
	// An emulator given by its host is reused: its port is not ours to pick.
	if c.FirestoreHost == "" {
		c.FirestorePort = port("FIRESTORE_PORT", c.Port+firestoreOffset, 0)
	}
	if c.PubSubHost == "" {
		c.PubSubPort = port("PUBSUB_PORT", c.Port+pubsubOffset, 0)
	}
	if c.CloudTasksHost == "" {
		c.CloudTasksPort = port("CLOUD_TASKS_PORT", c.Port+cloudTasksOffset, 0)
	}
	if c.StorageHost == "" {
		c.StoragePort = port("STORAGE_PORT", c.Port+storageOffset, 0)
	}
	c.TwilioPort = port("TWILIO_STANDIN_PORT", c.Port+twilioOffset, 0)

	c.Project = str("GOOGLE_CLOUD_PROJECT", defaultProject)
	// Named after the project, as deployed (infra/uploads.tf), so stacks
	// of different projects on one emulator never share a bucket.
	c.ImportBucket = str("IMPORT_BUCKET", c.Project+bucketSuffix)
	c.APIKey = str("API_KEY", defaultAPIKey)
	c.ErasureKey = str("ERASURE_KEY", defaultErasureKey)
	c.TwilioSID = str("TWILIO_ACCOUNT_SID", defaultTwilioSID)
	c.TwilioToken = str("TWILIO_AUTH_TOKEN", defaultTwilioToken)
	// The sandbox sender stands in only when no Messaging Service is given.
	if c.TwilioService = getenv("TWILIO_MESSAGING_SERVICE_SID"); c.TwilioService == "" {
		c.TwilioFrom = str("TWILIO_FROM", defaultTwilioFrom)
	} else {
		c.TwilioFrom = getenv("TWILIO_FROM")
	}
	if v := getenv("TWILIO_STANDIN_MPS"); v != "" {
		mps, err := strconv.ParseFloat(v, 64)
		if err != nil || mps < 0 || math.IsInf(mps, 0) || math.IsNaN(mps) {
			problems = append(problems, fmt.Errorf("TWILIO_STANDIN_MPS=%q: want messages per second, 0 or more (0: unlimited)", v))
		}
		c.StandinMPS = mps
	}
	if v := getenv("SENDER_URL"); v != "" {
		if u, err := url.Parse(v); err != nil || u.Scheme != "http" || u.Host == "" {
			problems = append(problems, fmt.Errorf("SENDER_URL=%q: want an http URL of a Sender served on its own", v))
		}
		c.SenderURL = v
	}
	if v := getenv("CHAOS_DUPLICATE_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			problems = append(problems, fmt.Errorf("CHAOS_DUPLICATE_RATE=%q: want a share from 0 to 1", v))
		}
		c.DuplicateRate = r
	}
	if v := getenv("CHAOS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			problems = append(problems, fmt.Errorf("CHAOS_SEED=%q: want a whole number", v))
		}
		c.ChaosSeed = seed
	}
	c.PublicBaseURL = strings.TrimRight(str("PUBLIC_BASE_URL", "http://localhost:"+strconv.Itoa(c.Port)), "/")

	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("PUBLIC_BASE_URL=%q: want an absolute http(s) URL", c.PublicBaseURL))
	}
	if !strings.HasPrefix(c.TwilioSID, "AC") || !alphanumeric.MatchString(c.TwilioSID) {
		problems = append(problems, fmt.Errorf("TWILIO_ACCOUNT_SID=%q: want an account SID (AC and letters or digits)", c.TwilioSID))
	}
	if c.TwilioFrom != "" && c.TwilioService != "" {
		problems = append(problems, errors.New("TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID are both set: give one sender"))
	}
	if !alphanumeric.MatchString(c.TwilioToken) {
		// Twilio's tokens are; the provider refuses others.
		problems = append(problems, errors.New("TWILIO_AUTH_TOKEN: want letters and digits only"))
	}
	problems = append(problems, c.distinctPorts()...)
	return c, errors.Join(problems...)
}

// distinctPorts reports two listeners of the stack set to one port.
func (c config) distinctPorts() []error {
	var problems []error
	seen := map[int]string{}
	for _, p := range []struct {
		name string
		port int
		used bool
	}{
		{"PORT", c.Port, true},
		{"FIRESTORE_PORT", c.FirestorePort, c.FirestoreHost == ""},
		{"PUBSUB_PORT", c.PubSubPort, c.PubSubHost == ""},
		{"CLOUD_TASKS_PORT", c.CloudTasksPort, c.CloudTasksHost == ""},
		{"STORAGE_PORT", c.StoragePort, c.StorageHost == ""},
		{"TWILIO_STANDIN_PORT", c.TwilioPort, true},
	} {
		if !p.used || p.port == 0 {
			continue
		}
		if other, ok := seen[p.port]; ok {
			problems = append(problems, fmt.Errorf("%s and %s are both %d", other, p.name, p.port))
		}
		seen[p.port] = p.name
	}
	return problems
}
