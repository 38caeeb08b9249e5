package sending_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sending"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/eventstreamengine/ese/shared/store"
)

// pauser pauses the campaign in the store, as campaignrun does, and
// keeps the reason.
type pauser struct {
	store store.Store
	why   []string
}

func (p *pauser) Pause(ctx context.Context, id, by, why string) (campaign.Campaign, error) {
	p.why = append(p.why, why)
	return p.store.UpdateCampaign(ctx, id, func(c *campaign.Campaign) error {
		return c.Move(campaign.Paused, by, why, time.Now().UTC())
	})
}

func TestSend_provider_error_classes(t *testing.T) {
	t.Parallel()
	refusal := func(kind errs.Kind, code string, class sms.ErrorClass, notCreated bool) error {
		return errs.Wrap(kind, &sms.ProviderError{Code: code, Message: "refused", Class: class, NotCreated: notCreated}, "twilio.Send")
	}
	type got struct {
		Outcome        sending.Outcome
		Retry          bool
		Status         message.Status
		Code           string
		Consent        consent.State
		CampaignStatus campaign.Status
		Paused         []string
	}
	tests := []struct {
		name string
		err  error
		want got
	}{
		{
			name: "throttled_20429_is_retried_and_released",
			err:  refusal(errs.Transient, "20429", sms.Retry, true),
			want: got{Retry: true, Status: message.Queued, Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "queue_full_21611_is_retried_and_released",
			err:  refusal(errs.Transient, "21611", sms.Retry, true),
			want: got{Retry: true, Status: message.Queued, Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "server_error_is_retried_through_reconciliation",
			err:  refusal(errs.Transient, "20500", sms.Retry, false),
			want: got{Retry: true, Status: message.Sending, Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "timeout_is_retried_through_reconciliation",
			err:  errs.Wrap(errs.Transient, context.DeadlineExceeded, "twilio.Send"),
			want: got{Retry: true, Status: message.Sending, Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "invalid_number_21211_fails",
			err:  refusal(errs.Permanent, "21211", sms.Reject, false),
			want: got{Outcome: sending.OutcomeFailed, Status: message.Failed, Code: "21211", Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "not_mobile_21614_fails",
			err:  refusal(errs.Permanent, "21614", sms.Reject, false),
			want: got{Outcome: sending.OutcomeFailed, Status: message.Failed, Code: "21614", Consent: consent.OptIn, CampaignStatus: campaign.Running},
		},
		{
			name: "unsubscribed_21610_fails_and_stops_the_person",
			err:  refusal(errs.Permanent, "21610", sms.Unsubscribed, false),
			want: got{Outcome: sending.OutcomeFailed, Status: message.Failed, Code: "21610", Consent: consent.Stop, CampaignStatus: campaign.Running},
		},
		{
			name: "authentication_20003_pauses_the_campaign_and_holds_the_message",
			err:  refusal(errs.Transient, "20003", sms.Misconfigured, true),
			want: got{Outcome: sending.OutcomeHeld, Status: message.Held, Consent: consent.OptIn, CampaignStatus: campaign.Paused,
				Paused: []string{"provider refused our account or sender: error 20003: refused"}},
		},
		{
			name: "not_found_20404_pauses_the_campaign_and_holds_the_message",
			err:  refusal(errs.Transient, "20404", sms.Misconfigured, true),
			want: got{Outcome: sending.OutcomeHeld, Status: message.Held, Consent: consent.OptIn, CampaignStatus: campaign.Paused,
				Paused: []string{"provider refused our account or sender: error 20404: refused"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			p := &pauser{store: f.store}
			f.sender.Provider, f.sender.Pauser = refusing{err: tt.err}, p
			m := f.queued(t, "+94771234567", consent.OptIn)
			outcome, err := f.send(t, m)
			if err != nil && !errs.Is(err, errs.Transient) {
				t.Fatalf("Send error = %v, want nil or transient", err)
			}
			after := f.get(t, m)
			u, uerr := f.store.GetUser(t.Context(), m.Phone)
			c, cerr := f.store.GetCampaign(t.Context(), m.CampaignID)
			if uerr != nil || cerr != nil {
				t.Fatal(uerr, cerr)
			}
			g := got{outcome, err != nil, after.Status, after.ErrorCode, u.Consent, c.Status, p.why}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("after Send (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSend_unsubscribed_21610_records_the_stop_with_its_source(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sender.Provider = refusing{err: errs.Wrap(errs.Permanent, &sms.ProviderError{Code: "21610", Class: sms.Unsubscribed}, "twilio.Send")}
	// After the user's creation, so the change is the last in the history.
	at := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
	f.sender.Now = func() time.Time { return at }
	m := f.queued(t, "+94771234567", consent.OptIn)
	if _, err := f.send(t, m); err != nil {
		t.Fatal(err)
	}
	h, err := f.store.ConsentHistory(t.Context(), m.Phone)
	if err != nil {
		t.Fatal(err)
	}
	want := consent.Change{Phone: m.Phone, From: consent.OptIn, To: consent.Stop, Source: consent.SourceProvider, Ref: m.ID, At: at}
	if diff := cmp.Diff(want, h[len(h)-1]); diff != "" {
		t.Errorf("last consent change (-want +got):\n%s", diff)
	}
}
