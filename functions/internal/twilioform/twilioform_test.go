package twilioform_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/functions/internal/twilioform"
	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/webhook"
)

var at = time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC)

func TestUpdate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, status, code string
		want               message.ProviderUpdate
		wantRecords        bool
	}{
		{name: "accepted", status: "accepted", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "queued", status: "queued", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "sending", status: "sending", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "scheduled", status: "scheduled", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "empty", status: "", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "unknown_word", status: "teleported", want: message.ProviderUpdate{Status: message.Queued}},
		{name: "sent", status: "sent", want: message.ProviderUpdate{Status: message.Sent}, wantRecords: true},
		{name: "sent_ignores_a_code", status: "sent", code: "0", want: message.ProviderUpdate{Status: message.Sent}, wantRecords: true},
		{name: "delivered", status: "delivered", want: message.ProviderUpdate{Status: message.Delivered}, wantRecords: true},
		{name: "read", status: "read", want: message.ProviderUpdate{Status: message.Read}, wantRecords: true},
		{name: "any_case", status: "DeLiVeReD", want: message.ProviderUpdate{Status: message.Delivered}, wantRecords: true},
		{name: "failed_with_code", status: "failed", code: "30008",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "30008", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "failed_without_code_names_the_status", status: "failed",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "failed", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "undelivered_with_code", status: "undelivered", code: "30005",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "30005", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "undelivered_without_code", status: "undelivered",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "undelivered", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "outside_the_window_63016_concludes", status: "failed", code: "63016",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63016", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "not_on_whatsapp_63024_concludes", status: "undelivered", code: "63024",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63024", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "paused_template_63032_concludes", status: "failed", code: "63032",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63032", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "declined_by_meta_63049", status: "failed", code: "63049",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63049", Class: message.FailureDeclined}, wantRecords: true},
		{name: "marketing_opt_out_63033_is_the_deployments_to_decide", status: "failed", code: "63033",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63033", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "rate_limited_63018", status: "undelivered", code: "63018",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63018", Class: message.FailureRateLimited}, wantRecords: true},
		{name: "delivered_has_no_class", status: "delivered", code: "63049",
			want: message.ProviderUpdate{Status: message.Delivered}, wantRecords: true},
		{name: "canceled", status: "canceled",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "canceled", Class: message.FailureUndeliverable}, wantRecords: true},
		{name: "canceled_upper_case", status: "CANCELED",
			want: message.ProviderUpdate{Status: message.Failed, ErrorCode: "canceled", Class: message.FailureUndeliverable}, wantRecords: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := twilioform.Update(tc.status, tc.code, at)
			tc.want.At = at
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Update(%q, %q) (-want, +got):\n%s", tc.status, tc.code, diff)
			}
			if c := (deliverystatus.Callback{Update: got}); c.Records() != tc.wantRecords {
				t.Errorf("Update(%q) records %v, want %v", tc.status, c.Records(), tc.wantRecords)
			}
		})
	}
}

// Events as the Webhooks function stores them, today and before Status
// was kept beside Params, read into the domain's events.
func TestStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   webhook.Event
		want deliverystatus.Callback
	}{
		{
			name: "stored_today",
			in: webhook.Event{
				ID: "status-SM1-failed", Kind: webhook.Status, MessageSID: "SM1", MessageID: "m1", Status: "failed",
				Params:     map[string]string{"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "63016"},
				ReceivedAt: at,
			},
			want: deliverystatus.Callback{ProviderSID: "SM1", MessageID: "m1", Update: message.ProviderUpdate{Status: message.Failed, ErrorCode: "63016", Class: message.FailureUndeliverable, At: at}},
		},
		{
			name: "status_only_in_params",
			in: webhook.Event{
				ID: "status-SM1-delivered", Kind: webhook.Status, MessageSID: "SM1",
				Params: map[string]string{"MessageSid": "SM1", "MessageStatus": "delivered"}, ReceivedAt: at,
			},
			want: deliverystatus.Callback{ProviderSID: "SM1", Update: message.ProviderUpdate{Status: message.Delivered, At: at}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, twilioform.Status(tc.in)); diff != "" {
				t.Errorf("Status (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestInbound(t *testing.T) {
	t.Parallel()
	in := webhook.Event{
		ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1",
		Params: map[string]string{
			"MessageSid": "SM1", "SmsSid": "SM1", "From": "whatsapp:+94771234567", "To": "whatsapp:+14155238886",
			"Body": "STOP", "ProfileName": "Arjuna", "NumMedia": "0",
		},
		ReceivedAt: at,
	}
	want := inbound.Message{ProviderSID: "SM1", From: "whatsapp:+94771234567", Body: "STOP", ReceivedAt: at}
	if diff := cmp.Diff(want, twilioform.Inbound(in)); diff != "" {
		t.Errorf("Inbound (-want, +got):\n%s", diff)
	}
}

// Every code the platform acts on, or names in its README, has a meaning
// for the campaign summary.
func TestErrorMeaning(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"63016", "63018", "63024", "63032", "63033", "63049", "30008", "21211", "21610", "21614", "20003", "20404", "failed", "undelivered"} {
		if twilioform.ErrorMeaning(code) == "" {
			t.Errorf("ErrorMeaning(%q) is empty", code)
		}
	}
	if got := twilioform.ErrorMeaning("99999"); got != "" {
		t.Errorf("ErrorMeaning(unknown) = %q, want empty", got)
	}
}

// A trimmed record keeps what processing and erasure read, each value
// valid UTF-8 of at most MaxTrimmedValue bytes, cut between characters.
func TestTrimmed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", twilioform.MaxTrimmedValue) // 2 bytes each
	cases := []struct {
		name   string
		params map[string]string
		want   map[string]string
	}{
		{
			name:   "keeps_only_what_is_read",
			params: map[string]string{"MessageSid": "SM1", "From": "whatsapp:+94771234567", "To": "whatsapp:+14155238886", "Body": "STOP", "ProfileName": "Nimal", "WaId": "94771234567", "MediaUrl0": "https://x"},
			want:   map[string]string{"MessageSid": "SM1", "From": "whatsapp:+94771234567", "To": "whatsapp:+14155238886", "Body": "STOP"},
		},
		{
			name:   "invalid_utf8_replaced",
			params: map[string]string{"Body": "STOP \xff", "MessageStatus": "fail\xfeed"},
			want:   map[string]string{"Body": "STOP \uFFFD", "MessageStatus": "fail\uFFFDed"},
		},
		{
			name:   "long_values_cut_between_characters",
			params: map[string]string{"Body": "x" + long},
			want:   map[string]string{"Body": "x" + long[:twilioform.MaxTrimmedValue-2]},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := webhook.Event{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1", Params: tc.params}
			got := twilioform.Trimmed(e)
			want := e
			want.Params, want.Trimmed = tc.want, true
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Trimmed (-want, +got):\n%s", d)
			}
			if b := got.Params["Body"]; len(b) > twilioform.MaxTrimmedValue || !utf8.ValidString(b) {
				t.Errorf("Body of %d bytes, valid UTF-8 %v", len(b), utf8.ValidString(b))
			}
		})
	}
}

// StoreTrimmed stores the trimmed callback only when the store refuses the
// whole one as Invalid, and the caller is left holding what was stored.
func TestStoreTrimmed(t *testing.T) {
	t.Parallel()
	whole := webhook.Event{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1", Params: map[string]string{"Body": "STOP", "Extra": "x"}}
	cases := []struct {
		name       string
		refuse     []error // the store's answers, in turn
		wantStores int
		wantTrim   bool
		wantErr    bool
	}{
		{"stored", []error{nil}, 1, false, false},
		{"invalid_then_trimmed", []error{errs.E(errs.Invalid, "params.Extra: too long"), nil}, 2, true, false},
		{"invalid_twice", []error{errs.E(errs.Invalid, "a"), errs.E(errs.Invalid, "b")}, 2, true, true},
		{"transient_not_trimmed", []error{errs.E(errs.Transient, "unavailable")}, 1, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, stores, told := whole, 0, 0
			_, _, err := twilioform.StoreTrimmed(&e, func(e webhook.Event) (webhook.Event, bool, error) {
				err := tc.refuse[stores]
				stores++
				return e, err == nil, err
			}, func(error) { told++ })
			if stores != tc.wantStores || e.Trimmed != tc.wantTrim || (err != nil) != tc.wantErr {
				t.Errorf("stores %d, trimmed %v, err %v; want %d, %v, error %v", stores, e.Trimmed, err, tc.wantStores, tc.wantTrim, tc.wantErr)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.wantTrim]; told != want {
				t.Errorf("refusal told %d times, want %d", told, want)
			}
		})
	}
}
