// Package compliance decides, for one recipient of a campaign, whether a
// message may be queued now, must wait for the end of their quiet hours, or
// must not be sent at all. It runs the six steps: consent (and the
// suppression list); duplicates (one message per campaign and person, by
// the message's id: see campaignrun); content; quiet hours; the frequency
// cap, judged for a message going now (a deferred one is left to the
// Sender's claim); and the channel policy, judged at the time the message
// will go. The first step to refuse decides.
package compliance

import (
	"sync"
	"time"

	// Quiet hours are only as right as the zone database: embed it, so an
	// image without /usr/share/zoneinfo cannot silently fall back to UTC.
	_ "time/tzdata"

	"github.com/eventstreamengine/ese/shared/channelpolicy"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/content"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/quiethours"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

// Input is what the checks look at for one recipient.
type Input struct {
	User   user.User // the zero User when the person no longer exists
	Exists bool
	// Suppressed: the number is on the global do-not-message list,
	// which outranks any consent.
	Suppressed bool
	// FrequencyCap is the most messages a person gets in any
	// FrequencyWindow across campaigns (0: no cap); RecentSends, how many
	// their send ledger holds in the window before Now.
	FrequencyCap int
	RecentSends  int
	Quiet        quiethours.Window
	// Template is the campaign's template, compiled once for all its
	// recipients (required).
	Template *template.Compiled
	// Content are the operator's content rules (the zero Rules: only what
	// Twilio itself refuses).
	Content content.Rules
	Now     time.Time
}

// Action is what to do with the recipient's message.
type Action int

const (
	// The zero Action is no decision, so that a forgotten Decision never
	// reads as Send.
	_ Action = iota
	Send
	Skip
	Defer
)

func (a Action) String() string {
	switch a {
	case Send:
		return "send"
	case Skip:
		return "skip"
	case Defer:
		return "defer"
	}
	return "undecided"
}

// Decision is the outcome of the checks.
type Decision struct {
	Action Action
	Reason message.SkipReason // when Skip
	Until  time.Time          // when Defer: the end of the quiet window, in Zone
	Body   string             // when Send or Defer: the rendered content
	// ContentSID and ContentVariables, when Send or Defer from a template
	// approved at Twilio, are what is sent instead of Body.
	ContentSID       string
	ContentVariables map[string]string
	Zone             string // when Send or Defer: the IANA zone quiet hours were judged in
	// Channel, when Send or Defer, is how it goes to WhatsApp: its
	// approved template, or free text inside the person's window.
	Channel channelpolicy.Channel
}

// Step names one of the six steps, as the dry run and the campaign's
// summary count them.
type Step string

const (
	StepConsent       Step = "consent"
	StepDuplicate     Step = "duplicate"
	StepQuietHours    Step = "quiet_hours"
	StepFrequencyCap  Step = "frequency_cap"
	StepContent       Step = "content"
	StepChannelPolicy Step = "channel_policy"
)

// Blocking lists the steps that can refuse a message, in the order they
// run (quiet hours only defers).
var Blocking = []Step{StepConsent, StepDuplicate, StepFrequencyCap, StepContent, StepChannelPolicy}

// StepOf is the step that skips a message for reason; "" for a reason no
// step gives (a cancelled campaign, a number the import refused).
func StepOf(reason message.SkipReason) Step {
	switch reason {
	case message.SkipNoConsent, message.SkipSuppressed, message.SkipUnknownUser, message.SkipConsentAtSend,
		message.SkipMarketingOptOut:
		return StepConsent
	case message.SkipMissingVars, message.SkipContentEmpty, message.SkipContentTooLong,
		message.SkipContentBlocked, message.SkipOptOutMissing:
		return StepContent
	case message.SkipChannelPolicy:
		return StepChannelPolicy
	case message.SkipFrequencyCap:
		return StepFrequencyCap
	}
	return ""
}

// Deferring lists the steps that can defer a message: quiet hours alone.
var Deferring = []Step{StepQuietHours}

// DeferredBy counts the messages ever deferred by the step that first
// deferred them (message.DeferredBy), every deferring step named, with 0
// when it deferred no one.
func DeferredBy(deferred map[message.DeferReason]int) map[string]int {
	out := make(map[string]int, len(Deferring))
	for _, st := range Deferring {
		out[string(st)] = 0
	}
	for r, n := range deferred {
		if r == message.DeferQuietHours {
			out[string(StepQuietHours)] += n
		}
	}
	return out
}

// BlockedBy counts skips by the step that gave them: every blocking step
// is named, with 0 when it refused no one.
func BlockedBy(skipped map[message.SkipReason]int) map[string]int {
	out := make(map[string]int, len(Blocking))
	for _, st := range Blocking {
		out[string(st)] = 0
	}
	for reason, n := range skipped {
		if st := StepOf(reason); st != "" {
			out[string(st)] += n
		}
	}
	return out
}

// A step is one check. It returns true when it has decided to skip;
// otherwise it may add to d (the body, the zone, a deferral) and the next
// step runs.
type step func(in *Input, d *Decision) bool

// steps run in order and the first to skip wins. Quiet hours come before
// the frequency cap and the channel policy, which judge a deferred message
// at the time it will go.
var steps = []step{
	knownUser,
	consented,
	rendered,
	quietHours,
	frequencyCapped,
	channel,
}

// Check runs the steps: an unknown user, one without OPT_IN consent or on
// the suppression list is skipped, and one at the frequency cap; so is a
// message whose content fails
// the content rules (a placeholder or content variable left unfilled and
// without a default, empty, too long, a blocked pattern, no opt-out
// wording), or that is free text for a person outside their WhatsApp
// window at the time it would go; a person inside their quiet hours is
// deferred to the window's end; everyone else is sent to.
func Check(in Input) Decision {
	d := Decision{Action: Send}
	for _, s := range steps {
		if s(&in, &d) {
			break
		}
	}
	if d.Action == Skip {
		d.Body, d.ContentSID, d.ContentVariables, d.Zone, d.Channel, d.Until = "", "", nil, "", "", time.Time{}
	}
	return d
}

func knownUser(in *Input, d *Decision) bool {
	if in.Exists {
		return false
	}
	d.Action, d.Reason = Skip, message.SkipUnknownUser
	return true
}

func consented(in *Input, d *Decision) bool {
	if in.Suppressed {
		d.Action, d.Reason = Skip, message.SkipSuppressed
		return true
	}
	if in.User.Consent != consent.OptIn {
		d.Action, d.Reason = Skip, message.SkipNoConsent
		return true
	}
	return false
}

// FrequencyWindow is the rolling window FREQUENCY_CAP_PER_24H counts in.
const FrequencyWindow = 24 * time.Hour

// OverCap reports whether a person with recent sends in the window has
// reached limit (0: no cap), so that one more would pass it.
func OverCap(limit, recent int) bool { return limit > 0 && recent >= limit }

// frequencyCapped is the fan-out's early look at the cap; the Sender's
// claim enforces it exactly (sending.Sender.FrequencyCap). RecentSends
// counts the 24 hours before now: a message deferred to later may find
// some of them aged out by then, so only the claim judges it.
func frequencyCapped(in *Input, d *Decision) bool {
	if d.Action == Defer || !OverCap(in.FrequencyCap, in.RecentSends) {
		return false
	}
	d.Action, d.Reason = Skip, message.SkipFrequencyCap
	return true
}

// rendered renders the template in the person's language with their
// attributes and phone_number (which no attribute overrides), and applies
// the content rules to what it made.
func rendered(in *Input, d *Decision) bool {
	r := in.Template.Render(in.User.Language(), in.User.Value)
	if p := in.Content.Check(content.Message{Body: r.Body, Missing: r.Missing, Utility: in.Template.Utility()}); p != "" {
		d.Action, d.Reason = Skip, message.SkipReason(p)
		return true
	}
	d.Body, d.ContentSID, d.ContentVariables = r.Body, r.ContentSID, r.ContentVariables
	return false
}

func quietHours(in *Input, d *Decision) bool {
	name, loc := Zone(in.User)
	d.Zone = name
	if quiet, until := in.Quiet.Quiet(in.Now, loc); quiet {
		d.Action, d.Until = Defer, until
	}
	return false
}

// channel applies WhatsApp's window at the time the message will go: now,
// or the end of the person's quiet hours.
func channel(in *Input, d *Decision) bool {
	at := in.Now
	if d.Action == Defer {
		at = d.Until
	}
	c, ok := channelpolicy.Decide(d.ContentSID != "", in.User.LastInboundAt, at)
	if !ok {
		d.Action, d.Reason = Skip, message.SkipChannelPolicy
		return true
	}
	d.Channel = c
	// WhatsApp's own "stop marketing messages" stops marketing templates
	// only (any but a utility one, as the content rules read the
	// category): free text inside the person's window still goes.
	if c == channelpolicy.Template && in.User.MarketingOptOut != nil && !in.Template.Utility() {
		d.Action, d.Reason = Skip, message.SkipMarketingOptOut
		return true
	}
	return false
}

// Zone returns the zone a person's quiet hours are judged in: their
// timezone attribute when it names an IANA zone, else the zone of their
// number (phone.Timezone), else UTC.
func Zone(u user.User) (string, *time.Location) {
	if name := u.Timezone(); name != "" {
		if loc, ok := location(name); ok {
			return name, loc
		}
	}
	name := phone.Timezone(u.Phone)
	if loc, ok := location(name); ok {
		return name, loc
	}
	return "UTC", time.UTC
}

// zones caches loaded locations: LoadLocation parses zone data on every
// call, and a campaign asks for the same few zones many times. Only valid
// names are cached, so arbitrary attribute values cannot grow it.
var zones sync.Map // string → *time.Location

func location(name string) (*time.Location, bool) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), true
	}
	// "" and "Local" are valid to LoadLocation but name no zone of the
	// person's: they mean the server's.
	if name == "" || name == "Local" {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zones.Store(name, loc)
	return loc, true
}
