package consent

import (
	"testing"
)

func TestStateValid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   State
		want bool
	}{
		{OptIn, true}, {Stop, true}, {OptOut, true},
		{"", false}, {"opt_in", false}, {"OPTIN", false}, {"START", false},
	}
	for _, tc := range cases {
		if got := tc.in.Valid(); got != tc.want {
			t.Errorf("State(%q).Valid() = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestImported(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name      string
		current   State
		requested State
		exists    bool
		want      State
	}{
		{name: "new_person_defaults_to_opt_in", requested: "", exists: false, want: OptIn},
		{name: "new_person_opt_in", requested: OptIn, exists: false, want: OptIn},
		{name: "new_person_opt_out", requested: OptOut, exists: false, want: OptOut},
		{name: "new_person_stop", requested: Stop, exists: false, want: Stop},
		{name: "existing_not_given_keeps", current: Stop, requested: "", exists: true, want: Stop},
		{name: "existing_opt_in_kept", current: OptIn, requested: OptIn, exists: true, want: OptIn},
		{name: "import_never_lifts_stop", current: Stop, requested: OptIn, exists: true, want: Stop},
		{name: "import_never_lifts_opt_out", current: OptOut, requested: OptIn, exists: true, want: OptOut},
		{name: "import_lowers_opt_in", current: OptIn, requested: OptOut, exists: true, want: OptOut},
		{name: "import_stop_lowers_opt_in", current: OptIn, requested: Stop, exists: true, want: Stop},
		{name: "import_never_touches_a_persons_stop", current: Stop, requested: OptOut, exists: true, want: Stop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Imported(tc.current, tc.requested, tc.exists); got != tc.want {
				t.Errorf("Imported(%q, %q, %v) = %q, want %q", tc.current, tc.requested, tc.exists, got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name string
		body string
		want Intent
	}{
		{name: "stop", body: "STOP", want: IntentOptOut},
		{name: "lower_case", body: "stop", want: IntentOptOut},
		{name: "mixed_case_and_space", body: "  Stop \n", want: IntentOptOut},
		{name: "punctuation", body: "STOP!", want: IntentOptOut},
		{name: "punctuation_then_space", body: "stop. ", want: IntentOptOut},
		{name: "ellipsis", body: "STOP…", want: IntentOptOut},
		{name: "no_break_space_before_punctuation", body: "stop\u00a0!", want: IntentOptOut},
		{name: "quoted", body: "«STOP»", want: IntentOptOut},
		{name: "stopall", body: "stopall", want: IntentOptOut},
		{name: "unsubscribe", body: "Unsubscribe", want: IntentOptOut},
		{name: "cancel", body: "cancel", want: IntentOptOut},
		{name: "end", body: "END", want: IntentOptOut},
		{name: "quit", body: "quit", want: IntentOptOut},
		{name: "optout", body: "OPTOUT", want: IntentOptOut},
		{name: "revoke", body: "revoke", want: IntentOptOut},
		{name: "start", body: "START", want: IntentOptIn},
		{name: "yes", body: "yes", want: IntentOptIn},
		{name: "unstop", body: "Unstop", want: IntentOptIn},
		{name: "optin", body: "optin", want: IntentOptIn},
		{name: "help", body: "HELP", want: IntentHelp},
		{name: "info", body: "info?", want: IntentHelp},
		{name: "sentence_is_not_a_keyword", body: "please stop", want: IntentNone},
		{name: "two_words_no_break_space", body: "stop\u00a0now", want: IntentNone},
		{name: "keyword_inside_word", body: "stopped", want: IntentNone},
		{name: "opt_out_with_space", body: "opt out", want: IntentNone},
		{name: "empty", body: "", want: IntentNone},
		{name: "only_punctuation", body: "?!", want: IntentNone},
		{name: "greeting", body: "Hello world", want: IntentNone},
		{name: "emoji_after", body: "STOP 🛑", want: IntentNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tc.body); got != tc.want {
				t.Errorf("Classify(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestAfterIntent(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name        string
		current     State
		in          Intent
		want        State
		wantChanged bool
	}{
		{name: "stop_from_opt_in", current: OptIn, in: IntentOptOut, want: Stop, wantChanged: true},
		{name: "stop_again", current: Stop, in: IntentOptOut, want: Stop},
		// The person's own word replaces the admin's, so no admin can lift it.
		{name: "stop_replaces_admin_opt_out", current: OptOut, in: IntentOptOut, want: Stop, wantChanged: true},
		{name: "start_lifts_stop", current: Stop, in: IntentOptIn, want: OptIn, wantChanged: true},
		{name: "start_never_lifts_admin_opt_out", current: OptOut, in: IntentOptIn, want: OptOut},
		{name: "start_when_opted_in", current: OptIn, in: IntentOptIn, want: OptIn},
		{name: "help_changes_nothing", current: OptIn, in: IntentHelp, want: OptIn},
		{name: "none_changes_nothing", current: Stop, in: IntentNone, want: Stop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, changed := AfterIntent(tc.current, tc.in)
			if got != tc.want || changed != tc.wantChanged {
				t.Errorf("AfterIntent(%q, %q) = %q, %v; want %q, %v", tc.current, tc.in, got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"STOP", " stop! ", "please stop", "START", "ｓｔｏｐ", "stop\u00a0!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := Classify(body)
		switch got {
		case IntentNone, IntentOptOut, IntentOptIn, IntentHelp:
		default:
			t.Fatalf("Classify(%q) = %q", body, got)
		}
		// A keyword is the whole message: padding it changes nothing, and
		// a second word always makes it no keyword.
		if again := Classify("  " + body + "!\n"); got != IntentNone && again != got {
			t.Fatalf("Classify(%q) = %q but padded %q", body, got, again)
		}
		if got != IntentNone && Classify(body+" please") != IntentNone {
			t.Fatalf("Classify(%q please) is a keyword", body)
		}
	})
}

func TestAdminMay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to State
		want     bool
	}{
		{OptIn, OptOut, true},
		{OptOut, OptIn, true},
		{OptIn, OptIn, true},
		{Stop, OptIn, false},
		{Stop, OptOut, false}, // else OPT_OUT then OPT_IN would lift the person's STOP
		{OptIn, Stop, false},  // STOP is the person's own word
	}
	for _, tc := range cases {
		if got := AdminMay(tc.from, tc.to); got != tc.want {
			t.Errorf("AdminMay(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
