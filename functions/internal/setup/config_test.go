package setup_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/eventstreamengine/ese/functions/api"
	"github.com/eventstreamengine/ese/functions/deliverystatus"
	"github.com/eventstreamengine/ese/functions/importusers"
	"github.com/eventstreamengine/ese/functions/inbound"
	"github.com/eventstreamengine/ese/functions/internal/setup"
	"github.com/eventstreamengine/ese/functions/launch"
	"github.com/eventstreamengine/ese/functions/readimport"
	"github.com/eventstreamengine/ese/functions/recipients"
	"github.com/eventstreamengine/ese/functions/sender"
	"github.com/eventstreamengine/ese/functions/webhooks"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

// configs is every function's configuration, by entry point.
func configs() map[string]any {
	return map[string]any{
		"API":               &api.Config{},
		"Webhooks":          &webhooks.Config{},
		"Sender":            &sender.Config{},
		"ReadImport":        &readimport.Config{},
		"ImportUsers":       &importusers.Config{},
		"LaunchCampaign":    &launch.Config{},
		"ProcessRecipients": &recipients.Config{},
		"HandleInbound":     &inbound.Config{},
		"HandleStatus":      &deliverystatus.Config{},
	}
}

// A valid value for every variable any function reads.
var good = map[string]string{
	"GOOGLE_CLOUD_PROJECT":     "ese-prod",
	"API_AUTH":                 "iam",
	"API_KEY_SHA256":           strings.Repeat("ab", 32),
	"ID_TOKEN_AUDIENCES":       "https://us-central1-ese-prod.cloudfunctions.net/ese-api,32555940559.apps.googleusercontent.com",
	"PUBLIC_BASE_URL":          "https://us-central1-ese-prod.cloudfunctions.net/Webhooks",
	"TWILIO_ACCOUNT_SID":       "AC0123456789abcdef0123456789abcdef",
	"TWILIO_AUTH_TOKEN":        "secrettoken",
	"TWILIO_FROM":              "whatsapp:+14155550100",
	"TASKS_LOCATION":           "us-central1",
	"SENDER_URL":               "https://us-central1-ese-prod.cloudfunctions.net/Sender",
	"TASKS_SERVICE_ACCOUNT":    "tasks-invoker@ese-prod.iam.gserviceaccount.com",
	"TASKS_AUDIENCE":           "https://us-central1-ese-prod.cloudfunctions.net/Sender",
	"IMPORT_BUCKET":            "ese-prod-uploads",
	"CONTENT_BLOCKED_PATTERNS": `["(?i)free money"]`,
	"CONTENT_OPT_OUT_TEXT":     "Reply STOP",
	"WHATSAPP_TIER":            "unlimited",
	"ERASURE_KEY":              strings.Repeat("k", 32),
}

// envNames lists the variables cfg's struct reads, and those it requires.
func envNames(t reflect.Type) (all, required []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok && f.Anonymous {
			a, r := envNames(f.Type)
			all, required = append(all, a...), append(required, r...)
			continue
		}
		parts := strings.Split(tag, ",")
		if parts[0] == "" {
			continue
		}
		all = append(all, parts[0])
		for _, o := range parts[1:] {
			if strings.TrimSpace(o) == "required" {
				required = append(required, parts[0])
			}
		}
	}
	slices.Sort(all)
	slices.Sort(required)
	return all, required
}

// Each function reads only what it needs: this is the list Terraform
// must set (infra's test checks it does), and no production default
// points at a sandbox.
func TestConfigs_read_only_what_each_function_needs(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"API": {"API_ADMINS", "API_AUTH", "API_KEY", "API_KEY_SHA256", "CONTENT_BLOCKED_PATTERNS", "CONTENT_OPT_OUT_TEXT", "ERASURE_KEY", "FREQUENCY_CAP_PER_24H", "GOOGLE_CLOUD_PROJECT", "ID_TOKEN_AUDIENCES", "IMPORT_BUCKET", "K_SERVICE", "PUBSUB_SUBSCRIPTIONS", "STUCK_AFTER",
			"TRUST_CLOUD_RUN_IAM", "TWILIO_SENDER_MPS", "UPLOAD_URL_TTL", "WHATSAPP_TIER"},
		"Webhooks":      {"AUTO_PAUSE_FAILURE_RATE", "AUTO_PAUSE_WINDOW", "GOOGLE_CLOUD_PROJECT", "MARKETING_OPT_OUT_CODES", "PUBLIC_BASE_URL", "REPLY_HELP", "REPLY_START", "REPLY_STOP", "STATUS_GIVE_UP_AFTER", "TWILIO_AUTH_TOKEN", "WEBHOOK_RETENTION"},
		"ReadImport":    {"EVENT_MAX_AGE", "GOOGLE_CLOUD_PROJECT", "IMPORT_BUCKET"},
		"ImportUsers":   {"ERASURE_KEY", "EVENT_MAX_AGE", "GOOGLE_CLOUD_PROJECT"},
		"HandleInbound": {"ERASURE_KEY", "EVENT_MAX_AGE", "GOOGLE_CLOUD_PROJECT"},
		"HandleStatus":  {"AUTO_PAUSE_FAILURE_RATE", "AUTO_PAUSE_WINDOW", "EVENT_MAX_AGE", "GOOGLE_CLOUD_PROJECT", "MARKETING_OPT_OUT_CODES", "STATUS_GIVE_UP_AFTER"},
		"Sender": {"AUTO_PAUSE_FAILURE_RATE", "AUTO_PAUSE_WINDOW", "CLOUD_TASKS_EMULATOR_HOST", "FREQUENCY_CAP_PER_24H", "GOOGLE_CLOUD_PROJECT", "PUBLIC_BASE_URL", "QUEUE_CREATE_TIMEOUT", "RECONCILE_AFTER", "SENDER_URL",
			"TASKS_AUDIENCE", "TASKS_LOCATION", "TASKS_SERVICE_ACCOUNT", "TWILIO_ACCOUNT_SID", "TWILIO_API_URL", "TWILIO_AUTH_TOKEN", "TWILIO_FROM",
			"TWILIO_MESSAGING_SERVICE_SID", "TWILIO_SENDER_MPS", "TWILIO_TIMEOUT", "UNKNOWN_OUTCOME"},
		"LaunchCampaign": {"CLOUD_TASKS_EMULATOR_HOST", "CONTENT_BLOCKED_PATTERNS", "CONTENT_OPT_OUT_TEXT", "EVENT_MAX_AGE", "FREQUENCY_CAP_PER_24H", "GOOGLE_CLOUD_PROJECT", "MESSAGE_RETENTION", "QUEUE_CREATE_TIMEOUT", "SENDER_URL",
			"TASKS_AUDIENCE", "TASKS_LOCATION", "TASKS_SERVICE_ACCOUNT", "TWILIO_SENDER_MPS", "WHATSAPP_TIER"},
		"ProcessRecipients": {"CLOUD_TASKS_EMULATOR_HOST", "CONTENT_BLOCKED_PATTERNS", "CONTENT_OPT_OUT_TEXT", "EVENT_MAX_AGE", "FREQUENCY_CAP_PER_24H", "GOOGLE_CLOUD_PROJECT", "QUEUE_CREATE_TIMEOUT", "SENDER_URL",
			"TASKS_AUDIENCE", "TASKS_LOCATION", "TASKS_SERVICE_ACCOUNT", "TWILIO_SENDER_MPS"},
	}
	for name, cfg := range configs() {
		all, _ := envNames(reflect.TypeOf(cfg))
		if diff := cmp.Diff(want[name], all); diff != "" {
			t.Errorf("%s reads (-want, +got):\n%s", name, diff)
		}
		for _, v := range all {
			// TWILIO_SENDER_MPS is a number every campaign step shares, not
			// a way to reach Twilio.
			if strings.HasPrefix(v, "TWILIO_") && v != "TWILIO_SENDER_MPS" && name != "Sender" && name != "Webhooks" {
				t.Errorf("%s reads %s: only the Sender and Webhooks talk to Twilio", name, v)
			}
		}
	}
}

// A missing or bad variable fails the build with a message naming it, as
// ErrConfig (so a deployed function stops at start); the full set passes.
func TestConfigs_fail_naming_the_missing_variable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, cfg := range configs() {
		if err := setup.Load(ctx, cfg, envconfig.MapLookuper(good)); err != nil {
			t.Errorf("%s with every variable set: %v", name, err)
		}
		_, required := envNames(reflect.TypeOf(cfg))
		for _, v := range required {
			env := maps(good)
			delete(env, v)
			err := setup.Load(ctx, reflect.New(reflect.TypeOf(cfg).Elem()).Interface(), envconfig.MapLookuper(env))
			if !errors.Is(err, setup.ErrConfig) || !strings.Contains(err.Error(), v) {
				t.Errorf("%s without %s: err = %v, want ErrConfig naming %s", name, v, err, v)
			}
		}
	}
}

func TestConfigs_bad_values_are_ErrConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fn, key, value, wantIn string
	}{
		{"webhook_url_pasted_whole", "Webhooks", "PUBLIC_BASE_URL", "https://h.example/Webhooks/webhooks/inbound", "PUBLIC_BASE_URL"},
		{"status_callback_origin_not_a_url", "Sender", "PUBLIC_BASE_URL", "hooks.example.com", "PUBLIC_BASE_URL"},
		{"bad_duration", "HandleStatus", "STATUS_GIVE_UP_AFTER", "15 minutes", "STATUS_GIVE_UP_AFTER"},
		{"marketing_opt_out_code_not_a_code", "HandleStatus", "MARKETING_OPT_OUT_CODES", "63033,131050x", "MARKETING_OPT_OUT_CODES"},
		{"marketing_opt_out_code_in_webhooks", "Webhooks", "MARKETING_OPT_OUT_CODES", "stop", "MARKETING_OPT_OUT_CODES"},
		{"unknown_auth_mode", "API", "API_AUTH", "open", "API_AUTH"},
		{"iam_without_audiences", "API", "ID_TOKEN_AUDIENCES", "", "ID_TOKEN_AUDIENCES"},
		{"event_max_age_not_above_zero", "HandleInbound", "EVENT_MAX_AGE", "0s", "EVENT_MAX_AGE"},
		{"tasks_unsigned_outside_the_emulator", "LaunchCampaign", "TASKS_SERVICE_ACCOUNT", "", "TASKS_SERVICE_ACCOUNT"},
		{"sender_url_not_a_url", "ProcessRecipients", "SENDER_URL", "sender", "SENDER_URL"},
		{"bucket_given_as_a_url", "ReadImport", "IMPORT_BUCKET", "gs://ese-prod-uploads", "IMPORT_BUCKET"},
		{"bucket_name_too_short", "API", "IMPORT_BUCKET", "ab", "IMPORT_BUCKET"},
		{"auto_pause_rate_above_one", "Sender", "AUTO_PAUSE_FAILURE_RATE", "1.5", "AUTO_PAUSE_FAILURE_RATE"},
		{"auto_pause_rate_zero", "Sender", "AUTO_PAUSE_FAILURE_RATE", "0", "AUTO_PAUSE_FAILURE_RATE"},
		{"auto_pause_window_negative", "Sender", "AUTO_PAUSE_WINDOW", "-1", "AUTO_PAUSE_WINDOW"},
		{"auto_pause_window_not_a_number", "Sender", "AUTO_PAUSE_WINDOW", "many", "AUTO_PAUSE_WINDOW"},
		{"auto_pause_rate_above_one_for_statuses", "HandleStatus", "AUTO_PAUSE_FAILURE_RATE", "1.5", "AUTO_PAUSE_FAILURE_RATE"},
		{"auto_pause_window_negative_in_place", "Webhooks", "AUTO_PAUSE_WINDOW", "-1", "AUTO_PAUSE_WINDOW"},
		{"frequency_cap_negative", "Sender", "FREQUENCY_CAP_PER_24H", "-1", "FREQUENCY_CAP_PER_24H"},
		{"frequency_cap_not_a_number", "ProcessRecipients", "FREQUENCY_CAP_PER_24H", "two", "FREQUENCY_CAP_PER_24H"},
		{"frequency_cap_a_fraction", "Sender", "FREQUENCY_CAP_PER_24H", "2.5", "FREQUENCY_CAP_PER_24H"},
		{"blocked_patterns_not_json", "ProcessRecipients", "CONTENT_BLOCKED_PATTERNS", "free money", "CONTENT_BLOCKED_PATTERNS"},
		{"blocked_pattern_does_not_compile", "API", "CONTENT_BLOCKED_PATTERNS", `["(free"]`, "CONTENT_BLOCKED_PATTERNS"},
		{"whatsapp_tier_not_a_number", "LaunchCampaign", "WHATSAPP_TIER", "tier 2", "WHATSAPP_TIER"},
		{"whatsapp_tier_zero", "API", "WHATSAPP_TIER", "0", "WHATSAPP_TIER"},
		{"erasure_key_too_short", "ImportUsers", "ERASURE_KEY", "short", "ERASURE_KEY"},
		{"unknown_outcome_policy", "Sender", "UNKNOWN_OUTCOME", "resend", "UNKNOWN_OUTCOME"},
		{"unknown_outcome_case", "Sender", "UNKNOWN_OUTCOME", "HOLD", "UNKNOWN_OUTCOME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps(good)
			env[tc.key] = tc.value
			err := setup.Load(context.Background(), configs()[tc.fn], envconfig.MapLookuper(env))
			if !errors.Is(err, setup.ErrConfig) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("%s=%q: err = %v, want ErrConfig naming %s", tc.key, tc.value, err, tc.wantIn)
			}
		})
	}
}

// The Sender needs exactly one sender: a number or a Messaging Service.
func TestConfigs_twilio_sender(t *testing.T) {
	t.Parallel()
	const service = "MG0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, from, service string
		wantIn              []string // nil: valid
	}{
		{name: "from", from: "whatsapp:+14155550100"},
		{name: "messaging_service", service: service},
		{name: "neither", wantIn: []string{"TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID"}},
		{name: "both", from: "whatsapp:+14155550100", service: service, wantIn: []string{"TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID are both set"}},
		{name: "bad_service_sid", service: "MG123", wantIn: []string{`TWILIO_MESSAGING_SERVICE_SID="MG123"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps(good)
			env["TWILIO_FROM"], env["TWILIO_MESSAGING_SERVICE_SID"] = tc.from, tc.service
			err := setup.Load(context.Background(), &sender.Config{}, envconfig.MapLookuper(env))
			if tc.wantIn == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if !errors.Is(err, setup.ErrConfig) {
				t.Fatalf("Load = %v, want ErrConfig", err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load = %v, want it to name %s", err, w)
				}
			}
		})
	}
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// FREQUENCY_CAP_PER_24H unset or empty is no cap (0).
func TestConfigs_frequency_cap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"unset", nil, 0},
		{"empty", map[string]string{"FREQUENCY_CAP_PER_24H": ""}, 0},
		{"zero", map[string]string{"FREQUENCY_CAP_PER_24H": "0"}, 0},
		{"two", map[string]string{"FREQUENCY_CAP_PER_24H": "2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps(good)
			for k, v := range tc.env {
				env[k] = v
			}
			var cfg sender.Config
			if err := setup.Load(context.Background(), &cfg, envconfig.MapLookuper(env)); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.FrequencyCap.PerDay != tc.want {
				t.Errorf("cap %d, want %d", cfg.FrequencyCap.PerDay, tc.want)
			}
		})
	}
}

// RECONCILE_AFTER must span several of the Twilio client's timeouts
// (TWILIO_TIMEOUT, 15 s unless set): a smaller one is refused at start,
// naming both; a shorter timeout allows a shorter window.
func TestConfigs_reconcile_after(t *testing.T) {
	t.Parallel()
	least := setup.ReconcileTimeouts * 15 * time.Second
	for _, tc := range []struct {
		name, value, timeout string // "": unset
		want                 time.Duration
		wantTimeout          time.Duration
		wantIn               []string // nil: valid
	}{
		{name: "unset_is_two_minutes", want: 2 * time.Minute, wantTimeout: 15 * time.Second},
		{name: "exactly_the_least", value: least.String(), want: least, wantTimeout: 15 * time.Second},
		{name: "ten_minutes", value: "10m", want: 10 * time.Minute, wantTimeout: 15 * time.Second},
		{name: "just_below", value: (least - time.Second).String(),
			wantIn: []string{"RECONCILE_AFTER=" + (least - time.Second).String(), "Twilio client's timeout (TWILIO_TIMEOUT=15s)"}},
		{name: "one_provider_timeout", value: "15s",
			wantIn: []string{"RECONCILE_AFTER=15s", "at least " + least.String()}},
		{name: "zero", value: "0s", wantIn: []string{"RECONCILE_AFTER=0s"}},
		{name: "short_timeout_short_window", value: "8s", timeout: "2s", want: 8 * time.Second, wantTimeout: 2 * time.Second},
		{name: "short_timeout_window_too_short", value: "7s", timeout: "2s", wantIn: []string{"RECONCILE_AFTER=7s", "at least 8s", "TWILIO_TIMEOUT=2s"}},
		{name: "long_timeout_window_too_short", value: "90s", timeout: "25s", wantIn: []string{"RECONCILE_AFTER=1m30s", "at least 1m40s"}},
		{name: "timeout_zero", timeout: "0s", wantIn: []string{"TWILIO_TIMEOUT=0s"}},
		{name: "timeout_above_the_most", value: "10m", timeout: "26s", wantIn: []string{"TWILIO_TIMEOUT=26s", "at most 25s"}},
		{name: "timeout_not_a_duration", timeout: "15", wantIn: []string{"TWILIO_TIMEOUT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps(good)
			if tc.value != "" {
				env["RECONCILE_AFTER"] = tc.value
			}
			if tc.timeout != "" {
				env["TWILIO_TIMEOUT"] = tc.timeout
			}
			var cfg sender.Config
			err := setup.Load(context.Background(), &cfg, envconfig.MapLookuper(env))
			if tc.wantIn == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if diff := cmp.Diff(tc.want, cfg.Reconcile.After); diff != "" {
					t.Errorf("RECONCILE_AFTER (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantTimeout, cfg.Twilio.Timeout); diff != "" {
					t.Errorf("TWILIO_TIMEOUT (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, setup.ErrConfig) {
				t.Fatalf("Load = %v, want ErrConfig", err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load = %v, want it to name %q", err, w)
				}
			}
		})
	}
}

// UNKNOWN_OUTCOME picks the Sender's policy; unset is resend_after.
func TestConfigs_unknown_outcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string // "": unset
		want  sending.UnknownOutcome
	}{
		{"", sending.ResendAfter},
		{"resend_after", sending.ResendAfter},
		{"hold", sending.Hold},
	} {
		env := maps(good)
		if tc.value != "" {
			env["UNKNOWN_OUTCOME"] = tc.value
		}
		var cfg sender.Config
		if err := setup.Load(context.Background(), &cfg, envconfig.MapLookuper(env)); err != nil {
			t.Fatalf("UNKNOWN_OUTCOME=%q: %v", tc.value, err)
		}
		if got := cfg.Reconcile.Policy(); got != tc.want {
			t.Errorf("UNKNOWN_OUTCOME=%q: policy %q, want %q", tc.value, got, tc.want)
		}
	}
}

// A function given another ERASURE_KEY than the one the kept records
// were made under (a rotated secret) refuses to start, naming it; the
// first start records the key, and the same key starts again.
func TestErasure_CheckedHasher(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	first := setup.Erasure{Key: strings.Repeat("a", 32)}
	for range 2 {
		if _, err := first.CheckedHasher(t.Context(), st); err != nil {
			t.Fatalf("CheckedHasher(first key) = %v", err)
		}
	}
	rotated := setup.Erasure{Key: strings.Repeat("b", 32)}
	if _, err := rotated.CheckedHasher(t.Context(), st); !errors.Is(err, setup.ErrConfig) || !strings.Contains(err.Error(), "ERASURE_KEY") {
		t.Errorf("CheckedHasher(rotated key) = %v, want ErrConfig naming ERASURE_KEY", err)
	}
}
