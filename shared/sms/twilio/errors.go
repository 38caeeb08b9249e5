package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/sms"
	"github.com/twilio/twilio-go/client"
)

const codeQueueFull = 21611

// classify gives err an errs kind for the caller's retry decision. A
// Twilio rejection becomes a *sms.ProviderError in the chain, so that the
// caller can record its code.
func classify(op string, err error) error {
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		// Network errors, timeouts, undecodable answers: the request may or
		// may not have reached Twilio. A *url.Error quotes the URL, whose
		// query holds the number: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
		}
		return errs.Wrap(errs.Transient, err, op)
	}
	// Twilio creates no message when it throttles the request (429) or
	// refuses it because the sender's queue is full (21611).
	pe := &sms.ProviderError{Message: redact(re.Message), Status: re.Status,
		NotCreated: re.Status == http.StatusTooManyRequests || re.Code == codeQueueFull}
	if re.Code != 0 {
		pe.Code = strconv.Itoa(re.Code)
	}
	kind := errs.Permanent
	// 21611: the sender's queue is full for now; it drains at its MPS.
	if transientStatus(re.Status) || re.Code == codeQueueFull {
		kind = errs.Transient
	}
	return errs.Wrap(kind, pe, op)
}

// transientStatus reports whether an answer with this status might pass
// later. Refusals of the account itself (401, 403) count: fixing the
// account makes them pass, so they must not fail the recipient for good.
func transientStatus(status int) bool {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	case status >= 400 && status < 500:
		return false
	}
	return true // 5xx, or no status at all
}

// Code returns the Twilio error code carried by err (such as "21211"), or
// "" when err is not a Twilio rejection.
func Code(err error) string {
	var pe *sms.ProviderError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Twilio's messages quote the number ("The 'To' number +1500... is not a
// valid phone number"), and they end up in logs and stored errors.
var longNumber = regexp.MustCompile(`\+?\d{6,}`)

// redact masks every long number in s but its last four digits.
func redact(s string) string {
	return longNumber.ReplaceAllStringFunc(s, func(n string) string {
		plus := strings.HasPrefix(n, "+")
		digits := strings.TrimPrefix(n, "+")
		masked := strings.Repeat("*", len(digits)-4) + digits[len(digits)-4:]
		if plus {
			return "+" + masked
		}
		return masked
	})
}

// redactURL drops a URL's query, where numbers travel.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
