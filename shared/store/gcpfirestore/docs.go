package gcpfirestore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// The document structs below are the stored schema: domain types may grow
// or rename fields without moving data, and ids live in document names.

type userDoc struct {
	Consent    string         `firestore:"consent_state"`
	Attributes map[string]any `firestore:"attributes"`
	CreatedAt  time.Time      `firestore:"created_at"`
	UpdatedAt  time.Time      `firestore:"updated_at"`
	KeywordAt  *time.Time     `firestore:"keyword_at,omitempty"`
	// LastInboundAt is when the person's latest message reached us;
	// indexed: segments filter on it.
	LastInboundAt *time.Time `firestore:"last_inbound_at,omitempty"`
	// MarketingOptOut: WhatsApp's "stop marketing messages", when reported.
	MarketingOptOut *marketingDoc `firestore:"marketing_opt_out,omitempty"`
}

type marketingDoc struct {
	At     time.Time `firestore:"at"`
	Source string    `firestore:"source"`
	Ref    string    `firestore:"ref"`
}

func toMarketingDoc(o *user.MarketingOptOut) *marketingDoc {
	if o == nil {
		return nil
	}
	return &marketingDoc{At: records.Time(o.At), Source: o.Source, Ref: o.Ref}
}

func (d *marketingDoc) optOut() *user.MarketingOptOut {
	if d == nil {
		return nil
	}
	return &user.MarketingOptOut{At: records.Time(d.At), Source: d.Source, Ref: d.Ref}
}

func toUserDoc(u user.User) userDoc {
	return userDoc{
		Consent:    string(u.Consent),
		Attributes: records.Attributes(u.Attributes),
		CreatedAt:  records.Time(u.CreatedAt),
		UpdatedAt:  records.Time(u.UpdatedAt),
		KeywordAt:  timePtr(u.KeywordAt),

		LastInboundAt:   timePtr(u.LastInboundAt),
		MarketingOptOut: toMarketingDoc(u.MarketingOptOut),
	}
}

// timePtr copies t in the form the store keeps times.
func timePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := records.Time(*t)
	return &v
}

func (d userDoc) user(phone string) user.User {
	return user.User{
		Phone:      phone,
		Consent:    consent.State(d.Consent),
		Attributes: records.Attributes(d.Attributes),
		CreatedAt:  records.Time(d.CreatedAt),
		UpdatedAt:  records.Time(d.UpdatedAt),
		KeywordAt:  timePtr(d.KeywordAt),

		LastInboundAt:   timePtr(d.LastInboundAt),
		MarketingOptOut: d.MarketingOptOut.optOut(),
	}
}

// optTime keeps an optional time that the domain type holds as a zero
// time: absent when zero, rather than a year-1 timestamp.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := records.Time(t)
	return &v
}

// timeOf reads back what optTime kept.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return records.Time(*t)
}

type changeDoc struct {
	From   string    `firestore:"from"`
	To     string    `firestore:"to"`
	Source string    `firestore:"source"`
	Ref    string    `firestore:"ref"`
	At     time.Time `firestore:"at"`
}

func toChangeDoc(c consent.Change) changeDoc {
	return changeDoc{From: string(c.From), To: string(c.To), Source: string(c.Source), Ref: c.Ref, At: records.Time(c.At)}
}

func (d changeDoc) change(phone string) consent.Change {
	return consent.Change{
		Phone: phone, From: consent.State(d.From), To: consent.State(d.To),
		Source: consent.Source(d.Source), Ref: d.Ref, At: records.Time(d.At),
	}
}

type detailDoc struct {
	Row     int    `firestore:"row"`
	Field   string `firestore:"field"`
	Message string `firestore:"message"`
}

// jobDoc holds what the importer knows when it creates the job; what the
// rows did lives in the batch markers.
type jobDoc struct {
	State      string      `firestore:"state"`
	Filename   string      `firestore:"filename"`
	Format     string      `firestore:"format"`
	Rows       int         `firestore:"total_rows"`
	Accepted   int         `firestore:"valid_rows"`
	Rejected   int         `firestore:"rejected_rows"`
	Duplicates int         `firestore:"duplicates"`
	Batches    int         `firestore:"batches"`
	Errors     []detailDoc `firestore:"errors"`
	CreatedAt  time.Time   `firestore:"created_at"`
	UpdatedAt  time.Time   `firestore:"updated_at"`

	Object        string     `firestore:"object"`
	DefaultRegion string     `firestore:"default_region"`
	Encoding      string     `firestore:"encoding"`
	UploadBy      *time.Time `firestore:"upload_by,omitempty"`
	PublishedAt   *time.Time `firestore:"published_at,omitempty"`
	ErrorChunks   int        `firestore:"error_chunks"`
}

func toJobDoc(j userimport.Job) jobDoc {
	d := jobDoc{
		State: string(j.State), Filename: j.Filename, Format: j.Format,
		Rows: j.Rows, Accepted: j.Accepted, Rejected: j.Rejected, Duplicates: j.Duplicates, Batches: j.Batches,
		CreatedAt: records.Time(j.CreatedAt), UpdatedAt: records.Time(j.UpdatedAt),
		Object: j.Object, DefaultRegion: j.DefaultRegion, Encoding: j.Encoding,
		UploadBy: optTime(j.UploadBy), PublishedAt: optTime(j.PublishedAt), ErrorChunks: j.ErrorChunks,
	}
	if j.Errors != nil {
		d.Errors = make([]detailDoc, len(j.Errors))
		for i, e := range j.Errors {
			d.Errors[i] = detailDoc(e)
		}
	}
	return d
}

func (d jobDoc) job(id string) userimport.Job {
	j := userimport.Job{
		ID: id, State: userimport.State(d.State), Filename: d.Filename, Format: d.Format,
		Rows: d.Rows, Accepted: d.Accepted, Rejected: d.Rejected, Duplicates: d.Duplicates, Batches: d.Batches,
		CreatedAt: records.Time(d.CreatedAt), UpdatedAt: records.Time(d.UpdatedAt),
		Object: d.Object, DefaultRegion: d.DefaultRegion, Encoding: d.Encoding,
		UploadBy: timeOf(d.UploadBy), PublishedAt: timeOf(d.PublishedAt), ErrorChunks: d.ErrorChunks,
	}
	if d.Errors != nil {
		j.Errors = make([]errs.Detail, len(d.Errors))
		for i, e := range d.Errors {
			j.Errors[i] = errs.Detail(e)
		}
	}
	return j
}

// errorsDoc holds one chunk of a job's row errors, so that a file with
// many bad rows keeps them all without one document growing past
// Firestore's 1 MiB.
type errorsDoc struct {
	Chunk   int         `firestore:"chunk"`
	Details []detailDoc `firestore:"details"`
}

// batchDoc marks batch n of a job applied, keeping its result so that a
// redelivery returns it.
type batchDoc struct {
	Batch     int `firestore:"batch"`
	Created   int `firestore:"created"`
	Updated   int `firestore:"updated"`
	Unchanged int `firestore:"unchanged"`
	// ConsentKept: rows asking to opt in a person whose STOP or OPT_OUT
	// stayed.
	ConsentKept int `firestore:"consent_kept"`
	// Refused: rows the store would not take; Reason, for a batch refused
	// whole, says why.
	Refused   int       `firestore:"refused"`
	Reason    string    `firestore:"reason,omitempty"`
	FirstRow  int       `firestore:"first_row,omitempty"`
	LastRow   int       `firestore:"last_row,omitempty"`
	AppliedAt time.Time `firestore:"applied_at"`
}

func (d batchDoc) result() userimport.BatchResult {
	return userimport.BatchResult{Batch: d.Batch, Created: d.Created, Updated: d.Updated, Unchanged: d.Unchanged,
		ConsentKept: d.ConsentKept, Refused: d.Refused, Reason: d.Reason}
}

// segmentDoc keeps the definition as the JSON text the API takes, so the
// store need not follow the definition's Go shape.
type segmentDoc struct {
	Name        string    `firestore:"name"`
	Description string    `firestore:"description"`
	Definition  string    `firestore:"definition_json"`
	CreatedAt   time.Time `firestore:"created_at"`
	UpdatedAt   time.Time `firestore:"updated_at"`
}

func toSegmentDoc(s segment.Segment) (segmentDoc, error) {
	def, err := json.Marshal(s.Definition)
	if err != nil {
		return segmentDoc{}, errs.Wrap(errs.Invalid, err, "definition")
	}
	return segmentDoc{Name: s.Name, Description: s.Description, Definition: string(def), CreatedAt: records.Time(s.CreatedAt), UpdatedAt: records.Time(s.UpdatedAt)}, nil
}

func (d segmentDoc) segment(id string) (segment.Segment, error) {
	s := segment.Segment{ID: id, Name: d.Name, Description: d.Description, CreatedAt: records.Time(d.CreatedAt), UpdatedAt: records.Time(d.UpdatedAt)}
	if err := json.Unmarshal([]byte(d.Definition), &s.Definition); err != nil {
		return segment.Segment{}, fmt.Errorf("segment %s definition: %w", id, err)
	}
	return s, nil
}

type templateDoc struct {
	Name      string    `firestore:"name"`
	Content   string    `firestore:"content"`
	Variables []string  `firestore:"variables"`
	CreatedAt time.Time `firestore:"created_at"`
	UpdatedAt time.Time `firestore:"updated_at"`

	ContentSID       string               `firestore:"content_sid,omitempty"`
	ContentVariables map[string]string    `firestore:"content_variables,omitempty"`
	Category         string               `firestore:"category,omitempty"`
	Locales          map[string]localeDoc `firestore:"locales,omitempty"`
}

type localeDoc struct {
	Content    string `firestore:"content"`
	ContentSID string `firestore:"content_sid,omitempty"`
}

func toTemplateDoc(t template.Template) templateDoc {
	d := templateDoc{
		Name: t.Name, Content: t.Content, Variables: append([]string(nil), t.Variables...),
		CreatedAt: records.Time(t.CreatedAt), UpdatedAt: records.Time(t.UpdatedAt),
		ContentSID: t.ContentSID, ContentVariables: maps.Clone(t.ContentVariables), Category: string(t.Category),
	}
	if len(t.Locales) > 0 {
		d.Locales = make(map[string]localeDoc, len(t.Locales))
		for k, l := range t.Locales {
			d.Locales[k] = localeDoc(l)
		}
	}
	return d
}

func (d templateDoc) template(id string) template.Template {
	t := template.Template{
		ID: id, Name: d.Name, Content: d.Content, Variables: d.Variables,
		CreatedAt: records.Time(d.CreatedAt), UpdatedAt: records.Time(d.UpdatedAt),
		ContentSID: d.ContentSID, ContentVariables: d.ContentVariables, Category: template.Category(d.Category),
	}
	if len(d.Locales) > 0 {
		t.Locales = make(map[string]template.Locale, len(d.Locales))
		for k, l := range d.Locales {
			t.Locales[k] = template.Locale(l)
		}
	}
	return t
}

type campaignDoc struct {
	Topic       string     `firestore:"topic"`
	TemplateID  string     `firestore:"template_id"`
	SegmentID   string     `firestore:"segment_id"`
	Rate        int        `firestore:"rate_limit_per_second"`
	QuietStart  string     `firestore:"quiet_hours_start"`
	QuietEnd    string     `firestore:"quiet_hours_end"`
	Status      string     `firestore:"status"`
	CreatedAt   time.Time  `firestore:"created_at"`
	UpdatedAt   time.Time  `firestore:"updated_at"`
	StartedAt   *time.Time `firestore:"started_at"`
	CompletedAt *time.Time `firestore:"completed_at"`
	EndedAt     *time.Time `firestore:"ended_at"`
	Recipients  int        `firestore:"total_recipients"`
	FanoutDone  bool       `firestore:"fanout_complete"`

	FailureReason   string     `firestore:"failure_reason"`
	QueueGeneration int        `firestore:"queue_generation"`
	QueueCreatedAt  *time.Time `firestore:"queue_created_at"`
	QueueReleasedAt *time.Time `firestore:"queue_released_at"`

	FanoutSlices []rangeDoc `firestore:"fanout_slices,omitempty"`
	SlicesDone   []int      `firestore:"slices_done,omitempty"`

	// ScheduleTime is always written (null when none), so that the due
	// query's order sees every scheduled campaign.
	ScheduleTime *time.Time `firestore:"schedule_time"`
	StatusReason string     `firestore:"status_reason"`
	// The launch's snapshots, in the form their own collections keep;
	// their ids are the campaign's template_id and segment_id.
	Template *templateDoc `firestore:"template_snapshot,omitempty"`
	Segment  *segmentDoc  `firestore:"segment_snapshot,omitempty"`
	Resumes  int          `firestore:"resumes"`
	// HeldPages by slice index, in decimal: Firestore's map keys are
	// strings.
	HeldPages map[string]string `firestore:"held_pages,omitempty"`
	// Unsettled is always written, for UnsettledCampaigns' equality filter.
	Unsettled bool `firestore:"unsettled"`
	// HistoryLen is how many entries campaigns/{id}/history holds: the
	// next entry's number.
	HistoryLen int `firestore:"history_len"`
}

type rangeDoc struct {
	From string `firestore:"from"`
	To   string `firestore:"to"`
}

func toRangeDocs(rs []segment.Range) []rangeDoc {
	var out []rangeDoc
	for _, r := range rs {
		out = append(out, rangeDoc{From: r.From, To: r.To})
	}
	return out
}

func ranges(ds []rangeDoc) []segment.Range {
	var out []segment.Range
	for _, d := range ds {
		out = append(out, segment.Range{From: d.From, To: d.To})
	}
	return out
}

func toCampaignDoc(c campaign.Campaign) (campaignDoc, error) {
	d := campaignDoc{
		Topic: c.Topic, TemplateID: c.TemplateID, SegmentID: c.SegmentID, Rate: c.Rate,
		QuietStart: c.QuietStart, QuietEnd: c.QuietEnd, Status: string(c.Status),
		CreatedAt: records.Time(c.CreatedAt), UpdatedAt: records.Time(c.UpdatedAt),
		StartedAt: records.TimePtr(c.StartedAt), CompletedAt: records.TimePtr(c.CompletedAt), EndedAt: records.TimePtr(c.EndedAt),
		Recipients: c.Recipients, FanoutDone: c.FanoutDone,
		FailureReason: c.FailureReason, QueueGeneration: c.QueueGeneration,
		QueueCreatedAt: records.TimePtr(c.QueueCreatedAt), QueueReleasedAt: records.TimePtr(c.QueueReleasedAt),
		FanoutSlices: toRangeDocs(c.FanoutSlices), SlicesDone: slices.Clone(c.SlicesDone),
		ScheduleTime: records.TimePtr(c.ScheduleTime), StatusReason: c.StatusReason,
		Resumes: c.Resumes, Unsettled: c.Unsettled,
	}
	for slice, after := range c.HeldPages {
		if d.HeldPages == nil {
			d.HeldPages = map[string]string{}
		}
		d.HeldPages[strconv.Itoa(slice)] = after
	}
	if c.Template != nil {
		t := toTemplateDoc(*c.Template)
		d.Template = &t
	}
	if c.Segment != nil {
		seg, err := toSegmentDoc(*c.Segment)
		if err != nil {
			return campaignDoc{}, fmt.Errorf("segment snapshot: %w", err)
		}
		d.Segment = &seg
	}
	return d, nil
}

func (d campaignDoc) campaign(id string) (campaign.Campaign, error) {
	c := campaign.Campaign{
		ID: id, Topic: d.Topic, TemplateID: d.TemplateID, SegmentID: d.SegmentID, Rate: d.Rate,
		QuietStart: d.QuietStart, QuietEnd: d.QuietEnd, Status: campaign.Status(d.Status),
		CreatedAt: records.Time(d.CreatedAt), UpdatedAt: records.Time(d.UpdatedAt),
		StartedAt: records.TimePtr(d.StartedAt), CompletedAt: records.TimePtr(d.CompletedAt), EndedAt: records.TimePtr(d.EndedAt),
		Recipients: d.Recipients, FanoutDone: d.FanoutDone,
		FailureReason: d.FailureReason, QueueGeneration: d.QueueGeneration,
		QueueCreatedAt: records.TimePtr(d.QueueCreatedAt), QueueReleasedAt: records.TimePtr(d.QueueReleasedAt),
		FanoutSlices: ranges(d.FanoutSlices), SlicesDone: slices.Clone(d.SlicesDone),
		ScheduleTime: records.TimePtr(d.ScheduleTime), StatusReason: d.StatusReason,
		Resumes: d.Resumes, Unsettled: d.Unsettled,
	}
	for key, after := range d.HeldPages {
		slice, err := strconv.Atoi(key)
		if err != nil {
			return campaign.Campaign{}, fmt.Errorf("campaign %s: held page %q: %w", id, key, err)
		}
		if c.HeldPages == nil {
			c.HeldPages = map[int]string{}
		}
		c.HeldPages[slice] = after
	}
	if d.Template != nil {
		t := d.Template.template(d.TemplateID)
		c.Template = &t
	}
	if d.Segment != nil {
		seg, err := d.Segment.segment(d.SegmentID)
		if err != nil {
			return campaign.Campaign{}, fmt.Errorf("campaign %s: %w", id, err)
		}
		c.Segment = &seg
	}
	return c, nil
}

type changeEntryDoc struct {
	From   string    `firestore:"from"`
	To     string    `firestore:"to"`
	By     string    `firestore:"by"`
	Reason string    `firestore:"reason"`
	At     time.Time `firestore:"at"`
}

func toChangeEntryDoc(c campaign.Change) changeEntryDoc {
	return changeEntryDoc{From: string(c.From), To: string(c.To), By: c.By, Reason: c.Reason, At: records.Time(c.At)}
}

func (d changeEntryDoc) change() campaign.Change {
	return campaign.Change{From: campaign.Status(d.From), To: campaign.Status(d.To), By: d.By, Reason: d.Reason, At: records.Time(d.At)}
}

// messageDoc carries, besides the message, the fields CountMessages and
// HasUnconcluded query: derived from the message on every write.
type messageDoc struct {
	CampaignID  string     `firestore:"campaign_id"`
	Phone       string     `firestore:"phone_number"`
	Status      string     `firestore:"status"`
	SkipReason  string     `firestore:"skip_reason"`
	DeferredBy  string     `firestore:"deferred_by,omitempty"`
	Body        string     `firestore:"body"`
	ProviderSID string     `firestore:"provider_sid,omitempty"` // absent until sent: keeps the index small
	ErrorCode   string     `firestore:"error_code"`
	ErrorText   string     `firestore:"error_message"`
	Attempts    int        `firestore:"attempts"`
	CreatedAt   time.Time  `firestore:"created_at"`
	UpdatedAt   time.Time  `firestore:"updated_at"`
	ScheduledAt *time.Time `firestore:"scheduled_at"`
	QueuedAt    *time.Time `firestore:"queued_at"`
	ClaimedAt   *time.Time `firestore:"claimed_at"`
	SentAt      *time.Time `firestore:"sent_at"`
	DeliveredAt *time.Time `firestore:"delivered_at"`
	ReadAt      *time.Time `firestore:"read_at"`
	FailedAt    *time.Time `firestore:"failed_at"`

	ReachedQueued    bool `firestore:"reached_queued"`
	ReachedSent      bool `firestore:"reached_sent"`
	ReachedDelivered bool `firestore:"reached_delivered"`
	ReachedRead      bool `firestore:"reached_read"`
	Concluded        bool `firestore:"concluded"`

	// ExpireAt is CreatedAt plus the store's retention, so every rewrite
	// of the document keeps it (TTLField).
	ExpireAt *time.Time `firestore:"expire_at,omitempty"`

	ContentSID       string            `firestore:"content_sid,omitempty"`
	ContentVariables map[string]string `firestore:"content_variables,omitempty"`
	Channel          string            `firestore:"channel,omitempty"`

	TaskGeneration     int64           `firestore:"task_generation,omitempty"`
	RequeuedAt         *time.Time      `firestore:"requeued_at,omitempty"`
	Requeues           int             `firestore:"requeues,omitempty"`
	RateLimitedRetries int             `firestore:"rate_limited_retries,omitempty"`
	PriorSIDs          []string        `firestore:"prior_provider_sids,omitempty"`
	Resolutions        []resolutionDoc `firestore:"resolutions,omitempty"`
	HeldAt             *time.Time      `firestore:"held_at,omitempty"`
	ResentFrom         *time.Time      `firestore:"resent_from,omitempty"`
	DuplicateSIDs      []string        `firestore:"duplicate_sids,omitempty"`
}

// resolutionDoc is an operator's message.Resolution.
type resolutionDoc struct {
	Outcome     string    `firestore:"outcome"`
	ProviderSID string    `firestore:"message_sid,omitempty"`
	By          string    `firestore:"by"`
	At          time.Time `firestore:"at"`
	Attempts    int       `firestore:"attempts"`
	Note        string    `firestore:"note,omitempty"`
}

func toResolutionDocs(rs []message.Resolution) []resolutionDoc {
	var out []resolutionDoc
	for _, r := range rs {
		out = append(out, resolutionDoc{Outcome: string(r.Outcome), ProviderSID: r.ProviderSID, By: r.By, At: records.Time(r.At), Attempts: r.Attempts, Note: r.Note})
	}
	return out
}

func fromResolutionDocs(ds []resolutionDoc) []message.Resolution {
	var out []message.Resolution
	for _, d := range ds {
		out = append(out, message.Resolution{Outcome: message.Outcome(d.Outcome), ProviderSID: d.ProviderSID, By: d.By, At: records.Time(d.At), Attempts: d.Attempts, Note: d.Note})
	}
	return out
}

func toMessageDoc(m message.Message) messageDoc {
	st := records.StagesOf(m)
	return messageDoc{
		CampaignID: m.CampaignID, Phone: m.Phone, Status: string(m.Status), SkipReason: string(m.SkipReason),
		DeferredBy: string(m.DeferredBy),
		Body:       m.Body, ProviderSID: m.ProviderSID, ErrorCode: m.ErrorCode, ErrorText: m.ErrorText, Attempts: m.Attempts,
		CreatedAt: records.Time(m.CreatedAt), UpdatedAt: records.Time(m.UpdatedAt),
		ScheduledAt: records.TimePtr(m.ScheduledAt), QueuedAt: records.TimePtr(m.QueuedAt),
		ClaimedAt: records.TimePtr(m.ClaimedAt), SentAt: records.TimePtr(m.SentAt),
		DeliveredAt: records.TimePtr(m.DeliveredAt), ReadAt: records.TimePtr(m.ReadAt), FailedAt: records.TimePtr(m.FailedAt),
		ReachedQueued: st.Queued, ReachedSent: st.Sent, ReachedDelivered: st.Delivered, ReachedRead: st.Read,
		Concluded:  m.Status.Concluded(),
		ContentSID: m.ContentSID, ContentVariables: maps.Clone(m.ContentVariables), Channel: m.Channel,
		TaskGeneration: m.TaskGeneration, RequeuedAt: records.TimePtr(m.RequeuedAt), Requeues: m.Requeues,
		RateLimitedRetries: m.RateLimitedRetries, PriorSIDs: slices.Clone(m.PriorSIDs), Resolutions: toResolutionDocs(m.Resolutions),
		HeldAt: records.TimePtr(m.HeldAt), ResentFrom: records.TimePtr(m.ResentFrom), DuplicateSIDs: slices.Clone(m.DuplicateSIDs),
	}
}

func (d messageDoc) message(id string) message.Message {
	return message.Message{
		ID: id, CampaignID: d.CampaignID, Phone: d.Phone, Status: message.Status(d.Status),
		SkipReason: message.SkipReason(d.SkipReason), DeferredBy: message.DeferReason(d.DeferredBy), Body: d.Body, ProviderSID: d.ProviderSID,
		ErrorCode: d.ErrorCode, ErrorText: d.ErrorText, Attempts: d.Attempts,
		CreatedAt: records.Time(d.CreatedAt), UpdatedAt: records.Time(d.UpdatedAt),
		ScheduledAt: records.TimePtr(d.ScheduledAt), QueuedAt: records.TimePtr(d.QueuedAt),
		ClaimedAt: records.TimePtr(d.ClaimedAt), SentAt: records.TimePtr(d.SentAt),
		DeliveredAt: records.TimePtr(d.DeliveredAt), ReadAt: records.TimePtr(d.ReadAt), FailedAt: records.TimePtr(d.FailedAt),
		ContentSID: d.ContentSID, ContentVariables: d.ContentVariables, Channel: d.Channel,
		TaskGeneration: d.TaskGeneration, RequeuedAt: records.TimePtr(d.RequeuedAt), Requeues: d.Requeues,
		RateLimitedRetries: d.RateLimitedRetries, PriorSIDs: d.PriorSIDs, Resolutions: fromResolutionDocs(d.Resolutions),
		HeldAt: records.TimePtr(d.HeldAt), ResentFrom: records.TimePtr(d.ResentFrom), DuplicateSIDs: d.DuplicateSIDs,
	}
}

type webhookDoc struct {
	Kind       string            `firestore:"kind"`
	MessageSID string            `firestore:"message_sid"`
	MessageID  string            `firestore:"message_id,omitempty"`
	Attempt    int               `firestore:"attempt,omitempty"`
	Status     string            `firestore:"status"`
	Params     map[string]string `firestore:"params"`
	ReceivedAt time.Time         `firestore:"received_at"`
	Published  bool              `firestore:"published"`
	ExpireAt   *time.Time        `firestore:"expire_at,omitempty"` // TTLField
	// Party is who the record is from or about (records.WebhookParty),
	// derived on every write: erasure finds a person's records by it.
	Party       string `firestore:"party,omitempty"`
	StopApplied bool   `firestore:"stop_applied,omitempty"`
	Erased      bool   `firestore:"erased,omitempty"`
	Trimmed     bool   `firestore:"trimmed,omitempty"`
}

func toWebhookDoc(e webhook.Event) webhookDoc {
	return webhookDoc{
		Kind: string(e.Kind), MessageSID: e.MessageSID, MessageID: e.MessageID, Attempt: e.Attempt, Status: e.Status, Params: maps.Clone(e.Params),
		ReceivedAt: records.Time(e.ReceivedAt), Published: e.Published, Party: records.WebhookParty(e), StopApplied: e.StopApplied,
		Erased: e.Erased, Trimmed: e.Trimmed,
	}
}

func (d webhookDoc) event(id string) webhook.Event {
	return webhook.Event{
		ID: id, Kind: webhook.Kind(d.Kind), MessageSID: d.MessageSID, MessageID: d.MessageID, Attempt: d.Attempt, Status: d.Status, Params: d.Params,
		ReceivedAt: records.Time(d.ReceivedAt), Published: d.Published, StopApplied: d.StopApplied,
		Erased: d.Erased, Trimmed: d.Trimmed,
	}
}
