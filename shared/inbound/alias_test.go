package inbound_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
)

// outcome is what a test checks after a message: each stored person's
// consent, and the suppression list.
type outcome struct {
	Consent    map[string]consent.State
	Suppressed []suppression.Entry
}

func outcomeOf(t *testing.T, st *memstore.Store) outcome {
	t.Helper()
	ctx := context.Background()
	users, _, err := st.ListUsers(ctx, store.UserFilter{}, store.Page{Page: 1, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{Consent: map[string]consent.State{}}
	for _, u := range users {
		o.Consent[u.Phone] = u.Consent
	}
	sup, _, err := st.ListSuppressions(ctx, store.Page{Page: 1, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(sup) > 0 {
		o.Suppressed = sup
	}
	return o
}

// A WhatsApp id that is not the dialled number reaches the person stored
// under the number; a STOP no user matches is kept as a suppression.
func TestHandle_whatsapp_sender_ids(t *testing.T) {
	t.Parallel()
	unknown := func(p string) suppression.Entry {
		return suppression.Entry{Phone: p, Reason: "STOP from an unknown sender, MessageSid SM1", By: "inbound", CreatedAt: received}
	}
	cases := []struct {
		name   string
		stored []string // people at OPT_IN
		admin  string   // a number an admin suppressed, if set
		from   string
		body   string
		want   outcome
	}{
		{
			name: "mx_id_with_1_stops_the_dialled_number", stored: []string{"+525512345678"},
			from: "whatsapp:+5215512345678", body: "STOP",
			want: outcome{Consent: map[string]consent.State{"+525512345678": consent.Stop}},
		},
		{
			name: "br_id_without_ninth_digit_stops_the_number_with_it", stored: []string{"+5531987654321"},
			from: "whatsapp:+553187654321", body: "STOP",
			want: outcome{Consent: map[string]consent.State{"+5531987654321": consent.Stop}},
		},
		{
			name: "ar_id_stops_the_fixed_line_form_a_list_held", stored: []string{"+541123456789"},
			from: "whatsapp:+5491123456789", body: "STOP",
			want: outcome{Consent: map[string]consent.State{"+541123456789": consent.Stop}},
		},
		{
			name: "ar_id_stops_both_forms_when_both_are_stored", stored: []string{"+5491123456789", "+541123456789"},
			from: "whatsapp:+5491123456789", body: "STOP",
			want: outcome{Consent: map[string]consent.State{"+5491123456789": consent.Stop, "+541123456789": consent.Stop}},
		},
		{
			name: "mx_id_reply_changes_nothing", stored: []string{"+525512345678"},
			from: "whatsapp:+5215512345678", body: "hola",
			want: outcome{Consent: map[string]consent.State{"+525512345678": consent.OptIn}},
		},
		{
			name: "stop_from_unknown_mx_id_suppresses_the_mapped_number",
			from: "whatsapp:+5215512345678", body: "STOP",
			want: outcome{Consent: map[string]consent.State{"+525512345678": consent.Stop}, Suppressed: []suppression.Entry{unknown("+525512345678")}},
		},
		{
			name: "stop_from_unknown_number_suppresses_it",
			from: "whatsapp:" + number, body: "unsubscribe",
			want: outcome{Consent: map[string]consent.State{number: consent.Stop}, Suppressed: []suppression.Entry{unknown(number)}},
		},
		{
			// No number to make a user of: the id alone is kept.
			name: "stop_from_an_id_no_mapping_finds_suppresses_the_id",
			from: "whatsapp:+999123456", body: "STOP",
			want: outcome{Consent: map[string]consent.State{}, Suppressed: []suppression.Entry{unknown("+999123456")}},
		},
		{
			name: "an_admins_suppression_keeps_its_reason", admin: "+525512345678",
			from: "whatsapp:+5215512345678", body: "STOP",
			want: outcome{
				Consent:    map[string]consent.State{"+525512345678": consent.Stop},
				Suppressed: []suppression.Entry{{Phone: "+525512345678", Reason: "complaint", By: "admin", CreatedAt: created}},
			},
		},
		{
			name: "start_from_unknown_id_suppresses_nothing",
			from: "whatsapp:+5215512345678", body: "START",
			want: outcome{Consent: map[string]consent.State{}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			for _, p := range tc.stored {
				u := user.User{Phone: p, Consent: consent.OptIn, Attributes: map[string]any{}, CreatedAt: created, UpdatedAt: created}
				if err := st.CreateUser(ctx, u, consent.SourceImport, ""); err != nil {
					t.Fatal(err)
				}
			}
			if tc.admin != "" {
				if _, err := st.Suppress(ctx, suppression.Entry{Phone: tc.admin, Reason: "complaint", By: "admin", CreatedAt: created}); err != nil {
					t.Fatal(err)
				}
			}
			h := &inbound.Handler{Store: st}
			for i := range 2 { // redelivered: the second changes nothing
				if err := h.Handle(ctx, message("SM1", tc.from, tc.body, received)); err != nil {
					t.Fatalf("Handle, delivery %d: %v", i+1, err)
				}
			}
			if d := cmp.Diff(tc.want, outcomeOf(t, st)); d != "" {
				t.Errorf("after %q from %s (-want +got):\n%s", tc.body, tc.from, d)
			}
		})
	}
}

// The consent history names the message, so the stored webhook (which
// keeps the WhatsApp id as sent) is found from it.
func TestHandle_alias_history_names_the_message(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	const mx = "+525512345678"
	if err := st.CreateUser(ctx, user.User{Phone: mx, Consent: consent.OptIn, Attributes: map[string]any{}, CreatedAt: created, UpdatedAt: created}, consent.SourceImport, ""); err != nil {
		t.Fatal(err)
	}
	if err := (&inbound.Handler{Store: st}).Handle(ctx, message("SM9", "whatsapp:+5215512345678", "STOP", received)); err != nil {
		t.Fatal(err)
	}
	got, err := st.ConsentHistory(ctx, mx)
	if err != nil {
		t.Fatal(err)
	}
	want := []consent.Change{
		{Phone: mx, To: consent.OptIn, Source: consent.SourceImport, At: created},
		{Phone: mx, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM9", At: received},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ConsentHistory (-want +got):\n%s", d)
	}
	u, err := st.GetUser(ctx, mx)
	if err != nil {
		t.Fatal(err)
	}
	if u.LastInboundAt == nil || !u.LastInboundAt.Equal(received) {
		t.Errorf("LastInboundAt = %v, want %v", u.LastInboundAt, received)
	}
}
