package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	allDefaults := []string{
		"GOOGLE_CLOUD_PROJECT=ese-local",
		"IMPORT_BUCKET=ese-local-uploads",
		"API_KEY=local-dev-key",
		"ERASURE_KEY=local-erasure-key-not-for-production",
		"TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"TWILIO_AUTH_TOKEN=localtwiliotoken",
		"TWILIO_FROM=whatsapp:+14155238886",
	}
	tests := []struct {
		name string
		env  map[string]string
		want config
	}{
		{
			name: "defaults",
			want: config{
				Port: 8080, FirestorePort: 18080, PubSubPort: 28080, CloudTasksPort: 38080, StoragePort: 53080, TwilioPort: 48080,
				Project: "ese-local", ImportBucket: "ese-local-uploads", APIKey: "local-dev-key", ErasureKey: "local-erasure-key-not-for-production", TwilioSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				TwilioToken: "localtwiliotoken", TwilioFrom: "whatsapp:+14155238886", PublicBaseURL: "http://localhost:8080",
				Defaulted: append(append([]string{}, allDefaults...), "PUBLIC_BASE_URL=http://localhost:8080"),
			},
		},
		{
			name: "ports_follow_PORT",
			env:  map[string]string{"PORT": "9090", "PUBSUB_PORT": "0"},
			want: config{
				Port: 9090, FirestorePort: 19090, PubSubPort: 0, CloudTasksPort: 39090, StoragePort: 54090, TwilioPort: 49090,
				Project: "ese-local", ImportBucket: "ese-local-uploads", APIKey: "local-dev-key", ErasureKey: "local-erasure-key-not-for-production", TwilioSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				TwilioToken: "localtwiliotoken", TwilioFrom: "whatsapp:+14155238886", PublicBaseURL: "http://localhost:9090",
				Defaulted: append(append([]string{}, allDefaults...), "PUBLIC_BASE_URL=http://localhost:9090"),
			},
		},
		{
			name: "reused_emulators_free_a_high_PORT",
			env: map[string]string{
				"PORT": "40025", "TWILIO_STANDIN_PORT": "40026",
				"FIRESTORE_EMULATOR_HOST": "h:1", "PUBSUB_EMULATOR_HOST": "h:2", "CLOUD_TASKS_EMULATOR_HOST": "h:3",
				"STORAGE_EMULATOR_HOST": "h:4",
			},
			want: config{
				Port: 40025, TwilioPort: 40026, FirestoreHost: "h:1", PubSubHost: "h:2", CloudTasksHost: "h:3", StorageHost: "h:4",
				Project: "ese-local", ImportBucket: "ese-local-uploads", APIKey: "local-dev-key", ErasureKey: "local-erasure-key-not-for-production", TwilioSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				TwilioToken: "localtwiliotoken", TwilioFrom: "whatsapp:+14155238886", PublicBaseURL: "http://localhost:40025",
				Defaulted: append(append([]string{}, allDefaults...), "PUBLIC_BASE_URL=http://localhost:40025"),
			},
		},
		{
			name: "bucket_follows_the_project",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "p2"},
			want: config{
				Port: 8080, FirestorePort: 18080, PubSubPort: 28080, CloudTasksPort: 38080, StoragePort: 53080, TwilioPort: 48080,
				Project: "p2", ImportBucket: "p2-uploads", APIKey: "local-dev-key", ErasureKey: "local-erasure-key-not-for-production", TwilioSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				TwilioToken: "localtwiliotoken", TwilioFrom: "whatsapp:+14155238886", PublicBaseURL: "http://localhost:8080",
				Defaulted: append(append([]string{"IMPORT_BUCKET=p2-uploads"}, allDefaults[2:]...), "PUBLIC_BASE_URL=http://localhost:8080"),
			},
		},
		{
			name: "messaging_service_instead_of_the_sandbox",
			env:  map[string]string{"TWILIO_MESSAGING_SERVICE_SID": "MG0123456789abcdef0123456789abcdef"},
			want: config{
				Port: 8080, FirestorePort: 18080, PubSubPort: 28080, CloudTasksPort: 38080, StoragePort: 53080, TwilioPort: 48080,
				Project: "ese-local", ImportBucket: "ese-local-uploads", APIKey: "local-dev-key", ErasureKey: "local-erasure-key-not-for-production", TwilioSID: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				TwilioToken: "localtwiliotoken", TwilioService: "MG0123456789abcdef0123456789abcdef", PublicBaseURL: "http://localhost:8080",
				Defaulted: append(append([]string{}, allDefaults[:6]...), "PUBLIC_BASE_URL=http://localhost:8080"),
			},
		},
		{
			name: "everything_given",
			env: map[string]string{
				"PORT": "8081", "FIRESTORE_PORT": "1", "PUBSUB_PORT": "2", "CLOUD_TASKS_PORT": "3", "TWILIO_STANDIN_PORT": "4",
				"FIRESTORE_EMULATOR_HOST": "h:1", "PUBSUB_EMULATOR_HOST": "h:2", "CLOUD_TASKS_EMULATOR_HOST": "h:3",
				"STORAGE_EMULATOR_HOST": "h:4", "GOOGLE_CLOUD_PROJECT": "p", "IMPORT_BUCKET": "b", "API_KEY": "k", "ERASURE_KEY": "e", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
				"TWILIO_FROM": "whatsapp:+1", "PUBLIC_BASE_URL": "https://example.test/", "TWILIO_STANDIN_MPS": "2.5",
				"SENDER_URL": "http://127.0.0.1:9/tasks/send", "CHAOS_DUPLICATE_RATE": "0.01", "CHAOS_SEED": "42",
			},
			want: config{
				// Emulators given by host are reused: their ports are unused.
				Port: 8081, TwilioPort: 4,
				FirestoreHost: "h:1", PubSubHost: "h:2", CloudTasksHost: "h:3", StorageHost: "h:4",
				Project: "p", ImportBucket: "b", APIKey: "k", ErasureKey: "e", TwilioSID: "AC1", TwilioToken: "t", TwilioFrom: "whatsapp:+1",
				PublicBaseURL: "https://example.test", StandinMPS: 2.5,
				SenderURL: "http://127.0.0.1:9/tasks/send", DuplicateRate: 0.01, ChaosSeed: 42,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadConfig(mapEnv(tc.env))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("loadConfig (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig_rejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must be in the error
	}{
		{name: "port_not_a_number", env: map[string]string{"PORT": "http"}, want: []string{`PORT="http"`}},
		{name: "port_zero", env: map[string]string{"PORT": "0"}, want: []string{`PORT="0"`}},
		{name: "derived_port_too_high", env: map[string]string{"PORT": "40000"}, want: []string{"CLOUD_TASKS_PORT defaults to PORT+30000 = 70000", "TWILIO_STANDIN_PORT defaults to PORT+40000 = 80000"}},
		{name: "clash", env: map[string]string{"FIRESTORE_PORT": "8080"}, want: []string{"PORT and FIRESTORE_PORT are both 8080"}},
		{name: "bad_public_url", env: map[string]string{"PUBLIC_BASE_URL": "localhost:8080"}, want: []string{"PUBLIC_BASE_URL"}},
		{name: "bad_sid", env: map[string]string{"TWILIO_ACCOUNT_SID": "xyz"}, want: []string{"TWILIO_ACCOUNT_SID"}},
		{name: "sid_with_dash", env: map[string]string{"TWILIO_ACCOUNT_SID": "AC-1"}, want: []string{"TWILIO_ACCOUNT_SID"}},
		{name: "token_with_dash", env: map[string]string{"TWILIO_AUTH_TOKEN": "local-token"}, want: []string{"TWILIO_AUTH_TOKEN"}},
		{name: "standin_mps_negative", env: map[string]string{"TWILIO_STANDIN_MPS": "-1"}, want: []string{`TWILIO_STANDIN_MPS="-1"`}},
		{name: "duplicate_rate_over_1", env: map[string]string{"CHAOS_DUPLICATE_RATE": "2"}, want: []string{`CHAOS_DUPLICATE_RATE="2"`}},
		{name: "chaos_seed_negative", env: map[string]string{"CHAOS_SEED": "-3"}, want: []string{`CHAOS_SEED="-3"`}},
		{name: "sender_url_relative", env: map[string]string{"SENDER_URL": "/tasks/send"}, want: []string{`SENDER_URL="/tasks/send"`}},
		{name: "standin_mps_not_a_number", env: map[string]string{"TWILIO_STANDIN_MPS": "fast"}, want: []string{`TWILIO_STANDIN_MPS="fast"`}},
		{name: "two_senders", env: map[string]string{"TWILIO_FROM": "whatsapp:+1", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}, want: []string{"TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(mapEnv(tc.env))
			if err == nil {
				t.Fatal("loadConfig: got nil error, want one")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("loadConfig error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// A reused emulator's port is not listened on, so it may clash freely.
func TestLoadConfig_ignores_ports_of_reused_emulators(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(mapEnv(map[string]string{"FIRESTORE_PORT": "8080", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9000"}))
	if err != nil {
		t.Errorf("loadConfig: %v", err)
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
