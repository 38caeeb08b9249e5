package twilio

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
)

func TestClassify_error_classes(t *testing.T) {
	t.Parallel()
	type got struct {
		Kind       errs.Kind
		Class      sms.ErrorClass
		Code       string
		NotCreated bool
	}
	tests := []struct {
		name   string
		status int
		code   int
		want   got
	}{
		{"too_many_requests_20429", 429, 20429, got{errs.Transient, sms.Retry, "20429", true}},
		{"too_many_requests_code_only", 400, 20429, got{errs.Transient, sms.Retry, "20429", true}},
		{"queue_full_21611", 400, 21611, got{errs.Transient, sms.Retry, "21611", true}},
		{"server_error_500", 500, 20500, got{errs.Transient, sms.Retry, "20500", false}},
		{"bad_gateway_without_code", 502, 0, got{errs.Transient, sms.Retry, "", false}},
		{"invalid_to_21211", 400, 21211, got{errs.Permanent, sms.Reject, "21211", false}},
		{"not_a_mobile_21614", 400, 21614, got{errs.Permanent, sms.Reject, "21614", false}},
		{"unsubscribed_21610", 400, 21610, got{errs.Permanent, sms.Unsubscribed, "21610", false}},
		{"authentication_20003", 401, 20003, got{errs.Transient, sms.Misconfigured, "20003", true}},
		{"not_found_20404", 404, 20404, got{errs.Transient, sms.Misconfigured, "20404", true}},
		{"forbidden", 403, 0, got{errs.Transient, sms.Misconfigured, "", true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify("twilio.Send", &client.TwilioRestError{Status: tt.status, Code: tt.code, Message: "refused"})
			var pe *sms.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("classify = %v, want a *sms.ProviderError in the chain", err)
			}
			g := got{errs.KindOf(err), pe.Class, pe.Code, pe.NotCreated}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("classify (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClassify_timeout_is_retried_without_a_class(t *testing.T) {
	t.Parallel()
	err := classify("twilio.Send", errors.New("context deadline exceeded"))
	var pe *sms.ProviderError
	if diff := cmp.Diff([]any{errs.Transient, false}, []any{errs.KindOf(err), errors.As(err, &pe)}); diff != "" {
		t.Errorf("kind, provider error (-want +got):\n%s", diff)
	}
}
