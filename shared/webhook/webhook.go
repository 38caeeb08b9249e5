// Package webhook is a Twilio callback as we store it: once per MessageSid
// (and, for status callbacks, per status), so that a replay changes nothing.
package webhook

import (
	"strings"
	"time"
)

// Kind is which webhook it came to.
type Kind string

const (
	Inbound Kind = "inbound"
	Status  Kind = "status"
)

// Event is one stored callback. Params holds the form as Twilio sent it.
type Event struct {
	ID         string `json:"id"`
	Kind       Kind   `json:"kind"`
	MessageSID string `json:"message_sid"`
	// MessageID is our message, named in the status callback URL we gave
	// Twilio, so a status needs no lookup by sid (and may arrive before
	// the sender has recorded the sid).
	MessageID string `json:"message_id,omitempty"`
	// Attempt is the claim generation (message.Message.Attempts) the send
	// was made by, named in the callback URL beside MessageID.
	Attempt    int               `json:"attempt,omitempty"`
	Status     string            `json:"status,omitempty"` // MessageStatus, for status callbacks
	Params     map[string]string `json:"params"`
	ReceivedAt time.Time         `json:"received_at"`
	Published  bool              `json:"published"`
	// Unstored marks an event handed on without its record: the store
	// refused it, so its consumer stores it (for the audit trail) before
	// applying it. Never stored.
	Unstored bool `json:"unstored,omitempty"`
	// StopApplied: the STOP this inbound callback carries was applied in
	// the transaction that stored it (inbound.Record), so its consumer
	// applies it no more: not again after the person was erased, say.
	// Set when stored, never changed.
	StopApplied bool `json:"stop_applied,omitempty"`
	// Erased: its sender was erased after sending it, so it was stored
	// without its form (Params), which named them. Set when stored.
	Erased bool `json:"erased,omitempty"`
	// Trimmed: the store refused the whole form, so only the fields
	// processing needs were stored, long values cut and invalid UTF-8
	// replaced. Set when stored.
	Trimmed bool `json:"trimmed,omitempty"`
}

// EventID names the stored event: one per inbound MessageSid, one per
// (MessageSid, status) for status callbacks.
func EventID(kind Kind, sid, status string) string {
	if kind == Status {
		return string(kind) + "-" + sid + "-" + strings.ToLower(status)
	}
	return string(kind) + "-" + sid
}
