// Package sms is the port to the WhatsApp provider (Twilio): send one
// message, and find what was sent to a number, for reconciliation.
package sms

import (
	"context"
	"time"
)

// Request is one message to send: Body, or an approved template.
type Request struct {
	To   string // E.164; the provider adds the whatsapp: channel
	Body string
	// ContentSID, when set, sends the provider's approved template with
	// ContentVariables (its numbered variables) instead of Body.
	ContentSID       string
	ContentVariables map[string]string
	StatusCallback   string // where the provider posts delivery statuses
}

// Result is what the provider said about an accepted send.
type Result struct {
	SID    string
	Status string // the provider's own status word (queued, sent, ...)
}

// Sent is a message the provider holds.
type Sent struct {
	SID         string
	To          string // E.164
	From        string // the sender the provider used (for a Messaging Service, the number it picked)
	Service     string // the Messaging Service it went through, if any
	Body        string // for an approved template, its text as the provider rendered it
	Status      string
	ErrorCode   string
	DateCreated time.Time
}

// Provider sends messages. Errors carry errs kinds: Permanent for a
// rejection that a retry cannot fix (with the provider's code in a
// *ProviderError), Transient for one that might pass later.
type Provider interface {
	Send(ctx context.Context, r Request) (Result, error)
	// SentTo lists messages sent to phone created at or after since, from
	// this provider's own sender (its number, or its Messaging Service):
	// what another sender of the account sent is never evidence of ours.
	SentTo(ctx context.Context, phone string, since time.Time) ([]Sent, error)
	// Ready reports whether the provider answers with our credentials.
	Ready(ctx context.Context) error
}

// ErrorClass says what a provider's refusal asks of the sender, whatever
// the provider's own codes: the adapter maps its codes to a class.
type ErrorClass string

const (
	// Retry: the send may pass later (throttled, queue full, the
	// provider's own trouble); tried again with backoff.
	Retry ErrorClass = "retry"
	// Reject: this message can never go (an invalid or non-mobile
	// number); the message fails.
	Reject ErrorClass = "reject"
	// Unsubscribed: the person unsubscribed at the provider; the message
	// fails and the person is set to STOP.
	Unsubscribed ErrorClass = "unsubscribed"
	// Misconfigured: our account or sender is wrong (credentials, a
	// missing resource), so every message would fail alike; the campaign
	// pauses with the reason instead.
	Misconfigured ErrorClass = "misconfigured"
)

// ProviderError is a rejection with the provider's error code.
type ProviderError struct {
	Code    string
	Message string
	Status  int // HTTP status of the provider's answer
	Class   ErrorClass
	// NotCreated says the provider certainly made no message of the
	// request (throttled, or the sender's queue full), so the caller may
	// release its claim and send again without asking what was sent.
	NotCreated bool
}

func (e *ProviderError) Error() string { return "provider error " + e.Code + ": " + e.Message }
