// Package channelpolicy is WhatsApp's rule on who may start a
// conversation, the last step of compliance: a business may write free
// text to a person only within Window of that person's last message to
// it; outside that window only a template Meta approved (sent by its
// Twilio content SID) is delivered. Twilio accepts free text outside the
// window and reports it failed later (error 63016), so the rule is applied
// before sending, never learned from failures.
package channelpolicy

import "time"

// Window is how long after a person's last message a business may answer
// in free text (WhatsApp's customer service window).
const Window = 24 * time.Hour

// Channel is how a message goes to WhatsApp.
type Channel string

const (
	// Template: an approved template, by content SID; allowed at any time.
	Template Channel = "template"
	// Session: free text inside the person's window.
	Session Channel = "session"
)

// Decide says how a message may go at: as its approved template when it
// has one (what was approved is what is sent, inside the window or not);
// as free text when the person wrote within Window before at; and not at
// all (ok false) otherwise. lastInbound is nil for a person who never
// wrote.
func Decide(hasContentSID bool, lastInbound *time.Time, at time.Time) (c Channel, ok bool) {
	if hasContentSID {
		return Template, true
	}
	if Open(lastInbound, at) {
		return Session, true
	}
	return "", false
}

// Open reports whether the person's window is open at: it closes Window
// after their last message.
func Open(lastInbound *time.Time, at time.Time) bool {
	return lastInbound != nil && at.Before(lastInbound.Add(Window))
}
