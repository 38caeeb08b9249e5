package edge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/internal/edge"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/logging"
)

func TestLazy_retries_a_failed_build_and_keeps_a_good_one(t *testing.T) {
	t.Parallel()
	var builds int
	l := &edge.Lazy[int]{Build: func(context.Context) (int, error) {
		builds++
		if builds == 1 {
			return 0, errors.New("firestore unreachable")
		}
		return 42, nil
	}}
	ctx := context.Background()
	type result struct {
		V      int
		Err    bool
		Builds int
	}
	var got []result
	for range 3 {
		v, err := l.Get(ctx)
		got = append(got, result{v, err != nil, builds})
	}
	want := []result{{0, true, 1}, {42, false, 2}, {42, false, 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("three Gets (-want, +got):\n%s", diff)
	}
}

// Clients built on the first request's context would fail once that
// request ended: they refresh credentials with it.
func TestLazy_builds_on_a_context_that_outlives_the_request(t *testing.T) {
	t.Parallel()
	type key struct{}
	var built context.Context
	l := &edge.Lazy[int]{Build: func(ctx context.Context) (int, error) {
		built = ctx
		return 1, nil
	}}
	req, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "logger"))
	if _, err := l.Get(req); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := built.Err(); err != nil {
		t.Errorf("the build's context ended with the request: %v", err)
	}
	if got := built.Value(key{}); got != "logger" {
		t.Errorf("the build's context lost the request's values: got %v", got)
	}
}

func TestLazy_concurrent_first_use_builds_once(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	l := &edge.Lazy[*int]{Build: func(context.Context) (*int, error) {
		builds.Add(1)
		v := 7
		return &v, nil
	}}
	var wg sync.WaitGroup
	vals := make([]*int, 20)
	for i := range vals {
		wg.Go(func() {
			v, err := l.Get(context.Background())
			if err != nil {
				t.Error(err)
			}
			vals[i] = v
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("20 concurrent Gets built %d times, want 1", n)
	}
	for _, v := range vals {
		if v != vals[0] {
			t.Fatal("Gets returned different values")
		}
	}
}

// pubsubEvent is a Pub/Sub CloudEvent as functions-framework-go makes it
// from a push request (see shared/events/pubsubevents): the message under
// "message", its data base64, the message id as the event id.
func pubsubEvent(t *testing.T, id string, payload []byte) event.Event {
	t.Helper()
	data, err := json.Marshal(map[string]any{"message": map[string]any{
		"@type":       "type.googleapis.com/google.pubusb.v1.PubsubMessage",
		"attributes":  map[string]string{"k": "v"},
		"data":        base64.StdEncoding.EncodeToString(payload),
		"messageId":   id,
		"publishTime": "2026-11-26T16:58:59.727Z",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return rawEvent(t, id, data)
}

func rawEvent(t *testing.T, id string, data []byte) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if data != nil {
		if err := e.SetData(event.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// captured returns a context whose logger writes JSON lines to buf.
func captured(buf *bytes.Buffer) context.Context {
	return logging.WithLogger(context.Background(), logging.New(buf, slog.LevelDebug))
}

func TestEvent(t *testing.T) {
	t.Parallel()
	errTransient := errs.E(errs.Transient, "store busy")
	errOther := errors.New("connection reset")
	cases := []struct {
		name       string
		event      func(t *testing.T) event.Event
		handlerErr error
		buildErr   error
		wantErr    error // nil: acked
		wantCalled bool
	}{
		{name: "handled", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{"a":1}`)) },
			wantCalled: true},
		{name: "no_data_is_acked", event: func(t *testing.T) event.Event { return rawEvent(t, "1", nil) }},
		{name: "not_json_is_acked", event: func(t *testing.T) event.Event { return rawEvent(t, "1", []byte(`hello`)) }},
		{name: "no_message_is_acked", event: func(t *testing.T) event.Event {
			return rawEvent(t, "1", []byte(`{"subscription":"s"}`))
		}},
		{name: "bad_base64_is_acked", event: func(t *testing.T) event.Event {
			return rawEvent(t, "1", []byte(`{"message":{"data":"not base64!"}}`))
		}},
		{name: "permanent_error_is_acked", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{}`)) },
			handlerErr: errs.E(errs.Permanent, "campaign deleted"), wantCalled: true},
		{name: "invalid_error_is_acked", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{}`)) },
			handlerErr: errs.E(errs.Invalid, "bad row"), wantCalled: true},
		{name: "transient_error_is_retried", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{}`)) },
			handlerErr: errTransient, wantErr: errTransient, wantCalled: true},
		{name: "unclassified_error_is_retried", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{}`)) },
			handlerErr: errOther, wantErr: errOther, wantCalled: true},
		{name: "failed_build_is_retried", event: func(t *testing.T) event.Event { return pubsubEvent(t, "1", []byte(`{}`)) },
			buildErr: errOther, wantErr: errOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []events.Message
			l := &edge.Lazy[edge.Handler]{Build: func(context.Context) (edge.Handler, error) {
				if tc.buildErr != nil {
					return nil, tc.buildErr
				}
				return func(_ context.Context, m events.Message) error {
					got = append(got, m)
					return tc.handlerErr
				}, nil
			}}
			var logs bytes.Buffer
			err := edge.Event("Fn", edge.Handling(l))(captured(&logs), tc.event(t))
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Event = %v, want %v", err, tc.wantErr)
			}
			if called := len(got) > 0; called != tc.wantCalled {
				t.Errorf("handler called %v, want %v", called, tc.wantCalled)
			}
			if (tc.wantErr != nil || !tc.wantCalled || tc.handlerErr != nil) && !strings.Contains(logs.String(), `"function":"Fn"`) {
				t.Errorf("the outcome was not logged with the function's name: %q", logs.String())
			}
		})
	}
}

func TestEvent_passes_the_pubsub_message(t *testing.T) {
	t.Parallel()
	var got events.Message
	l := &edge.Lazy[edge.Handler]{Build: func(context.Context) (edge.Handler, error) {
		return func(ctx context.Context, m events.Message) error {
			got = m
			logging.FromContext(ctx).Info("handling")
			return nil
		}, nil
	}}
	var logs bytes.Buffer
	if err := edge.Event("Fn", edge.Handling(l))(captured(&logs), pubsubEvent(t, "42", []byte(`{"campaign_id":"c1"}`))); err != nil {
		t.Fatal(err)
	}
	want := events.Message{ID: "42", Data: []byte(`{"campaign_id":"c1"}`), Attributes: map[string]string{"k": "v"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("message (-want, +got):\n%s", diff)
	}
	// The handler's lines carry the function and the event.
	for _, s := range []string{`"function":"Fn"`, `"event_id":"42"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("handler's log %q lacks %s", logs.String(), s)
		}
	}
}

func TestHTTP_answers_503_json_until_built(t *testing.T) {
	t.Parallel()
	var builds int
	l := &edge.Lazy[http.Handler]{Build: func(context.Context) (http.Handler, error) {
		builds++
		if builds <= 2 {
			return nil, errors.New("secret manager unreachable")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			logging.FromContext(r.Context()).Info("served")
			w.WriteHeader(http.StatusTeapot)
		}), nil
	}}
	h := edge.HTTP("API", l)
	type answer struct {
		Code        int
		ContentType string
		Body        map[string]any
	}
	var got []answer
	var logs bytes.Buffer
	for range 4 {
		req := httptest.NewRequestWithContext(captured(&logs), "GET", "/api/v1/users", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		a := answer{Code: rec.Code, ContentType: rec.Header().Get("Content-Type")}
		if rec.Code == http.StatusServiceUnavailable {
			if err := json.Unmarshal(rec.Body.Bytes(), &a.Body); err != nil {
				t.Fatalf("503 body %q is not JSON: %v", rec.Body.String(), err)
			}
		}
		got = append(got, a)
	}
	unavailable := answer{http.StatusServiceUnavailable, "application/json; charset=utf-8", map[string]any{"error": "Service Unavailable", "details": []any{}}}
	want := []answer{unavailable, unavailable, {Code: http.StatusTeapot}, {Code: http.StatusTeapot}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want, +got):\n%s", diff)
	}
	if builds != 3 {
		t.Errorf("built %d times, want 3 (two failures, then once)", builds)
	}
	if !strings.Contains(logs.String(), `"message":"served","function":"API"`) {
		t.Errorf("the handler's logger lacks the function's name: %q", logs.String())
	}
	if !strings.Contains(logs.String(), `"severity":"ERROR","message":"function not ready","function":"API"`) {
		t.Errorf("the failed build was not logged as an error: %q", logs.String())
	}
}

// An event published longer ago than EVENT_MAX_AGE is not handled: it is
// buried among its topic's dead letters with an ERROR line and acked, or
// retried while it cannot be buried (never dropped).
func TestEvent_buries_what_is_past_the_max_age(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	const maxAge = 24 * time.Hour
	buryFailed := errs.E(errs.Transient, "pubsub unavailable")
	cases := []struct {
		name       string
		time       time.Time
		buryErr    error
		noBury     bool
		wantSeen   bool // handed to the handler
		wantBuried bool
		wantErr    bool // retried
	}{
		{name: "zero_time_is_not_old", time: time.Time{}, wantSeen: true, wantErr: true},
		{name: "just_published", time: now.Add(-time.Second), wantSeen: true, wantErr: true},
		{name: "at_the_limit", time: now.Add(-maxAge), wantSeen: true, wantErr: true},
		{name: "ahead_of_our_clock", time: now.Add(time.Hour), wantSeen: true, wantErr: true},
		{name: "a_second_past_the_limit", time: now.Add(-maxAge - time.Second), wantBuried: true},
		{name: "days_past_the_limit", time: now.Add(-72 * time.Hour), wantBuried: true},
		{name: "burying_failed_is_retried", time: now.Add(-72 * time.Hour), buryErr: buryFailed, wantBuried: true, wantErr: true},
		{name: "nowhere_to_bury_is_retried", time: now.Add(-72 * time.Hour), noBury: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen bool
			var buried []string
			h := edge.EventHandler{
				Handle: func(context.Context, events.Message) error {
					seen = true
					return errs.E(errs.Transient, "still failing")
				},
				MaxAge: maxAge,
				Bury: func(_ context.Context, topic string, m events.Message, published time.Time, reason string) error {
					buried = append(buried, topic+" "+string(m.Data)+" "+published.Format(time.RFC3339))
					return tc.buryErr
				},
				Now: func() time.Time { return now },
			}
			if tc.noBury {
				h.Bury = nil
			}
			l := &edge.Lazy[edge.EventHandler]{Build: func(context.Context) (edge.EventHandler, error) { return h, nil }}
			e := pubsubEvent(t, "7", []byte(`{"campaign_id":"c1"}`))
			e.SetSource("//pubsub.googleapis.com/projects/p/topics/recipient-batch")
			e.SetTime(tc.time)
			var logs bytes.Buffer
			err := edge.Event("Fn", l)(captured(&logs), e)

			if seen != tc.wantSeen {
				t.Errorf("handler called: %v, want %v", seen, tc.wantSeen)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("Event = %v, want retried: %v", err, tc.wantErr)
			}
			var want []string
			if tc.wantBuried {
				want = []string{`recipient-batch {"campaign_id":"c1"} ` + tc.time.Format(time.RFC3339)}
			}
			if diff := cmp.Diff(want, buried); diff != "" {
				t.Errorf("buried (-want, +got):\n%s", diff)
			}
			if !tc.wantSeen && (!strings.Contains(logs.String(), `"severity":"ERROR"`) || !strings.Contains(logs.String(), "EVENT_MAX_AGE")) {
				t.Errorf("giving up was not logged at ERROR naming EVENT_MAX_AGE: %q", logs.String())
			}
		})
	}
}
