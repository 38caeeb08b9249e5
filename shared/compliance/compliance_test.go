package compliance

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/channelpolicy"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/content"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/quiethours"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
)

const welcome = "Hi {name}! Welcome from {city}. Thanks for joining our service! Reply STOP to opt out."

// approved is a template sent as Twilio's approved content, with a
// Sinhala variant.
const (
	welcomeSID   = "HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	welcomeSISID = "HXbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var approved = template.Compile(template.Template{
	Content: "Hi {name}! Welcome from {city}.", ContentSID: welcomeSID,
	ContentVariables: map[string]string{"1": "name", "2": "city"},
	Locales:          map[string]template.Locale{"si": {Content: "ආයුබෝවන් {name}!", ContentSID: welcomeSISID}},
})

// text compiles a template of content alone.
func text(content string) *template.Compiled {
	return template.Compile(template.Template{Content: content})
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustWindow(t testing.TB, start, end string) quiethours.Window {
	t.Helper()
	w, err := quiethours.Parse(start, end)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCheck(t *testing.T) {
	t.Parallel()

	colombo := mustZone(t, "Asia/Colombo")
	newYork := mustZone(t, "America/New_York")
	night := mustWindow(t, "22:00", "08:00")
	early := mustWindow(t, "01:00", "03:00")

	// Arjuna is the seed's Colombo user; Frank has no timezone attribute.
	arjuna := user.User{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{
		"name": "Arjuna Silva", "city": "Colombo", "timezone": "Asia/Colombo",
	}}
	frank := user.User{Phone: "+94771234576", Consent: consent.OptIn, Attributes: map[string]any{
		"name": "Frank Miller", "city": "Matara", "age": int64(40),
	}}
	withAttrs := func(u user.User, kv ...any) user.User {
		attrs := make(map[string]any, len(u.Attributes)+len(kv)/2)
		for k, v := range u.Attributes {
			attrs[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			attrs[kv[i].(string)] = kv[i+1]
		}
		u.Attributes = attrs
		return u
	}
	withConsent := func(u user.User, s consent.State) user.User { u.Consent = s; return u }
	wrote := func(u user.User, at time.Time) user.User { u.LastInboundAt = &at; return u }
	rules, err := content.ParseRules(`["bit\\.ly/"]`, "reply stop")
	if err != nil {
		t.Fatal(err)
	}
	arjunaBody := "Hi Arjuna Silva! Welcome from Colombo. Thanks for joining our service! Reply STOP to opt out."
	frankBody := "Hi Frank Miller! Welcome from Matara. Thanks for joining our service! Reply STOP to opt out."
	nyUser := withAttrs(arjuna, "timezone", "America/New_York")

	// Unless a case says otherwise (noWindow), the person wrote an hour
	// before Now, so free text may go; what is sent, and so the channel,
	// follows from the template.
	cases := []struct {
		name     string
		in       Input
		noWindow bool
		want     Decision
	}{
		{
			name: "unknown_user",
			in:   Input{Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipUnknownUser},
		},
		{
			name: "unknown_user_even_with_a_stale_copy",
			in:   Input{User: arjuna, Exists: false, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipUnknownUser},
		},
		{
			name: "stop",
			in:   Input{User: withConsent(arjuna, consent.Stop), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipNoConsent},
		},
		{
			name: "opt_out",
			in:   Input{User: withConsent(arjuna, consent.OptOut), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipNoConsent},
		},
		{
			name: "suppressed_outranks_opt_in",
			in:   Input{User: arjuna, Exists: true, Suppressed: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipSuppressed},
		},
		{
			name: "no_consent_recorded",
			in:   Input{User: withConsent(arjuna, ""), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipNoConsent},
		},
		{
			name: "consent_checked_before_content",
			in:   Input{User: withConsent(arjuna, consent.Stop), Exists: true, Template: text("{missing}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipNoConsent},
		},
		{
			name: "unresolved_placeholder",
			in:   Input{User: arjuna, Exists: true, Template: text("Hi {name}, your code is {code}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipMissingVars},
		},
		{
			name: "unresolved_placeholder_skipped_even_in_quiet_hours",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text("{code}"), Now: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipMissingVars},
		},
		{
			name: "send_no_quiet_hours",
			in:   Input{User: arjuna, Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "phone_number_and_numbers_render",
			in:   Input{User: frank, Exists: true, Template: text("{phone_number} is {age}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: "+94771234576 is 40", Zone: "Asia/Colombo"},
		},
		{
			name: "phone_number_is_the_users_own",
			in:   Input{User: withAttrs(frank, "phone_number", "+10000000000"), Exists: true, Template: text("{phone_number}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: "+94771234576", Zone: "Asia/Colombo"},
		},
		{
			name: "colombo_daytime_sends",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "colombo_late_evening_defers_to_next_morning",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 23, 30, 0, 0, colombo)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "colombo_after_midnight_defers_to_same_morning",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 11, 1, 15, 0, 0, colombo)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "colombo_window_start_is_quiet",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 22, 0, 0, 0, colombo)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "colombo_window_end_sends",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "judged_in_the_recipients_zone_not_the_servers",
			// 17:00 UTC is 22:30 in Colombo.
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "zone_from_number_without_attribute",
			in:   Input{User: frank, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: frankBody, Zone: "Asia/Colombo"},
		},
		{
			name: "invalid_timezone_attribute_falls_back_to_number",
			in:   Input{User: withAttrs(frank, "timezone", "Mars/Olympus_Mons"), Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: frankBody, Zone: "Asia/Colombo"},
		},
		{
			name: "local_timezone_attribute_falls_back_to_number",
			in:   Input{User: withAttrs(frank, "timezone", "Local"), Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: frankBody, Zone: "Asia/Colombo"},
		},
		{
			name: "non_string_timezone_attribute_falls_back_to_number",
			in:   Input{User: withAttrs(frank, "timezone", 530), Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: frankBody, Zone: "Asia/Colombo"},
		},
		{
			name: "timezone_attribute_overrides_number",
			// 17:00 UTC: quiet in Colombo, midday in New York.
			in:   Input{User: nyUser, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "America/New_York"},
		},
		{
			name: "dst_spring_forward_night_window",
			// 01:30 EST on 2026-03-08; the window ends at 08:00 EDT.
			in:   Input{User: nyUser, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), Body: arjunaBody, Zone: "America/New_York"},
		},
		{
			name: "dst_spring_forward_window_across_the_gap",
			// 01:30 EST; 03:00 EDT comes 30 minutes later, as 02:00-03:00 never happens.
			in:   Input{User: nyUser, Exists: true, Quiet: early, Template: text(welcome), Now: time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), Body: arjunaBody, Zone: "America/New_York"},
		},
		{
			name: "dst_spring_forward_after_the_gap",
			// 03:00 EDT is the window's end: send.
			in:   Input{User: nyUser, Exists: true, Quiet: early, Template: text(welcome), Now: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "America/New_York"},
		},
		{
			name: "dst_fall_back_night_window",
			// 23:00 EDT on 2026-10-31; 08:00 EST the next morning.
			in:   Input{User: nyUser, Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)},
			want: Decision{Action: Defer, Until: time.Date(2026, 11, 1, 8, 0, 0, 0, newYork), Body: arjunaBody, Zone: "America/New_York"},
		},
		{
			name: "default_fills_a_missing_attribute",
			in:   Input{User: frank, Exists: true, Template: text("Hi {name}, our {tier|valued} member"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: "Hi Frank Miller, our valued member", Zone: "Asia/Colombo"},
		},
		{
			name: "content_sid_sent_with_variables",
			in:   Input{User: arjuna, Exists: true, Template: approved, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{
				Action: Send, Body: "Hi Arjuna Silva! Welcome from Colombo.", Zone: "Asia/Colombo",
				ContentSID: welcomeSID, ContentVariables: map[string]string{"1": "Arjuna Silva", "2": "Colombo"},
			},
		},
		{
			name: "locale_by_language_attribute",
			in:   Input{User: withAttrs(arjuna, "language", "si"), Exists: true, Template: approved, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{
				Action: Send, Body: "ආයුබෝවන් Arjuna Silva!", Zone: "Asia/Colombo",
				ContentSID: welcomeSISID, ContentVariables: map[string]string{"1": "Arjuna Silva", "2": "Colombo"},
			},
		},
		{
			name: "unfilled_content_variable_is_skipped",
			in:   Input{User: withAttrs(frank, "city", nil), Exists: true, Template: approved, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipMissingVars},
		},
		{
			// Twilio would refuse the blank parameter (63028).
			name: "blank_content_variable_is_skipped",
			in:   Input{User: withAttrs(arjuna, "name", "  "), Exists: true, Template: approved, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipMissingVars},
		},
		{
			name: "content_sid_deferred_keeps_what_to_send",
			in:   Input{User: arjuna, Exists: true, Quiet: night, Template: approved, Now: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo)},
			want: Decision{
				Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: "Hi Arjuna Silva! Welcome from Colombo.", Zone: "Asia/Colombo",
				ContentSID: welcomeSID, ContentVariables: map[string]string{"1": "Arjuna Silva", "2": "Colombo"},
			},
		},
		{
			name: "unknown_number_zone_is_utc",
			in: Input{
				User:   user.User{Phone: "+80012345678", Consent: consent.OptIn},
				Exists: true, Quiet: night, Template: text("Hello"), Now: time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC),
			},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, time.UTC), Body: "Hello", Zone: "UTC"},
		},

		// Channel policy: free text only inside the person's window.
		{
			name:     "free_text_to_someone_who_never_wrote",
			in:       Input{User: arjuna, Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			noWindow: true,
			want:     Decision{Action: Skip, Reason: message.SkipChannelPolicy},
		},
		{
			name: "free_text_a_day_after_their_last_message",
			in:   Input{User: wrote(arjuna, time.Date(2026, 3, 9, 12, 0, 0, 0, colombo)), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipChannelPolicy},
		},
		{
			name: "free_text_a_minute_before_the_window_closes",
			in:   Input{User: wrote(arjuna, time.Date(2026, 3, 9, 12, 1, 0, 0, colombo)), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "Asia/Colombo", Channel: channelpolicy.Session},
		},
		{
			name: "template_to_someone_who_never_wrote",
			in:   Input{User: arjuna, Exists: true, Template: approved, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{
				Action: Send, Body: "Hi Arjuna Silva! Welcome from Colombo.", Zone: "Asia/Colombo", Channel: channelpolicy.Template,
				ContentSID: welcomeSID, ContentVariables: map[string]string{"1": "Arjuna Silva", "2": "Colombo"},
			},
			noWindow: true,
		},
		{
			name: "free_text_deferred_past_the_window_is_blocked",
			// Wrote at 07:00: the window is open at 23:00 but closes at
			// 07:00 the next day, before quiet hours end at 08:00.
			in:   Input{User: wrote(arjuna, time.Date(2026, 3, 10, 7, 0, 0, 0, colombo)), Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipChannelPolicy},
		},
		{
			name: "free_text_deferred_inside_the_window",
			in:   Input{User: wrote(arjuna, time.Date(2026, 3, 10, 21, 0, 0, 0, colombo)), Exists: true, Quiet: night, Template: text(welcome), Now: time.Date(2026, 3, 10, 23, 0, 0, 0, colombo)},
			want: Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: arjunaBody, Zone: "Asia/Colombo", Channel: channelpolicy.Session},
		},
		{
			name:     "content_checked_before_channel",
			in:       Input{User: arjuna, Exists: true, Template: text("{code}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			noWindow: true,
			want:     Decision{Action: Skip, Reason: message.SkipMissingVars},
		},

		// Content rules.
		{
			name: "blocked_pattern_in_a_value",
			in:   Input{User: withAttrs(arjuna, "city", "bit.ly/x"), Exists: true, Template: text(welcome), Content: rules, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipContentBlocked},
		},
		{
			name: "opt_out_wording_missing",
			in:   Input{User: arjuna, Exists: true, Template: text("Hi {name}"), Content: rules, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipOptOutMissing},
		},
		{
			name: "opt_out_wording_not_needed_for_utility",
			in:   Input{User: arjuna, Exists: true, Template: template.Compile(template.Template{Content: "Hi {name}", Category: template.Utility}), Content: rules, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: "Hi Arjuna Silva", Zone: "Asia/Colombo"},
		},
		{
			name: "rules_pass",
			in:   Input{User: arjuna, Exists: true, Template: text(welcome), Content: rules, Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Send, Body: arjunaBody, Zone: "Asia/Colombo"},
		},
		{
			name: "too_long_once_rendered",
			in:   Input{User: withAttrs(arjuna, "city", strings.Repeat("x", 1600)), Exists: true, Template: text(welcome), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipContentTooLong},
		},
		{
			name: "empty_once_rendered",
			in:   Input{User: withAttrs(arjuna, "name", " "), Exists: true, Template: text("{name}"), Now: time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)},
			want: Decision{Action: Skip, Reason: message.SkipContentEmpty},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !tc.noWindow && tc.in.User.LastInboundAt == nil {
				wrote := tc.in.Now.Add(-time.Hour)
				tc.in.User.LastInboundAt = &wrote
			}
			if tc.want.Action != Skip && tc.want.Channel == "" {
				tc.want.Channel = channelpolicy.Session
				if tc.want.ContentSID != "" {
					tc.want.Channel = channelpolicy.Template
				}
			}
			got := Check(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check (-want, +got):\n%s", diff)
			}
			if got.Action == Defer && !got.Until.After(tc.in.Now) {
				t.Errorf("deferred until %v, not after now %v", got.Until, tc.in.Now)
			}
		})
	}
}

func TestZone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		u    user.User
		want string
	}{
		{name: "attribute", u: user.User{Phone: "+94771234567", Attributes: map[string]any{"timezone": "Europe/London"}}, want: "Europe/London"},
		{name: "utc_attribute", u: user.User{Phone: "+94771234567", Attributes: map[string]any{"timezone": "UTC"}}, want: "UTC"},
		{name: "empty_attribute", u: user.User{Phone: "+94771234567", Attributes: map[string]any{"timezone": ""}}, want: "Asia/Colombo"},
		{name: "path_attribute", u: user.User{Phone: "+94771234567", Attributes: map[string]any{"timezone": "../../etc/passwd"}}, want: "Asia/Colombo"},
		{name: "number", u: user.User{Phone: "+12125551234"}, want: "America/New_York"},
		{name: "nothing", u: user.User{}, want: "UTC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, loc := Zone(tc.u)
			if got != tc.want || loc.String() != tc.want {
				t.Errorf("Zone = %q, %v; want %q", got, loc, tc.want)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	t.Parallel()
	got := []string{Action(0).String(), Send.String(), Skip.String(), Defer.String()}
	want := []string{"undecided", "send", "skip", "defer"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String (-want, +got):\n%s", diff)
	}
}

// TestStepOf: every reason a step gives is counted under that step, the
// content step's reasons under content.
func TestStepOf(t *testing.T) {
	t.Parallel()
	got := map[message.SkipReason]Step{}
	for _, r := range []message.SkipReason{
		message.SkipNoConsent, message.SkipSuppressed, message.SkipUnknownUser, message.SkipConsentAtSend,
		message.SkipReason(content.Unresolved), message.SkipReason(content.Empty), message.SkipReason(content.TooLong),
		message.SkipReason(content.Blocked), message.SkipReason(content.NoOptOut),
		message.SkipChannelPolicy, message.SkipFrequencyCap, message.SkipCancelled, message.SkipInvalidPhone,
		message.SkipMarketingOptOut,
	} {
		got[r] = StepOf(r)
	}
	want := map[message.SkipReason]Step{
		"no_consent": StepConsent, "suppressed": StepConsent, "unknown_user": StepConsent, "consent_revoked_before_send": StepConsent,
		"unresolved_placeholders": StepContent, "content_empty": StepContent, "content_too_long": StepContent,
		"content_blocked": StepContent, "opt_out_missing": StepContent,
		"channel_policy": StepChannelPolicy, "frequency_cap": StepFrequencyCap, "cancelled": "", "invalid_phone": "",
		"marketing_opt_out": StepConsent,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StepOf (-want, +got):\n%s", diff)
	}
}

func BenchmarkCheck(b *testing.B) {
	wrote := time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	in := Input{
		User: user.User{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{
			"name": "Arjuna Silva", "city": "Colombo", "timezone": "Asia/Colombo", "age": int64(30),
		}, LastInboundAt: &wrote},
		Exists:   true,
		Quiet:    mustWindow(b, "22:00", "08:00"),
		Template: text(welcome),
		Now:      time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
	}
	rules, err := content.ParseRules(`["(?i)free money", "bit\\.ly/"]`, "Reply STOP")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		rules content.Rules
	}{{"no_rules", content.Rules{}}, {"two_patterns_and_opt_out", rules}} {
		b.Run(bc.name, func(b *testing.B) {
			in := in
			in.Content = bc.rules
			b.ReportAllocs()
			for b.Loop() {
				if d := Check(in); d.Action != Send {
					b.Fatal(d)
				}
			}
		})
	}
}

// The frequency cap skips a person who already had FrequencyCap messages
// in the window, after consent (an opted-out person is no_consent
// whatever they were sent) and the content; one deferred is left to the
// claim.
func TestCheck_frequency_cap(t *testing.T) {
	t.Parallel()
	colombo := mustZone(t, "Asia/Colombo")
	night := mustWindow(t, "22:00", "08:00")
	noon := time.Date(2026, 3, 10, 12, 0, 0, 0, colombo)
	wrote := noon.Add(-time.Hour) // free text may go to them
	u := user.User{Phone: "+94771234567", Consent: consent.OptIn, Attributes: map[string]any{"name": "Arjuna", "timezone": "Asia/Colombo"}, LastInboundAt: &wrote}
	capped := Decision{Action: Skip, Reason: message.SkipFrequencyCap}
	sends := Decision{Action: Send, Body: "Hi Arjuna", Zone: "Asia/Colombo", Channel: channelpolicy.Session}
	for _, tc := range []struct {
		name        string
		cap, recent int
		in          func(Input) Input
		want        Decision
	}{
		{"no_cap_however_many_sends", 0, 50, nil, sends},
		{"under_the_cap", 3, 2, nil, sends},
		{"at_the_cap", 3, 3, nil, capped},
		{"past_the_cap", 1, 4, nil, capped},
		{"cap_of_one_first_send", 1, 0, nil, sends},
		{"consent_decides_first", 1, 1, func(in Input) Input { in.User.Consent = consent.Stop; return in }, Decision{Action: Skip, Reason: message.SkipNoConsent}},
		{"suppression_decides_first", 1, 1, func(in Input) Input { in.Suppressed = true; return in }, Decision{Action: Skip, Reason: message.SkipSuppressed}},
		{"content_judged_before_the_cap", 1, 1, func(in Input) Input { in.Template = text("{code}"); return in }, Decision{Action: Skip, Reason: message.SkipMissingVars}},
		// Deferred to the morning, by when an old send may have aged
		// out: the Sender's claim judges the cap then.
		{"deferred_is_left_to_the_claim", 1, 1, func(in Input) Input {
			in.Quiet, in.Now = night, noon.Add(11*time.Hour)
			wrote := in.Now.Add(-time.Hour)
			in.User.LastInboundAt = &wrote
			return in
		}, Decision{Action: Defer, Until: time.Date(2026, 3, 11, 8, 0, 0, 0, colombo), Body: "Hi Arjuna", Zone: "Asia/Colombo", Channel: channelpolicy.Session}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := Input{User: u, Exists: true, FrequencyCap: tc.cap, RecentSends: tc.recent, Template: text("Hi {name}"), Now: noon}
			if tc.in != nil {
				in = tc.in(in)
			}
			if diff := cmp.Diff(tc.want, Check(in)); diff != "" {
				t.Errorf("Check (-want, +got):\n%s", diff)
			}
		})
	}
}

// A person who stopped marketing messages in WhatsApp gets no marketing
// template (a template without a category counts as one, as the content
// rules read it) and still gets utility ones; consent is judged first.
func TestCheck_marketing_opt_out(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	wrote := now.Add(-time.Hour)
	out := &user.MarketingOptOut{At: now.Add(-24 * time.Hour), Source: user.SourceProviderFailure, Ref: "SM1"}
	person := func(c consent.State, o *user.MarketingOptOut) user.User {
		return user.User{Phone: "+94771234567", Consent: c, Attributes: map[string]any{"name": "Asha"}, LastInboundAt: &wrote, MarketingOptOut: o}
	}
	of := func(cat template.Category) *template.Compiled {
		return template.Compile(template.Template{Content: "Hi {name}", Category: cat, ContentSID: welcomeSID,
			ContentVariables: map[string]string{"1": "name"}})
	}
	tests := []struct {
		name string
		u    user.User
		tpl  *template.Compiled
		want Action
		why  message.SkipReason
	}{
		{"marketing_skipped", person(consent.OptIn, out), of(template.Marketing), Skip, message.SkipMarketingOptOut},
		{"uncategorised_is_marketing", person(consent.OptIn, out), of(""), Skip, message.SkipMarketingOptOut},
		{"utility_still_sent", person(consent.OptIn, out), of(template.Utility), Send, ""},
		{"not_opted_out_sent", person(consent.OptIn, nil), of(template.Marketing), Send, ""},
		{"consent_first", person(consent.Stop, out), of(template.Marketing), Skip, message.SkipNoConsent},
		{"session_text_still_sent", person(consent.OptIn, out), template.Compile(template.Template{Content: "Hi {name}", Category: template.Marketing}), Send, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := Check(Input{User: tc.u, Exists: true, Template: tc.tpl, Now: now})
			if d.Action != tc.want || d.Reason != tc.why {
				t.Errorf("Check = %s %q, want %s %q", d.Action, d.Reason, tc.want, tc.why)
			}
		})
	}
}
