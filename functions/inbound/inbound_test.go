package inbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/inbound"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/store/storetest"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
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
			if err := inbound.New(st, storetest.Hasher(t))(ctx, published(t, tc.body)); err != nil {
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
		err := inbound.New(memstore.New(), storetest.Hasher(t))(context.Background(), events.Message{ID: "1", Data: []byte(data)})
		if err == nil || errs.Retry(err) {
			t.Errorf("payload %q: handler = %v (retry %v), want an error not to retry", data, err, errs.Retry(err))
		}
	}
}

// unstored is an inbound callback as the Webhooks function hands it on
// when its store refused it: received at at, never stored.
func unstored(t *testing.T, sid, body string, at time.Time) events.Message {
	t.Helper()
	data, err := json.Marshal(events.Webhook{
		ID: webhook.EventID(webhook.Inbound, sid, ""), Kind: webhook.Inbound, MessageSID: sid,
		Params:     map[string]string{"MessageSid": sid, "From": "whatsapp:" + phone, "To": "whatsapp:+14155238886", "Body": body, "ProfileName": "Nimal"},
		ReceivedAt: at, Unstored: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return events.Message{ID: sid, Data: data}
}

// leftOf is what the store holds of the person: what a test of an
// erasure checks.
type leftOf struct {
	User       consent.State // "" when no user
	Suppressed bool
	History    int
	// Records are the inbound records, each as "sid erased=… from=…".
	Records []string
	Kept    consent.State // the erased record's opt-out
}

func left(t *testing.T, st *memstore.Store, h erasure.Hasher) leftOf {
	t.Helper()
	ctx := t.Context()
	var l leftOf
	if u, err := st.GetUser(ctx, phone); err == nil {
		l.User = u.Consent
	} else if !errs.Is(err, errs.NotExist) {
		t.Fatal(err)
	}
	sup, err := st.Suppressed(ctx, []string{phone})
	if err != nil {
		t.Fatal(err)
	}
	l.Suppressed = sup[phone]
	hist, err := st.ConsentHistory(ctx, phone)
	if err != nil {
		t.Fatal(err)
	}
	l.History = len(hist)
	es, err := st.ListWebhooks(ctx, webhook.Inbound, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		l.Records = append(l.Records, fmt.Sprintf("%s erased=%v params=%d from=%s", e.MessageSID, e.Erased, len(e.Params), e.Params["From"]))
	}
	recs, err := st.ErasedRecords(ctx, []string{h.Of(phone)})
	if err != nil {
		t.Fatal(err)
	}
	l.Kept = recs[h.Of(phone)].Consent
	return l
}

// A callback handed on unstored (the webhook's store failed) and consumed,
// or redelivered, only after its sender was erased brings nothing of them
// back: no user, suppression, history or webhook record naming them. A
// STOP among them is kept in their erased record, so a re-import brings
// them back opted out. A callback received after the erasure is a new
// contact, and a person imported again since is back, STOP and all.
func TestHandleInbound_unstored_after_erasure(t *testing.T) {
	t.Parallel()
	erased := received.Add(time.Hour)
	before, after := erased.Add(-30*time.Minute), erased.Add(30*time.Minute)
	scrubbed := "SM9 erased=true params=0 from="
	cases := []struct {
		name     string
		consent  consent.State // the person's at the erasure
		body     string
		at       time.Time
		reimport bool // imported again (opted in) before the callback comes
		want     leftOf
		back     consent.State // after a re-import (as OPT_IN)
	}{
		{
			name: "stop_of_an_opted_in_person_kept_in_the_record", consent: consent.OptIn, body: "STOP", at: before,
			want: leftOf{Records: []string{scrubbed}, Kept: consent.Stop}, back: consent.Stop,
		},
		{
			name: "stop_of_a_stopped_person_keeps_the_record", consent: consent.Stop, body: "STOP", at: before,
			want: leftOf{Records: []string{scrubbed}, Kept: consent.Stop}, back: consent.Stop,
		},
		{
			name: "stop_leaves_an_admins_opt_out", consent: consent.OptOut, body: "unsubscribe", at: before,
			want: leftOf{Records: []string{scrubbed}, Kept: consent.OptOut}, back: consent.OptOut,
		},
		{
			name: "reply_brings_nothing_back", consent: consent.OptIn, body: "thanks", at: before,
			want: leftOf{Records: []string{scrubbed}}, back: consent.OptIn,
		},
		{
			name: "start_brings_nothing_back_nor_lifts_the_stop", consent: consent.Stop, body: "START", at: before,
			want: leftOf{Records: []string{scrubbed}, Kept: consent.Stop}, back: consent.Stop,
		},
		{
			// A new contact: a STOP from an unknown sender, kept as ever.
			name: "stop_received_after_the_erasure_is_a_new_contact", consent: consent.OptIn, body: "STOP", at: after,
			want: leftOf{User: consent.Stop, Suppressed: true, History: 1, Records: []string{"SM9 erased=false params=5 from=whatsapp:" + phone}},
			back: consent.Stop,
		},
		{
			name: "stop_for_a_person_imported_again_applies", consent: consent.OptIn, body: "STOP", at: before, reimport: true,
			want: leftOf{User: consent.Stop, History: 2, Records: []string{"SM9 erased=false params=5 from=whatsapp:" + phone}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st, h := memstore.New(), storetest.Hasher(t)
			if err := st.CreateUser(ctx, user.User{Phone: phone, Consent: tc.consent, Attributes: map[string]any{"name": "Nimal"}, CreatedAt: received.Add(-time.Hour)}, consent.SourceAPI, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := erasure.Erase(ctx, st, h, phone, erased); err != nil {
				t.Fatal(err)
			}
			if tc.reimport {
				reimport(t, st, h, "job0", erased.Add(time.Minute))
			}
			handle := inbound.New(st, h)
			for i := range 2 { // redelivered: the second changes nothing
				if err := handle(ctx, unstored(t, "SM9", tc.body, tc.at)); err != nil {
					t.Fatalf("delivery %d: %v", i+1, err)
				}
			}
			if d := cmp.Diff(tc.want, left(t, st, h)); d != "" {
				t.Errorf("left of the person (-want, +got):\n%s", d)
			}
			if tc.reimport {
				return
			}
			// Erased again (a new contact stays until then), then imported.
			if _, err := erasure.Erase(ctx, st, h, phone, after.Add(time.Minute)); err != nil && !errs.Is(err, errs.NotExist) {
				t.Fatal(err)
			}
			reimport(t, st, h, "job1", after.Add(2*time.Minute))
			if u, err := st.GetUser(ctx, phone); err != nil || u.Consent != tc.back {
				t.Errorf("re-imported as OPT_IN: %s, %v; want %s", u.Consent, err, tc.back)
			}
		})
	}
}

// reimport imports the person again as OPT_IN, their row stamped with
// their erasure key as ImportUsers stamps it.
func reimport(t *testing.T, st *memstore.Store, h erasure.Hasher, job string, at time.Time) {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateImportJob(ctx, userimport.Job{ID: job, State: userimport.Queued, Filename: "c.csv", Format: "csv", Rows: 1, Accepted: 1, Batches: 1, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	rows := []userimport.Row{{Line: 2, Phone: phone, Consent: consent.OptIn}}
	erasure.StampKeys(h, rows)
	if _, err := st.ApplyImportBatch(ctx, job, 0, rows, at); err != nil {
		t.Fatal(err)
	}
}
