package twilio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	standin "github.com/eventstreamengine/ese/emulators/twilio"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
)

// Each fault as the Sender's twilio-go client meets it: a 429 or a 500
// creates nothing and is a retry (the 429 certainly not created), a
// dropped connection is a transient error while the message was created
// and lives on, and a message failed later fails with 30008.
func TestFaults_api(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		faults       standin.Faults
		wantCreated  int
		wantNotMade  bool // the error says nothing was created
		wantStatuses []string
		wantInjected standin.Injected
	}{
		{"throttle", standin.Faults{Throttle: 1}, 0, true, nil, standin.Injected{Throttled: 1}},
		{"server error", standin.Faults{ServerError: 1}, 0, false, nil, standin.Injected{ServerErrors: 1}},
		{"drop", standin.Faults{Drop: 1}, 1, false, []string{"queued", "sent", "delivered", "read"}, standin.Injected{Dropped: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, nil)
			s, apiURL := start(t, standin.Config{StatusStep: 5 * time.Millisecond, Faults: tt.faults})
			s.OpenWindow(ada, "")
			_, err := provider(t, apiURL).Send(context.Background(), sms.Request{To: ada, Body: "hi", StatusCallback: h.url})
			var pe *sms.ProviderError
			if err == nil || !errs.Is(err, errs.Transient) {
				t.Fatalf("Send = %v, want a transient error", err)
			}
			if notMade := errors.As(err, &pe) && pe.NotCreated; notMade != tt.wantNotMade {
				t.Errorf("Send = %v: NotCreated %v, want %v", err, notMade, tt.wantNotMade)
			}
			if n := len(s.Sent()); n != tt.wantCreated {
				t.Errorf("%d messages created, want %d", n, tt.wantCreated)
			}
			if tt.wantStatuses != nil {
				waitFor(t, "the dropped message's callbacks", func() bool { return len(h.requests()) == len(tt.wantStatuses) })
				if diff := cmp.Diff(tt.wantStatuses, h.statuses(t)); diff != "" {
					t.Errorf("callbacks (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.wantInjected, s.InjectedFaults()); diff != "" {
				t.Errorf("injected (-want +got):\n%s", diff)
			}
		})
	}
}

// FailLater accepts and then fails with 30008; the zero Faults injects
// nothing.
func TestFaults_failLater(t *testing.T) {
	t.Parallel()
	h := newHook(t, nil)
	s, apiURL := start(t, standin.Config{StatusStep: 5 * time.Millisecond})
	s.OpenWindow(ada, "")
	p := provider(t, apiURL)
	if _, err := p.Send(context.Background(), sms.Request{To: ada, Body: "no faults", StatusCallback: h.url}); err != nil {
		t.Fatalf("Send with no faults: %v", err)
	}
	waitFor(t, "the first message's life", func() bool { return len(h.requests()) == 4 })
	s.SetFaults(standin.Faults{FailLater: 1})
	if _, err := p.Send(context.Background(), sms.Request{To: ada, Body: "fails", StatusCallback: h.url}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitFor(t, "the second message's life", func() bool { return len(h.requests()) == 7 })
	sent := s.Sent()
	if len(sent) != 2 || sent[1].Status != "failed" || sent[1].ErrorCode != 30008 {
		t.Errorf("sent = %+v, want the second failed with 30008", sent)
	}
}

// testClient is the tests' own client: http.DefaultTransport's idle
// connections are closed by every parallel test's httptest.Server.Close,
// failing a request about to reuse one ("CloseIdleConnections called").
var testClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Minute}

// Every misbehaving callback still arrives, at least once: late or
// reordered ones after a later status, twice ones twice.
func TestFaults_callbacks(t *testing.T) {
	t.Parallel()
	h := newHook(t, nil)
	s, apiURL := start(t, standin.Config{StatusStep: 5 * time.Millisecond})
	s.OpenWindow(ada, "")
	// POST /_standin/faults, as a chaos test sets them.
	set := func(f standin.Faults) {
		b, _ := json.Marshal(f)
		resp, err := testClient.Post(apiURL+"/_standin/faults", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST /_standin/faults = %s", resp.Status)
		}
	}
	set(standin.Faults{Seed: 7, Callbacks: 1})
	p := provider(t, apiURL)
	const n = 12
	for range n {
		if _, err := p.Send(context.Background(), sms.Request{To: ada, Body: "hi", StatusCallback: h.url}); err != nil {
			t.Fatal(err)
		}
	}
	var inj standin.Injected
	waitFor(t, "every callback decided", func() bool {
		inj = s.InjectedFaults()
		return inj.CallbacksLate+inj.CallbacksTwice+inj.CallbacksReordered == 4*n
	})
	if inj.CallbacksLate == 0 || inj.CallbacksTwice == 0 || inj.CallbacksReordered == 0 || inj.CallbacksLate+inj.CallbacksTwice+inj.CallbacksReordered != 4*n {
		t.Fatalf("injected %+v, want each kind among all %d callbacks", inj, 4*n)
	}
	want := 4*n + inj.CallbacksTwice
	waitFor(t, "every callback", func() bool { return len(h.requests()) == want })
	bySID := map[string][]string{}
	for _, r := range h.requests() {
		bySID[r.Form.Get("MessageSid")] = append(bySID[r.Form.Get("MessageSid")], r.Form.Get("MessageStatus"))
	}
	inOrder := 0
	for sid, got := range bySID {
		for _, st := range []string{"queued", "sent", "delivered", "read"} {
			if !slices.Contains(got, st) {
				t.Errorf("message %s: callbacks %v lack %s", sid, got, st)
			}
		}
		if slices.Equal(got, []string{"queued", "sent", "delivered", "read"}) {
			inOrder++
		}
	}
	if inOrder == len(bySID) {
		t.Errorf("every message's callbacks came once and in order: no fault visible")
	}

	// Bad fractions are refused.
	resp, err := testClient.Post(apiURL+"/_standin/faults", "application/json", bytes.NewReader([]byte(`{"drop":1.5}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /_standin/faults with drop 1.5 = %s, want 400", resp.Status)
	}
}
