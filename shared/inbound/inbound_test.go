package inbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

const number = "+94771234567"

var (
	created  = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	received = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
)

func TestClassification(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, want string }{
		{"STOP", "STOP Command"},
		{"stop", "STOP Command"},
		{"  Stop!  ", "STOP Command"},
		{"UNSUBSCRIBE", "STOP Command"},
		{"stopall", "STOP Command"},
		{"cancel", "STOP Command"},
		{"STOP\u00a0", "STOP Command"}, // a phone keyboard's no-break space
		{"stop…", "STOP Command"},
		{"START", "START Command"},
		{"yes", "START Command"},
		{"unstop", "START Command"},
		{"HELP", "HELP Request"},
		{"info?", "HELP Request"},
		{"Please stop sending", "Text Reply"},
		{"stopping", "Text Reply"},
		{"Thanks!", "Text Reply"},
		{"", "Text Reply"},
		{"   ", "Text Reply"},
	}
	for _, tc := range cases {
		t.Run(tc.want+"/"+tc.body, func(t *testing.T) {
			t.Parallel()
			if got := inbound.Classification(tc.body); got != tc.want {
				t.Errorf("Classification(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

// message is an inbound message from a WhatsApp number.
func message(sid, from, body string, at time.Time) inbound.Message {
	return inbound.Message{ProviderSID: sid, From: from, Body: body, ReceivedAt: at}
}

// newStore holds number in state c, if c is set.
func newStore(t *testing.T, c consent.State, src consent.Source) *memstore.Store {
	t.Helper()
	st := memstore.New()
	if c == "" {
		return st
	}
	u := user.User{Phone: number, Consent: c, Attributes: map[string]any{}, CreatedAt: created, UpdatedAt: created}
	if err := st.CreateUser(context.Background(), u, src, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

// state is what a test checks of a person: their consent and history.
type state struct {
	Consent consent.State
	History []consent.Change
}

func stateOf(t *testing.T, st *memstore.Store) state {
	t.Helper()
	ctx := context.Background()
	u, err := st.GetUser(ctx, number)
	if errs.Is(err, errs.NotExist) {
		return state{}
	}
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.ConsentHistory(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	return state{Consent: u.Consent, History: h}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	first := func(c consent.State, src consent.Source) consent.Change {
		return consent.Change{Phone: number, To: c, Source: src, At: created}
	}
	cases := []struct {
		name    string
		consent consent.State // "" for an unknown number
		source  consent.Source
		body    string
		want    state
	}{
		{
			name: "stop_from_opt_in", consent: consent.OptIn, source: consent.SourceAPI, body: "STOP",
			want: state{Consent: consent.Stop, History: []consent.Change{
				first(consent.OptIn, consent.SourceAPI),
				{Phone: number, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received},
			}},
		},
		{
			name: "other_opt_out_word_from_opt_in", consent: consent.OptIn, source: consent.SourceImport, body: " unsubscribe. ",
			want: state{Consent: consent.Stop, History: []consent.Change{
				first(consent.OptIn, consent.SourceImport),
				{Phone: number, From: consent.OptIn, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received},
			}},
		},
		{
			name: "start_lifts_stop", consent: consent.Stop, source: consent.SourceInbound, body: "Start",
			want: state{Consent: consent.OptIn, History: []consent.Change{
				first(consent.Stop, consent.SourceInbound),
				{Phone: number, From: consent.Stop, To: consent.OptIn, Source: consent.SourceInbound, Ref: "SM1", At: received},
			}},
		},
		{
			name: "start_does_not_lift_admin_opt_out", consent: consent.OptOut, source: consent.SourceAdmin, body: "START",
			want: state{Consent: consent.OptOut, History: []consent.Change{first(consent.OptOut, consent.SourceAdmin)}},
		},
		{
			// The person's own word replaces the admin's: no admin may lift it.
			name: "stop_replaces_admin_opt_out", consent: consent.OptOut, source: consent.SourceAdmin, body: "STOP",
			want: state{Consent: consent.Stop, History: []consent.Change{
				first(consent.OptOut, consent.SourceAdmin),
				{Phone: number, From: consent.OptOut, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received},
			}},
		},
		{
			name: "stop_when_stopped_changes_nothing", consent: consent.Stop, source: consent.SourceAPI, body: "STOP",
			want: state{Consent: consent.Stop, History: []consent.Change{first(consent.Stop, consent.SourceAPI)}},
		},
		{
			name: "start_when_opted_in_changes_nothing", consent: consent.OptIn, source: consent.SourceAPI, body: "START",
			want: state{Consent: consent.OptIn, History: []consent.Change{first(consent.OptIn, consent.SourceAPI)}},
		},
		{
			name: "plain_reply_changes_nothing", consent: consent.OptIn, source: consent.SourceAPI, body: "Please stop sending",
			want: state{Consent: consent.OptIn, History: []consent.Change{first(consent.OptIn, consent.SourceAPI)}},
		},
		{
			name: "help_changes_nothing", consent: consent.Stop, source: consent.SourceAPI, body: "HELP",
			want: state{Consent: consent.Stop, History: []consent.Change{first(consent.Stop, consent.SourceAPI)}},
		},
		{
			name: "stop_from_unknown_number_creates_a_stop_user", body: "STOP",
			want: state{Consent: consent.Stop, History: []consent.Change{
				{Phone: number, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received},
			}},
		},
		{name: "start_from_unknown_number_creates_nobody", body: "START"},
		{name: "reply_from_unknown_number_creates_nobody", body: "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStore(t, tc.consent, tc.source)
			h := &inbound.Handler{Store: st}
			ev := message("SM1", "whatsapp:"+number, tc.body, received)
			// The same event twice (Pub/Sub delivers at least once): the
			// second delivery changes nothing.
			for i := range 2 {
				if err := h.Handle(context.Background(), ev); err != nil {
					t.Fatalf("Handle, delivery %d: %v", i+1, err)
				}
			}
			if diff := cmp.Diff(tc.want, stateOf(t, st)); diff != "" {
				t.Errorf("after two deliveries of %q (-want, +got):\n%s", tc.body, diff)
			}
		})
	}
}

func TestHandle_invalid_from(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, from, body string
		wantErr          bool
	}{
		// A keyword whose sender we cannot name is acked, not retried.
		{"stop_without_plus", "whatsapp:94771234567", "STOP", true},
		{"stop_empty_from", "", "STOP", true},
		// A plain reply never needs its sender read.
		{"reply_with_bad_from", "nonsense", "hello", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			err := (&inbound.Handler{Store: st}).Handle(context.Background(), message("SM1", tc.from, tc.body, received))
			if (err != nil) != tc.wantErr || errs.Retry(err) {
				t.Fatalf("Handle = %v (retry %v); want error %v, never retried", err, errs.Retry(err), tc.wantErr)
			}
			if n, _ := st.CountUsers(context.Background(), store.UserFilter{}); n != 0 {
				t.Errorf("%d users created from an unreadable sender", n)
			}
		})
	}
}

func TestHandle_stop_from_unknown_number_records_message_sid(t *testing.T) {
	st := memstore.New()
	if err := (&inbound.Handler{Store: st}).Handle(context.Background(), message("SM1", "whatsapp:"+number, "STOP", received)); err != nil {
		t.Fatal(err)
	}
	want := state{Consent: consent.Stop, History: []consent.Change{
		{Phone: number, To: consent.Stop, Source: consent.SourceInbound, Ref: "SM1", At: received},
	}}
	if diff := cmp.Diff(want, stateOf(t, st)); diff != "" {
		t.Errorf("(-want, +got):\n%s", diff)
	}
}

// Pub/Sub delivers at least once and in any order: an older keyword
// delivered after a newer one must not undo it.
func TestHandle_older_keyword_does_not_undo_a_newer_one(t *testing.T) {
	t.Parallel()
	start := func(at time.Duration) inbound.Message {
		return message("SMstart", "whatsapp:"+number, "START", received.Add(at))
	}
	stop := func(at time.Duration) inbound.Message {
		return message("SMstop", "whatsapp:"+number, "STOP", received.Add(at))
	}
	cases := []struct {
		name    string
		initial consent.State
		order   []inbound.Message
		want    consent.State
	}{
		// START (SMstart) lifted a STOP; the later STOP (SMstop) stands
		// however late the START is redelivered.
		{"start_redelivered_after_a_later_stop", consent.Stop, []inbound.Message{start(0), stop(time.Minute), start(0)}, consent.Stop},
		{"start_processed_after_a_later_stop", consent.Stop, []inbound.Message{stop(time.Minute), start(0)}, consent.Stop},
		// The person said STOP, then START: a START that changed nothing
		// when processed first still outranks the older STOP.
		{"no_op_start_processed_before_an_older_stop", consent.OptIn, []inbound.Message{start(time.Minute), stop(0)}, consent.OptIn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := newStore(t, tc.initial, consent.SourceImport)
			h := &inbound.Handler{Store: st}
			for _, ev := range tc.order {
				if err := h.Handle(ctx, ev); err != nil {
					t.Fatalf("Handle(%s): %v", ev.ProviderSID, err)
				}
			}
			if got := stateOf(t, st).Consent; got != tc.want {
				t.Errorf("after %d keywords: %s, want %s (the person's last word)", len(tc.order), got, tc.want)
			}
		})
	}
}

// Every message, keyword or not, records when the person last wrote; the
// latest stands whatever order messages are handled in.
func TestHandle_records_last_inbound(t *testing.T) {
	t.Parallel()
	later := received.Add(time.Hour)
	cases := []struct {
		name     string
		consent  consent.State // "" for an unknown number
		messages []inbound.Message
		want     *time.Time // nil: no user, or none recorded
	}{
		{name: "reply", consent: consent.OptIn, messages: []inbound.Message{message("SM1", "whatsapp:"+number, "Thanks!", received)}, want: &received},
		{name: "help", consent: consent.OptIn, messages: []inbound.Message{message("SM1", "whatsapp:"+number, "HELP", received)}, want: &received},
		{name: "stop", consent: consent.OptIn, messages: []inbound.Message{message("SM1", "whatsapp:"+number, "STOP", received)}, want: &received},
		{name: "from_a_stopped_person", consent: consent.Stop, messages: []inbound.Message{message("SM1", number, "hello?", received)}, want: &received},
		{name: "stop_from_unknown_number_creates_a_user_with_it", messages: []inbound.Message{message("SM1", "whatsapp:"+number, "STOP", received)}, want: &received},
		{name: "reply_from_unknown_number_creates_nobody", messages: []inbound.Message{message("SM1", "whatsapp:"+number, "hi", received)}},
		{
			name: "older_message_handled_late", consent: consent.OptIn,
			messages: []inbound.Message{message("SM2", "whatsapp:"+number, "second", later), message("SM1", "whatsapp:"+number, "first", received)},
			want:     &later,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := newStore(t, tc.consent, consent.SourceAPI)
			h := &inbound.Handler{Store: st}
			for _, m := range tc.messages {
				if err := h.Handle(ctx, m); err != nil {
					t.Fatalf("Handle(%s): %v", m.ProviderSID, err)
				}
			}
			u, err := st.GetUser(ctx, number)
			if errs.Is(err, errs.NotExist) {
				if tc.want != nil {
					t.Fatalf("no user; want LastInboundAt %v", tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, u.LastInboundAt); diff != "" {
				t.Errorf("LastInboundAt (-want, +got):\n%s", diff)
			}
		})
	}
}

// A STOP applied with its record (Record) is not applied again by Handle:
// after the person's erasure it would bring them back, as a STOP user and
// a suppression. Their message is still recorded on whoever is stored.
func TestHandle_stop_applied_with_its_record_is_not_applied_again(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	h := &inbound.Handler{Store: st}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	m := inbound.Message{ProviderSID: "SM1", From: "whatsapp:+94771234567", Body: "STOP", ReceivedAt: at, StopApplied: true}
	if err := h.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetUser(ctx, "+94771234567"); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after an applied STOP from nobody = %v, want NotExist: nobody brought back", err)
	}
	if sup, _ := st.Suppressed(ctx, []string{"+94771234567"}); len(sup) != 0 {
		t.Errorf("suppressed %v, want nobody", sup)
	}
	m.StopApplied = false
	if err := h.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if u, err := st.GetUser(ctx, "+94771234567"); err != nil || u.Consent != consent.Stop {
		t.Errorf("a STOP not applied before = %s, %v; want a STOP user", u.Consent, err)
	}
}
