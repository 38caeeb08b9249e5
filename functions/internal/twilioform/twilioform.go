// Package twilioform reads Twilio's callback forms, as the Webhooks
// function stores them (webhook.Event, whose Params keep the form as
// Twilio sent it), into the typed events the domain packages handle:
// inbound.Message and deliverystatus.Callback. Twilio's keys and status
// words stop here.
package twilioform

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventstreamengine/ese/shared/deliverystatus"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/inbound"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Twilio's form keys.
const (
	KeyMessageSID    = "MessageSid"
	KeySMSSID        = "SmsSid" // the older name, still sent
	KeyMessageStatus = "MessageStatus"
	KeySMSStatus     = "SmsStatus"
	KeyErrorCode     = "ErrorCode"
	KeyFrom          = "From"
	KeyTo            = "To"
	KeyBody          = "Body"
)

// trimmedKeys are the fields a trimmed record keeps: those processing
// reads, and From and To, by which an erasure finds the record.
var trimmedKeys = []string{KeyMessageSID, KeySMSSID, KeyMessageStatus, KeySMSStatus, KeyErrorCode, KeyFrom, KeyTo, KeyBody}

// MaxTrimmedValue is the most bytes a trimmed record keeps of a value:
// far under Firestore's 1,500 bytes of an indexed value, and more than
// any keyword or id needs.
const MaxTrimmedValue = 1024

// StoreTrimmed stores *e with store; when the store refuses it whole as
// Invalid, refused is told (its error names fields, never their values:
// no number or body, so it may be logged) and Trimmed(*e) is stored
// instead, *e becoming it: what is handed on or applied if that fails too.
func StoreTrimmed(e *webhook.Event, store func(webhook.Event) (webhook.Event, bool, error), refused func(error)) (webhook.Event, bool, error) {
	stored, created, err := store(*e)
	if !errs.Is(err, errs.Invalid) {
		return stored, created, err
	}
	refused(err)
	*e = Trimmed(*e)
	return store(*e)
}

// Trimmed is e as it is stored when the store refused the whole
// callback as Invalid (a value too long, a document too large, invalid
// UTF-8): only the fields processing needs, each cut to MaxTrimmedValue
// bytes with invalid UTF-8 replaced, marked Trimmed. Its STOP, a short
// keyword, reads as it did.
func Trimmed(e webhook.Event) webhook.Event {
	params := make(map[string]string, len(trimmedKeys))
	for _, k := range trimmedKeys {
		if v, ok := e.Params[k]; ok {
			params[k] = trim(v)
		}
	}
	e.Params, e.Trimmed = params, true
	e.MessageSID, e.MessageID, e.Status = trim(e.MessageSID), trim(e.MessageID), trim(e.Status)
	return e
}

// trim is s as valid UTF-8 of at most MaxTrimmedValue bytes, cut at a
// character's start.
func trim(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxTrimmedValue {
		return s
	}
	n := MaxTrimmedValue
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Inbound reads a stored inbound callback.
func Inbound(e webhook.Event) inbound.Message {
	return inbound.Message{ProviderSID: e.MessageSID, From: e.Params[KeyFrom], Body: e.Params[KeyBody], ReceivedAt: e.ReceivedAt, StopApplied: e.StopApplied}
}

// Status reads a stored status callback. Events stored before the
// Webhooks function kept Status beside Params are read from Params.
func Status(e webhook.Event) deliverystatus.Callback {
	word := e.Status
	if word == "" {
		word = e.Params[KeyMessageStatus]
	}
	return deliverystatus.Callback{ProviderSID: e.MessageSID, MessageID: e.MessageID, Attempt: e.Attempt, Update: Update(word, e.Params[KeyErrorCode], e.ReceivedAt)}
}

// Update reads a Twilio MessageStatus word. The words that say nothing a
// message records (accepted, queued, sending, scheduled, ...) read as
// Queued, which deliverystatus ignores. A failure without an error code
// is recorded with the word itself, so a report still says which.
func Update(status, errorCode string, at time.Time) message.ProviderUpdate {
	u := message.ProviderUpdate{At: at, ErrorCode: errorCode, Status: message.Queued}
	switch w := strings.ToLower(status); w {
	case "sent":
		u.Status = message.Sent
	case "delivered":
		u.Status = message.Delivered
	case "read":
		u.Status = message.Read
	case "failed", "undelivered", "canceled":
		u.Status = message.Failed
		if u.ErrorCode == "" {
			u.ErrorCode = w
		}
	}
	if u.Status != message.Failed {
		u.ErrorCode = ""
	} else {
		u.Class = FailureClass(u.ErrorCode)
	}
	return u
}

// Twilio's codes of failures reported in a status callback that ask for
// more than concluding the message.
const (
	codeRateLimited = "63018" // the sender's rate or the business portfolio's limit
	codeDeclined    = "63049" // Meta declined a marketing message to this person
)

// FailureClass maps the ErrorCode of a failed or undelivered status
// callback to what it asks of us. Every other code (63016 outside the
// window, 63024 not a WhatsApp user, 63032 a paused template, ...) only
// concludes the message. The codes of a marketing opt-out are the
// deployment's (MARKETING_OPT_OUT_CODES), applied by
// deliverystatus.Applier.
func FailureClass(code string) message.FailureClass {
	switch code {
	case codeDeclined:
		return message.FailureDeclined
	case codeRateLimited:
		return message.FailureRateLimited
	}
	return message.FailureUndeliverable
}
