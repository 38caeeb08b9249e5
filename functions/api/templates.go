package api

import (
	"context"
	"net/http"

	"github.com/eventstreamengine/ese/shared/compliance"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/template"
)

// templateBody is what POST and PUT take: every field a person sets.
type templateBody struct {
	Name             string                     `json:"name"`
	Content          string                     `json:"content"`
	Variables        []string                   `json:"variables"`
	ContentSID       string                     `json:"content_sid"`
	ContentVariables map[string]string          `json:"content_variables"`
	Category         template.Category          `json:"category"`
	Locales          map[string]template.Locale `json:"locales"`
}

// template is the body as a template, variables filled and checked.
func (b templateBody) template() (template.Template, error) {
	t := template.Template{
		Name: b.Name, Content: b.Content, Variables: b.Variables, ContentSID: b.ContentSID,
		ContentVariables: b.ContentVariables, Category: b.Category, Locales: b.Locales,
	}
	t.Normalize()
	return t, t.Validate()
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) {
	var body templateBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	t, err := body.template()
	if err != nil {
		fail(w, r, err)
		return
	}
	t.CreatedAt = s.now()
	t.UpdatedAt = t.CreatedAt
	t, err = s.Store.CreateTemplate(r.Context(), t)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusCreated, t)
}

// updateTemplate replaces what a person sets of a template, as POST takes
// it; the id and creation time stay.
func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body templateBody
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	next, err := body.template()
	if err != nil {
		fail(w, r, err)
		return
	}
	now := s.now()
	t, err := s.Store.UpdateTemplate(r.Context(), id, func(cur *template.Template) error {
		next.ID, next.CreatedAt, next.UpdatedAt = cur.ID, cur.CreatedAt, now
		*cur = next
		return nil
	})
	if err != nil {
		fail(w, r, notFound(err, "template", id))
		return
	}
	respond(w, http.StatusOK, t)
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, total, err := s.Store.ListTemplates(r.Context(), p)
	if err != nil {
		fail(w, r, err)
		return
	}
	list(w, "templates", items, total, p)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := s.Store.GetTemplate(r.Context(), id)
	if err != nil {
		fail(w, r, notFound(err, "template", id))
		return
	}
	respond(w, http.StatusOK, t)
}

// preview is a template rendered for one person, and whether the checks a
// campaign runs (those that need no campaign) would send it.
type preview struct {
	TemplateID   string `json:"template_id"`
	Phone        string `json:"phone_number"`
	ConsentState string `json:"consent_state"`
	// Language is the person's language attribute; Locale the variant it
	// chose ("default" for the template's own content).
	Language string `json:"language"`
	Locale   string `json:"locale"`
	// SendAs says what would go to Twilio: "content_sid" (ContentSID and
	// ContentVariables) or "body".
	SendAs           string            `json:"send_as"`
	Body             string            `json:"body"`
	ContentSID       string            `json:"content_sid,omitempty"`
	ContentVariables map[string]string `json:"content_variables,omitempty"`
	// Missing names the placeholders and content variables the person's
	// attributes leave unfilled (Unfilled: any); DefaultsUsed those that
	// took their default.
	Missing      []string `json:"missing"`
	DefaultsUsed []string `json:"defaults_used"`
	Unfilled     bool     `json:"unfilled"`
	// BlockedBy is the reason a campaign would skip the person (no_consent,
	// unresolved_placeholders, channel_policy, ...), or null when it would
	// send; BlockedStep the compliance step that gives it.
	BlockedBy   *string `json:"blocked_by"`
	BlockedStep *string `json:"blocked_step"`
	// Channel is how it would go to WhatsApp now: "template" or "session"
	// (free text inside the person's 24-hour window); null when blocked.
	Channel *string `json:"channel"`
}

// previewTemplate renders a template for the person {"phone_number"}
// names, as a campaign would.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body struct {
		Phone string `json:"phone_number"`
	}
	if err := decode(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	p, err := phone.Normalize(body.Phone)
	if err != nil {
		fail(w, r, errs.WithDetails(errs.Invalid, "invalid phone_number", []errs.Detail{{Field: "phone_number", Message: err.Error()}}))
		return
	}
	out, err := s.preview(r.Context(), id, p)
	if err != nil {
		fail(w, r, err)
		return
	}
	respond(w, http.StatusOK, out)
}

func (s *Server) preview(ctx context.Context, id, p string) (preview, error) {
	t, err := s.Store.GetTemplate(ctx, id)
	if err != nil {
		return preview{}, notFound(err, "template", id)
	}
	u, err := s.Store.GetUser(ctx, p)
	if errs.Is(err, errs.NotExist) {
		return preview{}, errs.E(errs.NotExist, "no user with phone_number %q", p)
	}
	if err != nil {
		return preview{}, err
	}
	c := template.Compile(t)
	rd := c.Render(u.Language(), u.Value)
	out := preview{
		TemplateID: t.ID, Phone: u.Phone, ConsentState: string(u.Consent), Language: u.Language(),
		Locale: rd.Locale, SendAs: "body", Body: rd.Body, ContentSID: rd.ContentSID, ContentVariables: rd.ContentVariables,
		Missing: rd.Missing, DefaultsUsed: rd.Defaulted, Unfilled: len(rd.Missing) > 0,
	}
	if out.Locale == "" {
		out.Locale = "default"
	}
	if rd.ContentSID != "" {
		out.SendAs = "content_sid"
	}
	if out.Missing == nil {
		out.Missing = []string{}
	}
	if out.DefaultsUsed == nil {
		out.DefaultsUsed = []string{}
	}
	suppressed, err := s.Store.Suppressed(ctx, []string{u.Phone})
	if err != nil {
		return preview{}, err
	}
	recent := 0
	if s.Runner.FrequencyCap > 0 {
		sends, err := s.Store.SendsSince(ctx, []string{u.Phone}, s.now().Add(-compliance.FrequencyWindow))
		if err != nil {
			return preview{}, err
		}
		recent = sends[u.Phone]
	}
	in := compliance.Input{User: u, Exists: true, Suppressed: suppressed[u.Phone], FrequencyCap: s.Runner.FrequencyCap, RecentSends: recent,
		Template: c, Content: s.Runner.Content, Now: s.now()}
	if d := compliance.Check(in); d.Action == compliance.Skip {
		reason, step := string(d.Reason), string(compliance.StepOf(d.Reason))
		out.BlockedBy, out.BlockedStep = &reason, &step
	} else {
		ch := string(d.Channel)
		out.Channel = &ch
	}
	return out, nil
}
