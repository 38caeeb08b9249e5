package sending

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/sms"
)

// Which of the provider's sends to the person (from our sender: the
// adapter lists no other) reconciliation may take for a claim: only those
// in the claim's window, never an earlier attempt's, the same text for
// free text; for a template, our copy, a send without a text, or one
// after the claim saying every value, in that order.
func TestCandidates(t *testing.T) {
	t.Parallel()
	claimed := time.Date(2026, 11, 29, 10, 0, 0, 500_000_000, time.UTC)
	const within = 2 * time.Minute
	at := func(d time.Duration) time.Time { return claimed.Truncate(time.Second).Add(d) }
	free := message.Message{Body: "Hi Ada, 20% off today"}
	tmpl := message.Message{Body: "Hello Ada! News from Colombo.", ContentSID: "HX0123456789abcdef0123456789abcdef",
		ContentVariables: map[string]string{"1": "Ada", "2": "Colombo"}}
	for _, tc := range []struct {
		name  string
		m     message.Message
		prior []string
		sent  []sms.Sent
		want  []string
	}{
		{name: "free_text_same_text_in_the_window", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body, DateCreated: at(time.Second)}}, want: []string{"a"}},
		{name: "free_text_other_text", m: free,
			sent: []sms.Sent{{SID: "a", Body: "Reply STOP to opt out", DateCreated: at(time.Second)}}},
		{name: "free_text_within_the_clock_skew_before", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body, DateCreated: at(-ClockSkew)}}, want: []string{"a"}},
		{name: "free_text_before_the_window", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body, DateCreated: at(-ClockSkew - time.Second)}}},
		{name: "free_text_after_the_window", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body, DateCreated: at(within + ClockSkew + 2*time.Second)}}},
		{name: "free_text_at_the_end_of_the_window", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body, DateCreated: at(within)}}, want: []string{"a"}},
		{name: "no_creation_time", m: free,
			sent: []sms.Sent{{SID: "a", Body: free.Body}}},
		{name: "an_earlier_attempt_is_never_taken", m: free, prior: []string{"old"},
			sent: []sms.Sent{{SID: "old", Body: free.Body, DateCreated: at(time.Second)}, {SID: "new", Body: free.Body, DateCreated: at(2 * time.Second)}},
			want: []string{"new"}},
		{name: "template_order_exact_then_blank_then_values", m: tmpl,
			sent: []sms.Sent{
				{SID: "values_late", Body: "Hello Ada!! News from Colombo", DateCreated: at(3 * time.Second)},
				{SID: "values_early", Body: "Hello Ada! Colombo news", DateCreated: at(time.Second)},
				{SID: "exact", Body: tmpl.Body, DateCreated: at(2 * time.Second)},
				{SID: "blank", DateCreated: at(4 * time.Second)},
				{SID: "reply", Body: "Reply HELP for help", DateCreated: at(time.Second)},
				{SID: "missing_a_value", Body: "Hello Ada!", DateCreated: at(time.Second)},
			},
			want: []string{"exact", "blank", "values_early", "values_late"}},
		// The values alone are taken in the same window, clock skew included.
		{name: "template_values_within_the_clock_skew_before", m: tmpl,
			sent: []sms.Sent{{SID: "a", Body: "Hello Ada! News from Colombo", DateCreated: at(-ClockSkew)}}, want: []string{"a"}},
		{name: "template_values_before_the_window", m: tmpl,
			sent: []sms.Sent{{SID: "a", Body: "Hello Ada! News from Colombo", DateCreated: at(-ClockSkew - time.Second)}}},
		// A template without values: only our text, or none.
		{name: "template_without_values_takes_only_its_text_or_none", m: message.Message{Body: "Your order shipped", ContentSID: tmpl.ContentSID},
			sent: []sms.Sent{
				{SID: "other", Body: "Hi Ada, 20% off today", DateCreated: at(time.Second)},
				{SID: "exact", Body: "Your order shipped", DateCreated: at(2 * time.Second)},
				{SID: "blank", DateCreated: at(3 * time.Second)},
			},
			want: []string{"exact", "blank"}},
		{name: "template_values_after_the_window", m: tmpl,
			sent: []sms.Sent{{SID: "a", Body: "Hello Ada! News from Colombo", DateCreated: at(within + time.Minute)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.m
			m.PriorSIDs = tc.prior
			var got []string
			for _, x := range candidates(tc.sent, m, claimed, within) {
				got = append(got, x.SID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("candidates (-want, +got):\n%s", diff)
			}
		})
	}
}
