package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/store/memstore"
)

var published = time.Date(2026, 11, 26, 16, 58, 59, 727_000_000, time.UTC)

// newDeadLetterFixture serves dl, with two dead letters of recipient-batch
// (one JSON, one not) and one of inbound-message, oldest first.
func newDeadLetterFixture(t *testing.T, dl events.DeadLetters) *fixture {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	pub := memevents.New()
	if dl == nil {
		dl = memevents.NewDeadLetters(pub)
	}
	if m, ok := dl.(*memevents.DeadLetters); ok {
		m.Add(events.TopicRecipients, events.Message{Data: []byte(`{"campaign_id":"c1"}`), Attributes: map[string]string{"k": "v"}}, 10, published)
		m.Add(events.TopicRecipients, events.Message{Data: []byte{0xff, 'x'}}, 10, published.Add(time.Second))
		m.Add(events.TopicInbound, events.Message{Data: []byte(`{"body":"STOP","from":"+15550000001"}`)}, 7, time.Time{})
	}
	s := &Server{KeyHash: sum[:], Store: memstore.New(), Events: pub, DeadLetters: dl}
	return &fixture{t: t, events: pub, h: s.Routes()}
}

func TestDeadLetters_list(t *testing.T) {
	t.Parallel()
	recipientsJSON := map[string]any{
		"topic": "recipient-batch", "id": "dl-1", "publish_time": "2026-11-26T16:58:59.727Z", "delivery_attempt": 10.0,
		"attributes": map[string]any{"k": "v"}, "payload": map[string]any{"campaign_id": "c1"},
	}
	recipientsBytes := map[string]any{
		"topic": "recipient-batch", "id": "dl-2", "publish_time": "2026-11-26T16:59:00.727Z", "delivery_attempt": 10.0,
		"attributes": map[string]any{}, "payload_base64": "/3g=",
	}
	inbound := map[string]any{
		"topic": "inbound-message", "id": "dl-3", "publish_time": nil, "delivery_attempt": 7.0,
		"attributes": map[string]any{}, "payload": map[string]any{"body": "STOP", "from": "+15550000001"},
	}
	cases := []struct {
		name     string
		query    string
		wantCode int
		want     map[string]any
	}{
		{name: "all_oldest_first", wantCode: 200, want: map[string]any{
			"dead_letters": []any{inbound, recipientsJSON, recipientsBytes}, "count": 3.0}},
		{name: "one_topic", query: "?topic=recipient-batch", wantCode: 200, want: map[string]any{
			"dead_letters": []any{recipientsJSON, recipientsBytes}, "count": 2.0}},
		{name: "limited", query: "?limit=1", wantCode: 200, want: map[string]any{
			"dead_letters": []any{inbound}, "count": 1.0}},
		{name: "none", query: "?topic=delivery-status", wantCode: 200, want: map[string]any{
			"dead_letters": []any{}, "count": 0.0}},
		{name: "unknown_topic", query: "?topic=recipient-batches", wantCode: 400, want: map[string]any{
			"error": "unknown topic", "details": []any{map[string]any{"field": "topic",
				"message": "must be one of import-upload, user-import, campaign-launch, recipient-batch, inbound-message, delivery-status"}}}},
		{name: "limit_too_high", query: "?limit=201", wantCode: 400, want: map[string]any{
			"error": "invalid limit", "details": []any{map[string]any{"field": "limit", "message": "must be a whole number from 1 to 200"}}}},
		{name: "limit_not_a_number", query: "?limit=all", wantCode: 400, want: map[string]any{
			"error": "invalid limit", "details": []any{map[string]any{"field": "limit", "message": "must be a whole number from 1 to 200"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDeadLetterFixture(t, nil)
			code, got := f.call("GET", "/api/v1/monitoring/dead-letters"+tc.query, "")
			if code != tc.wantCode {
				t.Errorf("status %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestDeadLetters_replay_and_discard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path string
		action     string // replay, unless set
		wantCode   int
		want       map[string]any
		wantLeft   []string         // ids still listed
		wantSent   []events.Message // published to recipient-batch
	}{
		{name: "discarded_not_published", path: "recipient-batch/dl-1", action: "discard", wantCode: 200,
			want:     map[string]any{"discarded": true, "topic": "recipient-batch", "id": "dl-1"},
			wantLeft: []string{"dl-3", "dl-2"}},
		{name: "discard_unknown_id", path: "recipient-batch/dl-9", action: "discard", wantCode: 404,
			want:     map[string]any{"error": `no dead letter "dl-9" of topic "recipient-batch"`, "details": []any{}},
			wantLeft: []string{"dl-3", "dl-1", "dl-2"}},
		{name: "replayed", path: "recipient-batch/dl-1", wantCode: 200,
			want:     map[string]any{"replayed": true, "topic": "recipient-batch", "id": "dl-1"},
			wantLeft: []string{"dl-3", "dl-2"},
			wantSent: []events.Message{{ID: "1", Data: []byte(`{"campaign_id":"c1"}`), Attributes: map[string]string{"k": "v"}}}},
		{name: "unknown_id", path: "recipient-batch/dl-9", wantCode: 404,
			want:     map[string]any{"error": `no dead letter "dl-9" of topic "recipient-batch"`, "details": []any{}},
			wantLeft: []string{"dl-3", "dl-1", "dl-2"}},
		{name: "id_of_another_topic", path: "recipient-batch/dl-3", wantCode: 404,
			want:     map[string]any{"error": `no dead letter "dl-3" of topic "recipient-batch"`, "details": []any{}},
			wantLeft: []string{"dl-3", "dl-1", "dl-2"}},
		{name: "unknown_topic", path: "recipient-batches/dl-1", wantCode: 404,
			want:     map[string]any{"error": `no topic "recipient-batches"`, "details": []any{}},
			wantLeft: []string{"dl-3", "dl-1", "dl-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDeadLetterFixture(t, nil)
			action := tc.action
			if action == "" {
				action = "replay"
			}
			code, got := f.call("POST", "/api/v1/monitoring/dead-letters/"+tc.path+"/"+action, "")
			if code != tc.wantCode {
				t.Errorf("status %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want, +got):\n%s", diff)
			}
			_, list := f.call("GET", "/api/v1/monitoring/dead-letters", "")
			var left []string
			for _, d := range list["dead_letters"].([]any) {
				left = append(left, d.(map[string]any)["id"].(string))
			}
			if diff := cmp.Diff(tc.wantLeft, left); diff != "" {
				t.Errorf("left (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSent, f.events.Published(events.TopicRecipients), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("published (-want, +got):\n%s", diff)
			}
		})
	}
}

// failingDeadLetters fails every call.
type failingDeadLetters struct{ err error }

func (f failingDeadLetters) List(context.Context, string, int) ([]events.DeadLetter, error) {
	return nil, f.err
}
func (f failingDeadLetters) Replay(context.Context, string, string) error  { return f.err }
func (f failingDeadLetters) Discard(context.Context, string, string) error { return f.err }
func (f failingDeadLetters) Bury(context.Context, string, events.Message, time.Time, string) error {
	return f.err
}

func TestDeadLetters_unavailable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		dl       events.DeadLetters
		wantCode int
		want     map[string]any
	}{
		{name: "not_configured", dl: nil, wantCode: 501,
			want: map[string]any{"error": "dead letters are not configured on this server", "details": []any{}}},
		{name: "pubsub_down", dl: failingDeadLetters{errs.E(errs.Transient, "pull: unavailable")}, wantCode: 503,
			want: map[string]any{"error": "Service Unavailable", "details": []any{}}},
	}
	for _, tc := range cases {
		for _, route := range []struct{ method, path string }{
			{"GET", "/api/v1/monitoring/dead-letters"},
			{"POST", "/api/v1/monitoring/dead-letters/recipient-batch/1/replay"},
			{"POST", "/api/v1/monitoring/dead-letters/recipient-batch/1/discard"},
		} {
			t.Run(tc.name+"_"+route.method, func(t *testing.T) {
				t.Parallel()
				sum := sha256.Sum256([]byte(key))
				s := &Server{KeyHash: sum[:], DeadLetters: tc.dl}
				f := &fixture{t: t, h: s.Routes()}
				code, got := f.call(route.method, route.path, "")
				if code != tc.wantCode {
					t.Errorf("status %d, want %d", code, tc.wantCode)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("body (-want, +got):\n%s", diff)
				}
			})
		}
	}
}

// Payloads may hold phone numbers and message bodies: listing and
// replaying log neither.
func TestDeadLetters_never_log_payloads(t *testing.T) {
	t.Parallel()
	f := newDeadLetterFixture(t, nil)
	var logs bytes.Buffer
	ctx := logging.WithLogger(context.Background(), logging.New(&logs, slog.LevelDebug))
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/monitoring/dead-letters"},
		{"POST", "/api/v1/monitoring/dead-letters/inbound-message/dl-3/replay"},
	} {
		req := httptest.NewRequestWithContext(ctx, r.method, r.path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s = %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "dead letter replayed") {
		t.Errorf("the replay was not logged: %q", logs.String())
	}
	for _, secret := range []string{"STOP", "+15550000001", "5550000001"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs hold %q: %s", secret, logs.String())
		}
	}
}
