package inbound_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/inbound"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

const phone = "+94771234567"

var received = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// published is an inbound webhook as the Webhooks function publishes it.
func published(t *testing.T, body string) events.Message {
	t.Helper()
	data, err := json.Marshal(events.Webhook{
		ID: webhook.EventID(webhook.Inbound, "SM1", ""), Kind: webhook.Inbound, MessageSID: "SM1",
		Params:     map[string]string{"MessageSid": "SM1", "From": "whatsapp:" + phone, "Body": body},
		ReceivedAt: received, Published: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: "1", Data: data}
}

func TestHandleInbound(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		want       consent.State
	}{
		{"stop_opts_out", "STOP", consent.Stop},
		{"reply_changes_nothing", "thanks", consent.OptIn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			if err := st.CreateUser(ctx, user.User{Phone: phone, Consent: consent.OptIn, CreatedAt: received.Add(-time.Hour)}, consent.SourceAPI, ""); err != nil {
				t.Fatal(err)
			}
			if err := inbound.New(st)(ctx, published(t, tc.body)); err != nil {
				t.Fatalf("handler: %v", err)
			}
			u, err := st.GetUser(ctx, phone)
			if err != nil {
				t.Fatal(err)
			}
			if u.Consent != tc.want {
				t.Errorf("consent after %q = %s, want %s", tc.body, u.Consent, tc.want)
			}
			// Every message, keyword or not, records when the person wrote.
			if u.LastInboundAt == nil || !u.LastInboundAt.Equal(received) {
				t.Errorf("LastInboundAt after %q = %v, want %v", tc.body, u.LastInboundAt, received)
			}
			h, err := st.ConsentHistory(ctx, phone)
			if err != nil {
				t.Fatal(err)
			}
			if last := h[len(h)-1]; tc.want == consent.Stop {
				want := consent.Change{Phone: phone, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received}
				if diff := cmp.Diff(want, last); diff != "" {
					t.Errorf("history entry (-want, +got):\n%s", diff)
				}
			}
		})
	}
}

func TestHandleInbound_malformed_payload_is_not_retried(t *testing.T) {
	t.Parallel()
	for _, data := range []string{``, `{"params":`, `{"params":{"Body":1}}`, `[]`} {
		err := inbound.New(memstore.New())(context.Background(), events.Message{ID: "1", Data: []byte(data)})
		if err == nil || errs.Retry(err) {
			t.Errorf("payload %q: handler = %v (retry %v), want an error not to retry", data, err, errs.Retry(err))
		}
	}
}
