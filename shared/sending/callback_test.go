package sending

import "testing"

// The message's id and attempt go into the status callback's query,
// before the URL's connection overrides (a fragment Twilio reads and
// never sends).
func TestCallback_names_the_message_before_the_overrides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ callback, want string }{
		{"https://h.example/webhooks/status", "https://h.example/webhooks/status?message_id=m%2F1&attempt=2"},
		{"https://h.example/webhooks/status?tenant=a", "https://h.example/webhooks/status?tenant=a&message_id=m%2F1&attempt=2"},
		{"https://h.example/webhooks/status#rc=3&rp=ct,5xx", "https://h.example/webhooks/status?message_id=m%2F1&attempt=2#rc=3&rp=ct,5xx"},
		{"https://h.example/webhooks/status?tenant=a#rc=3", "https://h.example/webhooks/status?tenant=a&message_id=m%2F1&attempt=2#rc=3"},
		{"", ""},
	} {
		if got := (&Sender{StatusCallback: tc.callback}).callback("m/1", 2); got != tc.want {
			t.Errorf("callback with %q = %q, want %q", tc.callback, got, tc.want)
		}
	}
}
