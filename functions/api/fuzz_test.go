package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventstreamengine/ese/functions/api"
	"github.com/eventstreamengine/ese/shared/campaignrun"
	"github.com/eventstreamengine/ese/shared/events/memevents"
	"github.com/eventstreamengine/ese/shared/importrun"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/sendqueue/memqueue"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/uploads/memuploads"
)

const fuzzKey = "fuzz-key"

// fuzzRoutes are the POST routes that read a body.
var fuzzRoutes = []string{"/api/v1/users", "/api/v1/segments", "/api/v1/campaigns", "/api/v1/users/bulk", "/api/v1/segments/preview",
	"/api/v1/messages/$MSG/resolve"}

// fuzzContentTypes are what clients send; the multipart one has a
// boundary a fuzzed body can use.
var fuzzContentTypes = []string{"application/json", "text/csv", "multipart/form-data; boundary=B", ""}

// FuzzPOST posts arbitrary bodies to the routes that parse them. Whatever
// the body, the API answers with a 2xx or a 4xx, and every error is JSON
// naming what was wrong: a 5xx would mean a parser let bad input reach a
// place that cannot handle it. In bodies, $TPL and $SEG stand for the ids
// of a stored template and segment, so campaigns can be created too.
func FuzzPOST(f *testing.F) {
	seeds := []struct {
		route, ctype uint8
		body         string
	}{
		{0, 0, `{"phone_number":"+94771234567","consent_state":"OPT_IN","city":"Colombo","attributes":{"tier":"gold"}}`},
		{0, 0, `{"phone_number":"whatsapp:+94771234567","timezone":"Asia/Colombo"}`},
		{0, 0, `{"phone_number":"0771234567"}`},
		{0, 0, `{"phone_number":5}`},
		{0, 0, `{"phone_number":"+94771234567"}{}`},
		{0, 0, `{"phone_number":"+94771234567","attributes":{"a":[1,{"b":null}]},"id":"x"}`},
		{1, 0, `{"name":"C","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`},
		{1, 0, `{"name":"G","definition_json":{"conditions":[{"attribute":"age","operator":"gte","value":18},{"attribute":"tags","operator":"contains","value":"vip"}],"logic":"AND"}}`},
		{1, 0, `{"name":"N","definition_json":{"conditions":[{"conditions":[{"attribute":"x","operator":"exists"}],"logic":"OR"}],"logic":"AND"}}`},
		{1, 0, `{"name":"I","definition_json":{"attribute":"city","operator":"in","value":["Colombo","Kandy"]}}`},
		{1, 0, `{"name":"B","definition_json":{"attribute":"city","operator":"like","value":"C"}}`},
		{2, 0, `{"topic":"t","template_id":"$TPL","segment_id":"$SEG","rate_limit_per_second":10,"quiet_hours_start":"22:00","quiet_hours_end":"08:00"}`},
		{2, 0, `{"topic":"t","template_id":"$TPL","segment_id":"$SEG","rate_limit_per_second":1e3}`},
		{2, 0, `{"topic":"t","template_id":1,"segment_id":"$SEG","rate_limit_per_second":-1,"quiet_hours_start":null}`},
		{3, 0, `[{"phone_number":"+94771234567","consent_state":"OPT_IN","city":"Galle"},{"phone_number":"bad"}]`},
		{3, 0, `[{"phone_number": oops`},
		{3, 1, "phone_number,name,consent_state\n+94771234567,A,OPT_IN\n+94771234568,\"B,\"\"x\",STOP\n"},
		{3, 1, "phone_number\n\"unterminated\n"},
		{3, 2, "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n\r\nphone_number\n+94771234567\n\r\n--B--\r\n"},
		{3, 2, "--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--B--\r\n"},
		{3, 3, ""},
		{4, 0, `{"definition_json":{"conditions":[{"not":{"attribute":"last_inbound_at","operator":"within_last","value":"7d"}},{"attribute":"age","operator":"between","value":[18,65]}]}}`},
		{4, 0, `{"definition_json":{"attribute":"created_at","operator":"after","value":"2026-01-01T00:00:00+05:30"}}`},
		{4, 0, `{"definition_json":{"attribute":"phone_country","operator":"in","value":["LK","zz"]}}`},
		{5, 0, `{"outcome":"sent","message_sid":"SM0123456789abcdef0123456789abcdef"}`},
		{5, 0, `{"outcome":"resend"}`},
		{5, 0, `{"outcome":"resend","message_sid":"SM1"}`},
		{5, 0, `{"outcome":"delivered"}`},
		{5, 0, `{"outcome":null,"message_sid":7}`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, route, ctype uint8, body []byte) {
		ctx := context.Background()
		st, pub := memstore.New(), memevents.New()
		tpl, err := st.CreateTemplate(ctx, template.Template{Name: "T", Content: "Hi {name}", Variables: []string{"name"}})
		if err != nil {
			t.Fatal(err)
		}
		seg, err := st.CreateSegment(ctx, segment.Segment{Name: "All", Definition: segment.Definition{Attribute: "city", Operator: segment.Exists}})
		if err != nil {
			t.Fatal(err)
		}
		// A message held with an unknown outcome, for its resolution.
		claimed := time.Now().UTC()
		held := message.Message{ID: message.ID("c1", "+94771234567"), CampaignID: "c1", Phone: "+94771234567", Status: message.Reconcile, ClaimedAt: &claimed, CreatedAt: claimed, UpdatedAt: claimed}
		if _, err := st.CreateMessages(ctx, []message.Message{held}); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(fuzzKey))
		h := (&api.Server{
			KeyHash: sum[:], Store: st, Events: pub,
			Runner: &campaignrun.Runner{Store: st, Events: pub, Queue: memqueue.New()},
			// Small batches so that a few rows go out in more than one.
			Imports: &importrun.Runner{Store: st, Bucket: memuploads.New(), Events: pub, BatchRows: 2},
		}).Routes()

		path := strings.ReplaceAll(fuzzRoutes[int(route)%len(fuzzRoutes)], "$MSG", held.ID)
		b := strings.NewReplacer("$TPL", tpl.ID, "$SEG", seg.ID).Replace(string(body))
		req := httptest.NewRequest("POST", path, strings.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+fuzzKey)
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("POST %s %q = %d %s, want no 5xx", path, b, rec.Code, rec.Body.String())
		}
		if rec.Code < 200 || rec.Code >= 300 {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("POST %s %q = %d with Content-Type %q, want JSON", path, b, rec.Code, ct)
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("POST %s %q = %d %q, want a JSON object with a non-empty error", path, b, rec.Code, rec.Body.String())
			}
		}
		ok := rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted || rec.Code >= 400 ||
			rec.Code == http.StatusOK && (strings.HasSuffix(path, "/preview") || strings.HasSuffix(path, "/resolve")) // these create nothing
		if !ok {
			t.Fatalf("POST %s %q = %d, want 201, 202 (200 for a preview or a resolution) or a 4xx", path, b, rec.Code)
		}
	})
}
