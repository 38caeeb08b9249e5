// Package twilioform reads Twilio's callback forms, as the Webhooks
// function stores them (webhook.Event, whose Params keep the form as
// Twilio sent it), into the typed events the domain packages handle:
// inbound.Message and deliverystatus.Callback. Twilio's keys and status
// words stop here.
package twilioform

import (
	"strings"
	"time"

	"github.com/eventstreamengine/ese/shared/deliverystatus"
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
	KeyBody          = "Body"
)

// Inbound reads a stored inbound callback.
func Inbound(e webhook.Event) inbound.Message {
	return inbound.Message{ProviderSID: e.MessageSID, From: e.Params[KeyFrom], Body: e.Params[KeyBody], ReceivedAt: e.ReceivedAt}
}

// Status reads a stored status callback. Events stored before the
// Webhooks function kept Status beside Params are read from Params.
func Status(e webhook.Event) deliverystatus.Callback {
	word := e.Status
	if word == "" {
		word = e.Params[KeyMessageStatus]
	}
	return deliverystatus.Callback{ProviderSID: e.MessageSID, MessageID: e.MessageID, Update: Update(word, e.Params[KeyErrorCode], e.ReceivedAt)}
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
	}
	return u
}
