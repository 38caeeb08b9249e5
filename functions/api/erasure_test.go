package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// An erasure answers what it erased, leaves no user, history or
// suppression under the number, and a second one is a 404.
func TestEraseUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const p = "+94771234567"
	f.id("/api/v1/users", `{"phone_number":"+94771234567","name":"Nimal","city":"Colombo"}`)
	if _, _, err := f.store.ApplyKeyword(ctx, consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM1"}); err != nil {
		t.Fatal(err)
	}
	if code, out := f.call("POST", "/api/v1/suppressions", `{"phone_number":"+94771234567","reason":"asked us by phone"}`); code != 201 {
		t.Fatalf("suppress = %d %v", code, out)
	}
	m := message.Message{ID: message.ID("c1", p), CampaignID: "c1", Phone: p, Status: message.Delivered, Body: "Hi Nimal"}
	if _, err := f.store.CreateMessages(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.RecordWebhook(ctx, webhook.Event{ID: "inbound-SM1", Kind: webhook.Inbound, MessageSID: "SM1",
		Params: map[string]string{"From": "whatsapp:" + p, "Body": "STOP"}}); err != nil {
		t.Fatal(err)
	}

	code, out := f.call("DELETE", "/api/v1/users/%2B94771234567", "")
	want := map[string]any{"erased": true, "messages_scrubbed": 1.0, "webhook_records_deleted": 1.0,
		"consent_changes_deleted": 2.0, "opt_out_kept": true}
	if diff := cmp.Diff(want, out); code != 200 || diff != "" {
		t.Fatalf("DELETE = %d, (-want, +got):\n%s", code, diff)
	}
	for _, path := range []string{"/api/v1/users/%2B94771234567", "/api/v1/users/%2B94771234567/history", "/api/v1/users/%2B94771234567/consent/history"} {
		if code, out := f.call("GET", path, ""); code != 404 {
			t.Errorf("GET %s after the erasure = %d %v, want 404", path, code, out)
		}
	}
	if _, list := f.call("GET", "/api/v1/suppressions", ""); list["total"] != 0.0 {
		t.Errorf("suppressions after the erasure = %v, want none holding the number", list)
	}
	got, err := f.store.GetMessage(ctx, m.ID)
	if err != nil || got.Phone == p || got.Body != "" || got.Status != message.Delivered {
		t.Errorf("message after the erasure = %+v, %v; want it kept, without the number or the body", got, err)
	}
	if code, out := f.call("DELETE", "/api/v1/users/%2B94771234567", ""); code != 404 {
		t.Errorf("second DELETE = %d %v, want 404", code, out)
	}
}

func TestEraseUser_bad_requests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name, path string
		want       int
		field      string
	}{
		{"unparsable", "/api/v1/users/not-a-phone", 400, "phone"},
		{"unknown", "/api/v1/users/%2B94770000000", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.call("DELETE", tc.path, "")
			if code != tc.want {
				t.Fatalf("DELETE %s = %d %v, want %d", tc.path, code, out, tc.want)
			}
			if tc.field != "" && fieldOf(out) != tc.field {
				t.Errorf("error names %q, want %q: %v", fieldOf(out), tc.field, out)
			}
		})
	}
}

// fieldOf is the field the first error detail names.
func fieldOf(out map[string]any) string {
	ds, _ := out["details"].([]any)
	if len(ds) == 0 {
		return ""
	}
	d, _ := ds[0].(map[string]any)
	s, _ := d["field"].(string)
	return s
}

// A person erased while opted out comes back opted out, through the API
// or an import, and says so; one who was opted in comes back as asked.
func TestEraseUser_returning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(f *fixture, p string)
		via       string // "api" or "import"
		want      consent.State
		kept      bool
		suppressd bool
	}{
		{"stop_by_api", stopped, "api", consent.Stop, true, false},
		{"stop_by_import", stopped, "import", consent.Stop, true, false},
		{"admin_opt_out_by_api", optedOut, "api", consent.OptOut, true, false},
		{"suppressed_by_import", suppressed, "import", consent.OptOut, true, true},
		{"suppressed_by_api", suppressed, "api", consent.OptOut, true, true},
		{"opted_in_by_api", func(*fixture, string) {}, "api", consent.OptIn, false, false},
		{"opted_in_by_import", func(*fixture, string) {}, "import", consent.OptIn, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			const p = "+94771234567"
			f.id("/api/v1/users", `{"phone_number":"+94771234567"}`)
			tc.setup(f, p)
			if code, out := f.call("DELETE", "/api/v1/users/%2B94771234567", ""); code != 200 {
				t.Fatalf("DELETE = %d %v", code, out)
			}
			switch tc.via {
			case "api":
				code, out := f.call("POST", "/api/v1/users", `{"phone_number":"+94771234567","consent_state":"OPT_IN"}`)
				if code != 201 || out["consent_state"] != string(tc.want) {
					t.Fatalf("POST = %d %v, want 201 and %s", code, out, tc.want)
				}
				if _, ok := out["opt_out_kept"]; ok != tc.kept {
					t.Errorf("opt_out_kept in the answer: %v, want %v (%v)", ok, tc.kept, out)
				}
			case "import":
				code, job := f.serve(upload(t, "again.csv", "phone_number,name,consent_state\n+94771234567,Nimal,OPT_IN\n"))
				if code != 202 {
					t.Fatalf("import = %d %v", code, job)
				}
				f.applyAll()
				_, job = f.call("GET", "/api/v1/ingest/status/"+job["id"].(string), "")
				wantKept := 0.0
				if tc.kept {
					wantKept = 1
				}
				if job["users_created"] != 1.0 || job["consent_kept"] != wantKept {
					t.Errorf("import job = %v, want one created, consent_kept %v", job, wantKept)
				}
			}
			u, err := f.store.GetUser(t.Context(), p)
			if err != nil || u.Consent != tc.want {
				t.Errorf("user = %+v, %v; want %s", u, err, tc.want)
			}
			sup, err := f.store.Suppressed(t.Context(), []string{p})
			if err != nil || sup[p] != tc.suppressd {
				t.Errorf("suppressed = %v, %v; want %v", sup[p], err, tc.suppressd)
			}
			h, err := f.store.ConsentHistory(t.Context(), p)
			if err != nil || len(h) != 1 || h[0].To != tc.want {
				t.Errorf("consent history = %+v, %v; want one entry to %s", h, err, tc.want)
			}
		})
	}
}

func stopped(f *fixture, p string) {
	if _, _, err := f.store.ApplyKeyword(f.t.Context(), consent.Keyword{Phone: p, Intent: consent.IntentOptOut, Ref: "SM1"}); err != nil {
		f.t.Fatal(err)
	}
}

func optedOut(f *fixture, p string) {
	if code, out := f.call("PUT", "/api/v1/users/%2B94771234567/consent", `{"consent_state":"OPT_OUT","reason":"asked"}`); code != 200 {
		f.t.Fatalf("PUT consent = %d %v", code, out)
	}
}

func suppressed(f *fixture, p string) {
	if code, out := f.call("POST", "/api/v1/suppressions", `{"phone_number":"+94771234567","reason":"complaint"}`); code != 201 {
		f.t.Fatalf("suppress = %d %v", code, out)
	}
}

// A number an admin suppressed without ever importing it is erased too:
// the suppression is kept hashed and comes back with the number.
func TestEraseUser_suppressed_without_a_user(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	suppressed(f, "+94771234567")
	code, out := f.call("DELETE", "/api/v1/users/%2B94771234567", "")
	if code != 200 || out["opt_out_kept"] != true {
		t.Fatalf("DELETE = %d %v, want 200 with the suppression kept hashed", code, out)
	}
	if _, list := f.call("GET", "/api/v1/suppressions", ""); list["total"] != 0.0 {
		t.Errorf("suppressions after the erasure = %v, want the number gone", list)
	}
	if code, out := f.call("DELETE", "/api/v1/users/%2B94771234567", ""); code != 404 {
		t.Errorf("second DELETE = %d %v, want 404", code, out)
	}
	code, u := f.call("POST", "/api/v1/users", `{"phone_number":"+94771234567"}`)
	if code != 201 || u["consent_state"] != "OPT_OUT" {
		t.Errorf("POST after the erasure = %d %v, want 201 OPT_OUT", code, u)
	}
	if sup, err := f.store.Suppressed(t.Context(), []string{"+94771234567"}); err != nil || !sup["+94771234567"] {
		t.Errorf("suppressed after coming back = %v, %v; want true", sup, err)
	}
}
