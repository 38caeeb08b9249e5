package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
)

// reserved are a user's own fields; attributes of the same name stay
// under "attributes" only.
var reserved = map[string]bool{
	"id": true, "phone_number": true, "consent_state": true, "attributes": true,
	"created_at": true, "updated_at": true, "last_keyword_at": true, "last_inbound_at": true,
	"marketing_opt_out": true,
}

// userJSON is a user as the API shows it: its fields, its attributes
// under "attributes", and (as the seed showed them) each attribute at the
// top level too, so `.users[] | {phone_number, name}` works.
func userJSON(u user.User) map[string]any {
	out := make(map[string]any, len(u.Attributes)+6)
	for k, v := range u.Attributes {
		if !reserved[k] {
			out[k] = v
		}
	}
	attrs := u.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	out["id"] = u.Phone
	out["phone_number"] = u.Phone
	out["consent_state"] = u.Consent
	out["attributes"] = attrs
	out["created_at"] = u.CreatedAt
	out["updated_at"] = u.UpdatedAt
	if u.KeywordAt != nil {
		out["last_keyword_at"] = u.KeywordAt
	}
	if u.LastInboundAt != nil {
		out["last_inbound_at"] = u.LastInboundAt
	}
	if u.MarketingOptOut != nil {
		out["marketing_opt_out"] = u.MarketingOptOut
	}
	return out
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var f store.UserFilter
	if v := r.URL.Query().Get("consent_state"); v != "" {
		f.Consent = consent.State(v)
		if !f.Consent.Valid() {
			fail(w, r, errs.WithDetails(errs.Invalid, "invalid filter",
				[]errs.Detail{{Field: "consent_state", Message: "must be OPT_IN, STOP or OPT_OUT"}}))
			return
		}
	}
	us, total, err := s.Store.ListUsers(r.Context(), f, p)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := make([]map[string]any, len(us))
	for i, u := range us {
		out[i] = userJSON(u)
	}
	list(w, "users", out, total, p)
}

// createUser takes {"phone_number", "consent_state"?, "attributes"?} and,
// as the seed did, any other field as an attribute.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	u, err := userFromJSON(body)
	if err != nil {
		fail(w, r, err)
		return
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt = now, now
	// An erased person who had opted out comes back opted out (and
	// suppressed, if they were), whatever the request asks: the store
	// reads their record in the transaction that creates them.
	rec, err := s.Store.CreateReturningUser(r.Context(), u, consent.SourceAPI, s.Erasure.Of(u.Phone))
	if err != nil {
		if errs.Is(err, errs.Exist) {
			err = errs.WithDetails(errs.Exist, "user exists",
				[]errs.Detail{{Field: "phone_number", Message: "a user with this number exists; use PUT /api/v1/users/{phone}/consent to change consent"}})
		}
		fail(w, r, err)
		return
	}
	if rec != nil && rec.OptedOut() {
		u.Consent = rec.Returning()
	}
	if rec != nil && rec.MarketingOptOut {
		u.MarketingOptOut = &user.MarketingOptOut{At: u.CreatedAt, Source: user.SourceKeptFromErasure}
	}
	out := userJSON(u)
	if rec != nil {
		out["opt_out_kept"] = keptJSON(*rec)
	}
	respond(w, http.StatusCreated, out)
}

// keptJSON says why a new user is opted out: they were erased while
// opted out (or suppressed), and that stands.
func keptJSON(r erasure.Record) map[string]any {
	out := map[string]any{
		"suppressed":        r.Suppressed,
		"marketing_opt_out": r.MarketingOptOut,
		"reason":            "this number was erased while opted out; the opt-out stands",
	}
	if r.OptedOut() {
		out["consent_state"] = r.Returning()
	}
	return out
}

// eraseUser forgets a person (erasure.Erase): 200 with what was erased;
// 404 for a number with no user, which includes one already erased.
func (s *Server) eraseUser(w http.ResponseWriter, r *http.Request) {
	p, err := phoneParam(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	res, err := erasure.Erase(r.Context(), s.Store, s.Erasure, p, s.now())
	if err != nil {
		fail(w, r, notFound(err, "user", p))
		return
	}
	logging.FromContext(r.Context()).Info("user erased", "phone", phone.Mask(p),
		"messages", res.Messages, "webhooks", res.Webhooks, "opt_out_kept", res.OptOutKept)
	respond(w, http.StatusOK, struct {
		Erased bool `json:"erased"`
		erasure.Result
	}{true, res})
}

func userFromJSON(body map[string]json.RawMessage) (user.User, error) {
	var d []errs.Detail
	u := user.User{Consent: consent.OptIn, Attributes: map[string]any{}}
	var raw string
	if err := json.Unmarshal(body["phone_number"], &raw); err != nil || raw == "" {
		d = append(d, errs.Detail{Field: "phone_number", Message: "is required, as an E.164 string"})
	} else if p, err := phone.Normalize(raw); err != nil {
		d = append(d, errs.Detail{Field: "phone_number", Message: err.Error()})
	} else {
		u.Phone = p
	}
	if v, ok := body["consent_state"]; ok {
		var c string
		if err := json.Unmarshal(v, &c); err != nil || !consent.State(c).Valid() {
			d = append(d, errs.Detail{Field: "consent_state", Message: "must be OPT_IN, STOP or OPT_OUT"})
		} else {
			u.Consent = consent.State(c)
		}
	}
	if v, ok := body["attributes"]; ok {
		if err := json.Unmarshal(v, &u.Attributes); err != nil || u.Attributes == nil {
			d = append(d, errs.Detail{Field: "attributes", Message: "must be an object"})
			u.Attributes = map[string]any{}
		}
	}
	for k, v := range body {
		if reserved[k] {
			continue
		}
		var a any
		if err := json.Unmarshal(v, &a); err != nil {
			d = append(d, errs.Detail{Field: k, Message: "is not valid JSON"})
			continue
		}
		u.Attributes[k] = a
	}
	if tz, ok := u.Attributes["timezone"].(string); ok {
		if _, err := time.LoadLocation(tz); err != nil || tz == "" {
			d = append(d, errs.Detail{Field: "timezone", Message: "must be an IANA time zone such as Asia/Colombo"})
		}
	}
	if len(d) > 0 {
		return u, errs.WithDetails(errs.Invalid, "invalid user", d)
	}
	return u, nil
}

// phoneParam reads the {phone} path segment (URL-encoded E.164).
func phoneParam(r *http.Request) (string, error) {
	p, err := phone.Normalize(r.PathValue("phone"))
	if err != nil {
		return "", errs.WithDetails(errs.Invalid, "invalid phone number in the path",
			[]errs.Detail{{Field: "phone", Message: err.Error() + " (URL-encode the +, as %2B)"}})
	}
	return p, nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	p, err := phoneParam(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	u, err := s.Store.GetUser(r.Context(), p)
	if err != nil {
		fail(w, r, notFound(err, "user", p))
		return
	}
	respond(w, http.StatusOK, userJSON(u))
}

// setConsent is an admin's change: OPT_OUT, or OPT_IN for someone an
// admin or import opted out. A person's own STOP is lifted only by their
// START, never here.
func (s *Server) setConsent(w http.ResponseWriter, r *http.Request) {
	p, err := phoneParam(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var body struct {
		Consent consent.State `json:"consent_state"`
		Reason  string        `json:"reason"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	if body.Consent != consent.OptIn && body.Consent != consent.OptOut {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid consent change",
			[]errs.Detail{{Field: "consent_state", Message: "must be OPT_IN or OPT_OUT (STOP is the person's own)"}}))
		return
	}
	u, err := s.Store.GetUser(r.Context(), p)
	if err != nil {
		fail(w, r, notFound(err, "user", p))
		return
	}
	if !consent.AdminMay(u.Consent, body.Consent) {
		fail(w, r, errs.E(errs.Conflict, "the person sent STOP; only their own START changes their consent"))
		return
	}
	from := u.Consent
	u, changed, err := s.Store.SetConsent(r.Context(), consent.Change{
		Phone: p, From: from, To: body.Consent, Source: consent.SourceAdmin, Ref: body.Reason, At: s.now(),
	})
	if err != nil {
		fail(w, r, notFound(err, "user", p))
		return
	}
	if !changed && u.Consent != body.Consent {
		fail(w, r, errs.E(errs.Conflict, "consent changed to %s meanwhile; nothing was changed", u.Consent))
		return
	}
	respond(w, http.StatusOK, userJSON(u))
}

func (s *Server) consentHistory(w http.ResponseWriter, r *http.Request) {
	p, err := phoneParam(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if _, err := s.Store.GetUser(r.Context(), p); err != nil {
		fail(w, r, notFound(err, "user", p))
		return
	}
	h, err := s.Store.ConsentHistory(r.Context(), p)
	if err != nil {
		fail(w, r, err)
		return
	}
	if h == nil {
		h = []consent.Change{}
	}
	respond(w, http.StatusOK, map[string]any{"phone_number": p, "history": h})
}
