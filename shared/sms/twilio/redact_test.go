package twilio

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/eventstreamengine/ese/shared/errs"
)

func TestClassify_network_error_hides_the_number(t *testing.T) {
	t.Parallel()
	err := classify("twilio.SentTo", &url.Error{
		Op:  "Get",
		URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=whatsapp%3A%2B94771234567&PageSize=20",
		Err: errors.New("connection refused"),
	})
	if !errs.Is(err, errs.Transient) {
		t.Errorf("kind = %v, want transient", errs.KindOf(err))
	}
	if msg := err.Error(); strings.Contains(msg, "94771234567") || strings.Contains(msg, "771234567") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q: want the cause without the number", msg)
	}
}
