// Package compliance decides, for one recipient of a campaign, whether a
// message may be queued now, must wait for the end of their quiet hours, or
// must not be sent at all.
package compliance

import (
	"sync"
	"time"

	// Quiet hours are only as right as the zone database: embed it, so an
	// image without /usr/share/zoneinfo cannot silently fall back to UTC.
	_ "time/tzdata"

	"github.com/eventstreamengine/ese/shared/consent"
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
	Now      time.Time
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
}

// A step is one check. It returns true when it has decided; otherwise it
// may add to d (the body, the zone) and the next step runs.
type step func(in *Input, d *Decision) bool

// steps run in order and the first to decide wins. The checks still to
// come (rate limit, content rules, frequency cap, dry run) slot in here,
// with what they need added to Input.
var steps = []step{
	knownUser,
	consented,
	frequencyCapped,
	rendered,
	quietHours,
}

// Check runs the checks: an unknown user or one without OPT_IN consent is
// skipped; a template with a placeholder or content variable that the
// person's attributes (plus phone_number) cannot fill and that has no
// default is skipped; a person inside their quiet hours is deferred to the
// window's end; everyone else is sent to.
func Check(in Input) Decision {
	d := Decision{Action: Send}
	for _, s := range steps {
		if s(&in, &d) {
			break
		}
	}
	if d.Action == Skip {
		d.Body, d.ContentSID, d.ContentVariables, d.Zone = "", "", nil, ""
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
	if in.User.Consent == consent.OptIn {
		return false
	}
	d.Action, d.Reason = Skip, message.SkipNoConsent
	return true
}

// FrequencyWindow is the rolling window FREQUENCY_CAP_PER_24H counts in.
const FrequencyWindow = 24 * time.Hour

// OverCap reports whether a person with recent sends in the window has
// reached limit (0: no cap), so that one more would pass it.
func OverCap(limit, recent int) bool { return limit > 0 && recent >= limit }

// frequencyCapped is the fan-out's early look at the cap; the Sender's
// claim enforces it exactly (sending.Sender.FrequencyCap).
func frequencyCapped(in *Input, d *Decision) bool {
	if !OverCap(in.FrequencyCap, in.RecentSends) {
		return false
	}
	d.Action, d.Reason = Skip, message.SkipFrequencyCap
	return true
}

// rendered renders the template in the person's language with their
// attributes and phone_number (which no attribute overrides).
func rendered(in *Input, d *Decision) bool {
	r := in.Template.Render(in.User.Language(), in.User.Value)
	if len(r.Missing) > 0 {
		d.Action, d.Reason = Skip, message.SkipMissingVars
		return true
	}
	d.Body, d.ContentSID, d.ContentVariables = r.Body, r.ContentSID, r.ContentVariables
	return false
}

func quietHours(in *Input, d *Decision) bool {
	name, loc := Zone(in.User)
	d.Zone = name
	quiet, until := in.Quiet.Quiet(in.Now, loc)
	if !quiet {
		return false
	}
	d.Action, d.Until = Defer, until
	return true
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
