// Package consent holds a person's messaging consent and the rules that
// move it: who may raise or lower it, and which inbound words do.
package consent

import (
	"strings"
	"time"
	"unicode"
)

// State is whether a person may be messaged.
type State string

const (
	// OptIn: the person may be messaged.
	OptIn State = "OPT_IN"
	// Stop: the person sent an opt-out word; only their own START lifts it.
	Stop State = "STOP"
	// OptOut: an admin or an import opted the person out.
	OptOut State = "OPT_OUT"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s == OptIn || s == Stop || s == OptOut }

// Source says who or what changed a person's consent.
type Source string

const (
	SourceAPI     Source = "api"     // created through the API
	SourceAdmin   Source = "admin"   // PUT /users/{phone}/consent
	SourceImport  Source = "import"  // a bulk import
	SourceInbound Source = "inbound" // the person's own keyword
	// SourceProvider: the provider refused a send because the person
	// unsubscribed with it (Ref: our message id).
	SourceProvider Source = "provider"
)

// Change is one entry of a person's consent history.
type Change struct {
	Phone  string    `json:"phone_number"`
	From   State     `json:"from,omitempty"` // empty for a new person
	To     State     `json:"to"`
	Source Source    `json:"source"`
	Ref    string    `json:"ref,omitempty"` // job id, MessageSid, admin note
	At     time.Time `json:"at"`
}

// Imported decides the state a re-import leaves: an import may lower
// consent, or set it for a new person, but never raises STOP or OPT_OUT
// back to OPT_IN, and never touches a person's own STOP (which an admin
// could otherwise lift once an import had turned it into OPT_OUT).
func Imported(current, requested State, exists bool) State {
	if !exists {
		if requested == "" {
			return OptIn
		}
		return requested
	}
	if requested == "" || current == Stop || (requested == OptIn && current != OptIn) {
		return current
	}
	return requested
}

// AdminMay reports whether an admin may move consent from one state to
// another: OPT_IN and OPT_OUT only, and never away from the person's own
// STOP, which only their START lifts.
func AdminMay(from, to State) bool {
	return from != Stop && (to == OptIn || to == OptOut)
}

// Keyword is a person's own opt-out or opt-in word, as received.
type Keyword struct {
	Phone  string
	Intent Intent // IntentOptOut or IntentOptIn
	Ref    string // the MessageSid that carried it
	At     time.Time
}

// Intent is what an inbound message asks for.
type Intent string

const (
	IntentNone   Intent = ""
	IntentOptOut Intent = "STOP"
	IntentOptIn  Intent = "START"
	IntentHelp   Intent = "HELP"
)

// Twilio's default opt-out, opt-in and help keywords.
var keywords = map[string]Intent{
	"STOP": IntentOptOut, "STOPALL": IntentOptOut, "UNSUBSCRIBE": IntentOptOut,
	"CANCEL": IntentOptOut, "END": IntentOptOut, "QUIT": IntentOptOut,
	"OPTOUT": IntentOptOut, "REVOKE": IntentOptOut,
	"START": IntentOptIn, "YES": IntentOptIn, "UNSTOP": IntentOptIn, "OPTIN": IntentOptIn,
	"HELP": IntentHelp, "INFO": IntentHelp,
}

// Classify reads an inbound body: a keyword counts only as the whole
// message (one word, any case, surrounding space and punctuation ignored).
// Space and punctuation are Unicode's, so that a phone keyboard's no-break
// space or ellipsis never hides an opt-out.
func Classify(body string) Intent {
	w := strings.TrimFunc(body, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 {
		return IntentNone
	}
	return keywords[strings.ToUpper(w)]
}

// AfterIntent returns the state an inbound intent moves current to, and
// whether it changes. The person's STOP replaces an admin's or import's
// OPT_OUT too (so that no admin can lift it); their START lifts STOP only.
func AfterIntent(current State, in Intent) (State, bool) {
	switch in {
	case IntentOptOut:
		if current != Stop {
			return Stop, true
		}
	case IntentOptIn:
		if current == Stop {
			return OptIn, true
		}
	}
	return current, false
}
