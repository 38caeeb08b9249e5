// Package user is a person a business may message: their number, their
// consent and the attributes segments and templates read.
package user

import (
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
)

// User is one contact. Phone is E.164 and is the identity.
type User struct {
	Phone      string         `json:"phone_number"`
	Consent    consent.State  `json:"consent_state"`
	Attributes map[string]any `json:"attributes"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	// KeywordAt is when the person's latest STOP or START was received:
	// an older one, processed later, changes nothing.
	KeywordAt *time.Time `json:"last_keyword_at,omitempty"`
	// LastInboundAt is when the person's latest message to us was
	// received: their 24-hour window for free text runs from it, and
	// segments read it.
	LastInboundAt *time.Time `json:"last_inbound_at,omitempty"`
	// MarketingOptOut is set when WhatsApp reported that the person
	// stopped this business's marketing messages (in WhatsApp itself, not
	// by a keyword): they get no marketing template, still utility ones.
	// Only the person, in WhatsApp, lifts it; no API call does.
	MarketingOptOut *MarketingOptOut `json:"marketing_opt_out,omitempty"`
}

// MarketingOptOut is when and how the person's choice to stop marketing
// messages reached us.
type MarketingOptOut struct {
	At time.Time `json:"at"`
	// Source is how it was reported: SourceProviderFailure.
	Source string `json:"source"`
	// Ref is what reported it: the provider's message id.
	Ref string `json:"ref,omitempty"`
}

// SourceProviderFailure: a marketing message to the person failed with
// the provider's "stopped marketing messages" error (MARKETING_OPT_OUT_CODES,
// WhatsApp's 131050).
const SourceProviderFailure = "provider_failure"

// SourceKeptFromErasure: the person was erased after stopping marketing
// messages and came back; the opt-out was kept (shared/erasure), its
// date is when they came back.
const SourceKeptFromErasure = "kept_from_erasure"

// Timezone returns the IANA zone the person set, if any.
func (u User) Timezone() string {
	if tz, ok := u.Attributes["timezone"].(string); ok {
		return tz
	}
	return ""
}

// Language returns the language code the person set (their language
// attribute), if any: it chooses a template's locale.
func (u User) Language() string {
	if l, ok := u.Attributes["language"].(string); ok {
		return l
	}
	return ""
}

// Value returns the person's value for a name a template uses: their
// phone_number (which no attribute overrides), else the attribute of that
// name; nil when they have none.
func (u *User) Value(name string) any {
	if name == "phone_number" {
		return u.Phone
	}
	return u.Attributes[name]
}
