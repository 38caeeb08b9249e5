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

// Twilio's error codes that are not plain rejections of one message.
const (
	codeAuthentication = 20003 // the account's credentials were refused
	codeNotFound       = 20404 // the account, sender or content does not exist
	codeTooManyReqs    = 20429
	codeQueueFull      = 21611 // the sender's queue is full; it drains at its MPS
	codeUnsubscribed   = 21610 // the person replied STOP to the sender
)

// classify gives err an errs kind for the caller's retry decision. A
// Twilio rejection becomes a *sms.ProviderError in the chain, with its
// code and its sms.ErrorClass, so that the caller can act on the class
// and record the code.
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
	class := classOf(re.Status, re.Code)
	// Twilio creates no message when it throttles the request (429), its
	// sender's queue is full (21611), or it refuses our account (401, 403,
	// 20003, 20404).
	pe := &sms.ProviderError{Message: redact(re.Message), Status: re.Status, Class: class,
		NotCreated: re.Status == http.StatusTooManyRequests || re.Code == codeQueueFull ||
			re.Code == codeTooManyReqs || class == sms.Misconfigured}
	if re.Code != 0 {
		pe.Code = strconv.Itoa(re.Code)
	}
	// A misconfiguration is transient too: once the account is fixed the
	// same call passes (a sender pauses the campaign; SentTo and Ready
	// just fail for now).
	kind := errs.Permanent
	if class == sms.Retry || class == sms.Misconfigured {
		kind = errs.Transient
	}
	return errs.Wrap(kind, pe, op)
}

// classOf maps an answer's status and code to what the sender does.
func classOf(status, code int) sms.ErrorClass {
	switch {
	case code == codeTooManyReqs, code == codeQueueFull:
		return sms.Retry
	case code == codeUnsubscribed:
		return sms.Unsubscribed
	// Refusals of the account itself fail every message alike: fixing the
	// account makes them pass, so they pause the campaign rather than
	// fail its recipients for good.
	case code == codeAuthentication, code == codeNotFound,
		status == http.StatusUnauthorized, status == http.StatusForbidden:
		return sms.Misconfigured
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return sms.Retry
	case status >= 400 && status < 500:
		return sms.Reject
	}
	return sms.Retry // 5xx, or no status at all
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
