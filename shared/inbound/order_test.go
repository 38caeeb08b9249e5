package inbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

// Pub/Sub keeps no order: the person's last word must stand whatever order
// their keywords are processed in.
func TestHandle_keywords_out_of_order(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	kw := func(sid, body string, at time.Duration) inbound.Message {
		return inbound.Message{ProviderSID: sid, From: "whatsapp:+94771234567", Body: body, ReceivedAt: t0.Add(at)}
	}
	stop1, start, stop2 := kw("SM1", "STOP", time.Second), kw("SM2", "START", 2*time.Second), kw("SM3", "STOP", 3*time.Second)
	cases := []struct {
		name  string
		order []inbound.Message
		want  consent.State
	}{
		{"in_order", []inbound.Message{stop1, start, stop2}, consent.Stop},
		{"start_redelivered_last", []inbound.Message{stop1, start, stop2, start}, consent.Stop},
		{"start_arrives_after_the_later_stop", []inbound.Message{stop1, stop2, start}, consent.Stop},
		{"stop_then_start", []inbound.Message{stop1, start}, consent.OptIn},
		{"stop_redelivered_after_start", []inbound.Message{stop1, start, stop1}, consent.OptIn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			ctx := context.Background()
			if err := st.CreateUser(ctx, user.User{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{}, CreatedAt: t0, UpdatedAt: t0}, consent.SourceImport, ""); err != nil {
				t.Fatal(err)
			}
			h := &inbound.Handler{Store: st}
			for _, ev := range tc.order {
				if err := h.Handle(ctx, ev); err != nil {
					t.Fatalf("Handle(%s): %v", ev.ProviderSID, err)
				}
			}
			u, _ := st.GetUser(ctx, "+94771234567")
			if u.Consent != tc.want {
				t.Errorf("consent = %s, want %s", u.Consent, tc.want)
			}
		})
	}
}
