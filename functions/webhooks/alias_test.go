package webhooks

import (
	"context"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// stopped is the TwiML that tells the sender they are unsubscribed.
const stopped = "<Response><Message>bye</Message></Response>"

func waForm(from, body, sid string) url.Values {
	return url.Values{"From": {from}, "To": {"whatsapp:+14155238886"}, "Body": {body}, "MessageSid": {sid}, "WaId": {strings.TrimPrefix(from, "whatsapp:+")}}
}

// A STOP from a WhatsApp id that is not the dialled number, applied in
// place through the real handler, stops the person stored under the
// number; one from an unknown sender is kept as a suppression; the stored
// webhook keeps the id as sent.
func TestWebhooks_stop_from_whatsapp_alias(t *testing.T) {
	t.Parallel()
	type result struct {
		Reply      string
		Consent    map[string]consent.State
		Suppressed []string
		StoredFrom string
	}
	cases := []struct {
		name   string
		stored string // a person at OPT_IN, if set
		from   string
		want   result
	}{
		{
			name: "mx_id_with_1", stored: "+525512345678", from: "whatsapp:+5215512345678",
			want: result{Reply: stopped, Consent: map[string]consent.State{"+525512345678": consent.Stop}, StoredFrom: "whatsapp:+5215512345678"},
		},
		{
			name: "br_id_without_ninth_digit", stored: "+5531987654321", from: "whatsapp:+553187654321",
			want: result{Reply: stopped, Consent: map[string]consent.State{"+5531987654321": consent.Stop}, StoredFrom: "whatsapp:+553187654321"},
		},
		{
			name: "unknown_mx_id", from: "whatsapp:+5215512345678",
			want: result{
				Reply: stopped, Consent: map[string]consent.State{"+525512345678": consent.Stop},
				Suppressed: []string{"+525512345678"}, StoredFrom: "whatsapp:+5215512345678",
			},
		},
		{
			name: "id_no_mapping_finds", from: "whatsapp:+999123456",
			want: result{Reply: stopped, Consent: map[string]consent.State{}, Suppressed: []string{"+999123456"}, StoredFrom: "whatsapp:+999123456"},
		},
		{
			// Nothing to keep it against: nobody is told they are unsubscribed.
			name: "unreadable_sender", from: "whatsapp:nobody",
			want: result{Reply: "<Response></Response>", Consent: map[string]consent.State{}, StoredFrom: "whatsapp:nobody"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := memstore.New()
			if tc.stored != "" {
				if err := st.CreateUser(ctx, user.User{Phone: tc.stored, Consent: consent.OptIn, Attributes: map[string]any{}}, consent.SourceImport, ""); err != nil {
					t.Fatal(err)
				}
			}
			f := &fixture{store: st, events: memevents.New()}
			f.h = (&Server{
				Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStop: "bye"},
				Store:  st, Users: st, Events: &down{}, Apply: InPlace(st, time.Minute, nil),
			}).Routes()
			code, body := f.post("/webhooks/inbound", waForm(tc.from, "STOP", "SM1"), token)
			if code != 200 {
				t.Fatalf("STOP = %d %q, want 200", code, body)
			}
			got := result{Consent: map[string]consent.State{}}
			got.Reply = strings.TrimPrefix(body, xml.Header)
			users, _, _ := st.ListUsers(ctx, store.UserFilter{}, store.Page{Page: 1, PerPage: 10})
			for _, u := range users {
				got.Consent[u.Phone] = u.Consent
			}
			sup, _, _ := st.ListSuppressions(ctx, store.Page{Page: 1, PerPage: 10})
			for _, e := range sup {
				got.Suppressed = append(got.Suppressed, e.Phone)
			}
			evs, _ := st.ListWebhooks(ctx, webhook.Inbound, 10)
			if len(evs) == 1 {
				got.StoredFrom = evs[0].Params["From"]
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// START from a WhatsApp id finds the person under their number; a
// suppressed person is never told they are resubscribed.
func TestWebhooks_start_reply_from_whatsapp_alias(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		consent    consent.State
		suppressed bool
		want       string
	}{
		{"after_own_stop", consent.Stop, false, "<Message>welcome back</Message>"},
		{"suppressed", consent.Stop, true, "<Response></Response>"},
		{"admin_opt_out", consent.OptOut, false, "<Response></Response>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, pub := memstore.New(), memevents.New()
			if err := st.CreateUser(ctx, user.User{Phone: "+525512345678", Consent: tc.consent, Attributes: map[string]any{}}, consent.SourceAdmin, ""); err != nil {
				t.Fatal(err)
			}
			if tc.suppressed {
				if _, err := st.Suppress(ctx, suppression.Entry{Phone: "+525512345678", Reason: "STOP from an unknown sender", By: "inbound"}); err != nil {
					t.Fatal(err)
				}
			}
			f := &fixture{store: st, events: pub}
			f.h = (&Server{Config: Config{PublicBaseURL: base, AuthToken: token, ReplyStart: "welcome back"}, Store: st, Users: st, Events: pub}).Routes()
			if code, body := f.post("/webhooks/inbound", waForm("whatsapp:+5215512345678", "START", "SM5"), token); code != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("START = %d %q, want %q", code, body, tc.want)
			}
		})
	}
}
