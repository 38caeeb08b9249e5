// Package store is the persistence port: what the functions need kept, in
// domain terms. Implementations: firestore (production and emulator) and
// memstore (unit tests, benchmarks); storetest holds the conformance suite
// both pass.
//
// Errors carry errs kinds: NotExist for an unknown id, Exist for a create
// that finds the id taken, Conflict when an update function refuses.
package store

import (
	"context"
	"time"

	"github.com/eventstreamengine/ese/shared/campaign"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/dryrun"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/message"
	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/template"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Page asks for one page of a list: Page is 1-based.
type Page struct {
	Page, PerPage int
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Page - 1) * p.PerPage }

// Store is everything the functions keep.
type Store interface {
	Users
	Imports
	Segments
	Templates
	Campaigns
	Messages
	Webhooks
	Problems
	Suppressions
	SendLedger
	DryRuns
	Erasures
}

// Erasures forgets a person (erasure.Erase says in what order) and keeps
// the hashed records of erased people's opt-outs (erasure.Record). Each
// method writes at most a batch: no erasure is one oversized transaction.
type Erasures interface {
	// ScrubMessages: see erasure.Store.
	ScrubMessages(ctx context.Context, phone, marker string, at time.Time, limit int) (int, error)
	// DeleteWebhooksOf: see erasure.Store.
	DeleteWebhooksOf(ctx context.Context, ids []string, limit int) (int, error)
	// DeleteConsentHistory: see erasure.Store.
	DeleteConsentHistory(ctx context.Context, phone string, limit int) (int, error)
	// ForgetUser: see erasure.Store.
	ForgetUser(ctx context.Context, phone, key string, at time.Time) (*erasure.Record, error)
	// CreateReturningUser is CreateUser for a person who may have been
	// erased: in the same transaction it reads the record under key
	// (erasure.Hasher.Of their number) and, when there is one, creates
	// them with its opt-out (first entry's ref erasure.KeptOptOutRef)
	// and puts a suppression they had back, whatever u asks. It returns
	// the record (nil: none). ApplyImportBatch does the same for each
	// row with an ErasureKey that creates a user.
	CreateReturningUser(ctx context.Context, u user.User, src consent.Source, key string) (*erasure.Record, error)
	// CheckErasureKey records fingerprint (erasure.Hasher.Fingerprint)
	// as the deployment's key the first time, and is Conflict when one
	// recorded before differs: the key changed, and every kept record
	// would be forgotten.
	CheckErasureKey(ctx context.Context, fingerprint string) error
	// ErasedRecords: see erasure.Store; Invalid past erasure.MaxLookup.
	ErasedRecords(ctx context.Context, keys []string) (map[string]erasure.Record, error)
}

// FrequencyCap limits the business-initiated messages one person gets
// across campaigns: at most Limit in any Window. Limit 0 is no cap.
type FrequencyCap struct {
	Limit  int
	Window time.Duration
}

// On reports whether c limits anything.
func (c FrequencyCap) On() bool { return c.Limit > 0 }

// LedgerKeep is how far back PeopleMessagedSince can look, and the
// longest Window a FrequencyCap may have: a person's ledger is deleted
// some time after it has recorded no send for this long.
const LedgerKeep = 7 * 24 * time.Hour

// SendLedger keeps, per person (by phone), the sends claimed for them
// across campaigns: each message's claim time, pruned of those older than
// the cap's window whenever it is written, and the time of the latest.
type SendLedger interface {
	// ClaimMessage is UpdateMessageInCampaign for a send's claim: one
	// transaction reads the message, its campaign, the person (user
	// document and suppression entry for m.Phone) and, when cap is on,
	// their ledger, then hands fn a Claim of what it read. A STOP, an
	// opt-out or a suppression committed before the claim commits is in
	// the Claim (the claim reads it, or retries when it moves under it);
	// one committed after waits for the claim, and finds it SENDING.
	//
	// Claim.At is now() taken in each attempt after the reads, so a claim
	// whose transaction retried is never older than the attempt that
	// commits it: the provider is called only after that commit.
	// RecentSends counts the sends recorded for m.Phone after
	// At - cap.Window (0 when cap is off), not m's own entry (a claim
	// taken again after a release must not count itself twice).
	//
	// fn claims by leaving m SENDING with ClaimedAt = At. Then the claim
	// is recorded: m's ledger entry becomes At (kept only when cap is on;
	// without a cap nothing is read, so entries could not be pruned) and
	// the person's last send time At. Otherwise the ledger is left as it
	// was. Exact under concurrent claims for one person: two that both
	// read Limit-1 cannot both commit. Invalid for a Window above
	// LedgerKeep; a nil now is time.Now.
	ClaimMessage(ctx context.Context, id string, now func() time.Time, cap FrequencyCap, fn func(c Claim, m *message.Message) error) (message.Message, error)
	// ForgetSend removes message id's entry from phone's ledger if it
	// still records the claim at claimedAt: the provider refused that
	// send, so the person got nothing. A later claim's entry, and a
	// ledger without the entry, are left alone; so is the last send time
	// (PeopleMessagedSince may count the person: a warning's over-count).
	ForgetSend(ctx context.Context, phone, id string, claimedAt time.Time) error
	// SendsSince reports, for each of phones (at most
	// MaxSuppressedLookup), how many sends its ledger records after since;
	// phones with none are absent. One batched read: the fan-out's check
	// before a message is given a task.
	SendsSince(ctx context.Context, phones []string, since time.Time) (map[string]int, error)
	// MessagedSince reports which of phones (at most MaxSuppressedLookup)
	// had a send claimed at or after since, by their ledger's latest send
	// (kept with a cap or without): whether a message now would start a
	// new conversation. One batched read.
	MessagedSince(ctx context.Context, phones []string, since time.Time) (map[string]bool, error)
	// PeopleMessagedSince counts the people whose latest claimed send is
	// at or after since (at most LedgerKeep ago), across campaigns: the
	// unique recipients a WhatsApp messaging tier limits.
	PeopleMessagedSince(ctx context.Context, since time.Time) (int, error)
}

// Claim is what a send's claim read in its transaction (ClaimMessage).
type Claim struct {
	// At is the claim's time, taken in the attempt that reads all this.
	At       time.Time
	Campaign campaign.Campaign
	// RecentSends is the person's other sends in the cap's window.
	RecentSends int
	// User is the person; HasUser is false when there is none.
	User    user.User
	HasUser bool
	// Suppressed: the message's number is on the do-not-message list.
	Suppressed bool
}

// DryRuns keeps each campaign's latest dry run.
type DryRuns interface {
	// StartDryRun stores r as the campaign's latest dry run, replacing
	// any earlier one.
	StartDryRun(ctx context.Context, r dryrun.Result) error
	// AdvanceDryRun stores r, read further or finished, over the run of
	// the same RunID that had read `from` people; Conflict when a later
	// run has replaced it, another delivery advanced it first, or none was
	// started: what is stored is left.
	AdvanceDryRun(ctx context.Context, r dryrun.Result, from int) error
	// GetDryRun is the campaign's latest dry run, with where its read goes
	// on (Next); NotExist when it has none.
	GetDryRun(ctx context.Context, campaignID string) (dryrun.Result, error)
}

// Suppressions keeps the global do-not-message list.
type Suppressions interface {
	// Suppress adds e (its number already normalised), or replaces the
	// reason of a number already suppressed, keeping when it was first
	// added.
	Suppress(ctx context.Context, e suppression.Entry) (suppression.Entry, error)
	// Unsuppress removes phone's entry; NotExist when there is none.
	Unsuppress(ctx context.Context, phone string) error
	// ListSuppressions pages the entries, newest first, and counts them.
	ListSuppressions(ctx context.Context, p Page) ([]suppression.Entry, int, error)
	// Suppressed reports which of phones (at most MaxSuppressedLookup)
	// are suppressed: one read for a batch of recipients.
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
}

// MaxSuppressedLookup is the most numbers one Suppressed call takes.
const MaxSuppressedLookup = 500

// UserFilter narrows a user list; the zero value lists everyone.
type UserFilter struct {
	Consent consent.State
	IDs     segment.Range // phones in this range only
}

// UserScan asks for one page of a segment's read: the users whose phone
// is in IDs and who pass every filter (segment.Filter says by which
// rules), at most Limit of them, after the page that returned After.
type UserScan struct {
	IDs     segment.Range
	Filters []segment.Filter
	After   string // the cursor the previous page returned; "" to start
	Limit   int
}

// Users keeps contacts and their consent history.
type Users interface {
	// CreateUser stores a new user and its first consent entry, with its
	// source and reference (a job id, a MessageSid); Exist if the phone is
	// taken.
	CreateUser(ctx context.Context, u user.User, src consent.Source, ref string) error
	GetUser(ctx context.Context, phone string) (user.User, error)
	// GetUsers returns the users that exist among phones, keyed by phone.
	GetUsers(ctx context.Context, phones []string) (map[string]user.User, error)
	// ListUsers lists users ordered by phone, with the total matching.
	ListUsers(ctx context.Context, f UserFilter, p Page) ([]user.User, int, error)
	// ScanUsers returns up to limit users with phone > after, by phone:
	// keyset paging for segment evaluation.
	ScanUsers(ctx context.Context, after string, limit int) ([]user.User, error)
	// ScanUsersWhere returns one page of q and the cursor of the next
	// page, "" when there is none. Pages come in an order of the store's
	// choosing (the cursor is opaque), and may hold fewer than Limit users
	// before the last. Filters hold at most one in and range filters (>=,
	// <=) on at most one field (else Invalid). Each page is a fresh read:
	// a user changed between pages may be read twice or not at all, as
	// with any keyset paging.
	ScanUsersWhere(ctx context.Context, q UserScan) ([]user.User, string, error)
	// SetConsent records a change to phone's consent (when To differs
	// from the current state) with its source and reference, atomically
	// with the change's history entry. When c.From is set, the change
	// applies only if the current state is still c.From (else changed is
	// false), so a decision made on a read is not applied to a newer
	// state. It returns the user after; NotExist for an unknown phone.
	SetConsent(ctx context.Context, c consent.Change) (user.User, bool, error)
	// ApplyKeyword applies a person's own STOP or START in one transaction
	// with what it depends on: a keyword received before the person's
	// latest (KeywordAt) changes nothing; otherwise the state moves as
	// consent.AfterIntent says, KeywordAt becomes k.At, and a change goes
	// into the history with k.Ref. A STOP from an unknown number creates a
	// STOP user; a START from one changes nothing. It returns the user
	// after (zero when none) and whether the state changed.
	ApplyKeyword(ctx context.Context, k consent.Keyword) (user.User, bool, error)
	// RecordInbound records that the person at phone wrote to us at at:
	// their LastInboundAt becomes at unless it is already as late (messages
	// are processed in any order, and again). A number without a user is
	// left alone. UpdatedAt does not move: nothing about them was edited.
	RecordInbound(ctx context.Context, phone string, at time.Time) error
	// SetMarketingOptOut records that the person at phone stopped
	// marketing messages in WhatsApp (o), unless it is recorded already:
	// the first report stands, so a redelivered or later one changes
	// nothing. A number without a user is left alone. It reports whether
	// it recorded o. UpdatedAt does not move: no one edited the person.
	SetMarketingOptOut(ctx context.Context, phone string, o user.MarketingOptOut) (bool, error)
	// ConsentHistory lists phone's consent changes, oldest first.
	ConsentHistory(ctx context.Context, phone string) ([]consent.Change, error)
	// CountOptOuts counts, across everyone, the consent changes from
	// OPT_IN to STOP or OPT_OUT made at or after from and at or before
	// to, by aggregation: the opt-outs while a campaign ran. A person
	// who opted out twice counts twice; an erased person's are gone.
	CountOptOuts(ctx context.Context, from, to time.Time) (int, error)
	CountUsers(ctx context.Context, f UserFilter) (int, error)
}

// Imports keeps bulk import jobs and applies their batches.
type Imports interface {
	CreateImportJob(ctx context.Context, j userimport.Job) error
	// UpdateImportJob replaces what reading the file found (state, row
	// counts, batches, errors) on an existing job, only while the job is
	// still in state from (Conflict otherwise: the reader and a batch that
	// gave up on it must not overwrite each other); NotExist when absent.
	UpdateImportJob(ctx context.Context, j userimport.Job, from userimport.State) error
	// GetImportJob returns the job with its counts tallied from the
	// batches applied so far, from a constant number of reads however
	// many batches the job has.
	GetImportJob(ctx context.Context, id string) (userimport.Job, error)
	// PeekImportJob returns the job as reading its file left it (state,
	// rows, batches, errors) without reading its batches: one document,
	// for each batch to check on.
	PeekImportJob(ctx context.Context, id string) (userimport.Job, error)
	// ApplyImportBatch upserts rows (at most MaxImportBatch) as one atomic
	// step: new users are created, attributes merged, consent set by
	// consent.Imported with history. Applying the same (job, batch) again
	// changes nothing and returns the first result.
	ApplyImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, at time.Time) (userimport.BatchResult, error)
	// RefuseImportBatch records that the batch was refused whole (the
	// store would never take it: reason), so its job can finish with its
	// rows counted as refused; a batch applied or refused already is left
	// as it was.
	RefuseImportBatch(ctx context.Context, jobID string, batch int, rows []userimport.Row, reason string, at time.Time) error
	// AppliedImportBatches lists the numbers of the job's applied
	// batches, in order: for handing on again only those not applied.
	AppliedImportBatches(ctx context.Context, jobID string) ([]int, error)

	// PutImportErrors stores chunk (0-based) of the job's row errors, at
	// most MaxImportErrorChunk of them, replacing that chunk if stored:
	// reading the file again writes the same chunks.
	PutImportErrors(ctx context.Context, jobID string, chunk int, details []errs.Detail) error
	// ImportErrors calls fn with every stored row error of the job, in
	// chunk order, reading one chunk at a time; it stops at fn's error.
	ImportErrors(ctx context.Context, jobID string, fn func(errs.Detail) error) error

	// ListImportJobs lists jobs in one of states (none: no jobs; Invalid
	// past 30 distinct) last updated before before, oldest first (by id
	// for a tie), at most limit, as PeekImportJob reads them: for the
	// sweep that moves on jobs a crash or a lost notification left behind.
	ListImportJobs(ctx context.Context, states []userimport.State, before time.Time, limit int) ([]userimport.Job, error)
}

// MaxImportErrorChunk is the most row errors one PutImportErrors takes
// (one document: 1,000 errors of at most a few hundred bytes each).
const MaxImportErrorChunk = 1000

// MaxImportBatch is the most rows one ApplyImportBatch takes: the step is
// one Firestore commit (at most 500 writes), and each row may write its
// user and a consent history entry.
const MaxImportBatch = 200

// Segments keeps segment definitions.
type Segments interface {
	CreateSegment(ctx context.Context, s segment.Segment) (segment.Segment, error) // assigns ID
	GetSegment(ctx context.Context, id string) (segment.Segment, error)
	ListSegments(ctx context.Context, p Page) ([]segment.Segment, int, error) // newest first
	// UpdateSegment runs fn on the current segment in a transaction; see
	// UpdateCampaign and Unchanged.
	UpdateSegment(ctx context.Context, id string, fn func(*segment.Segment) error) (segment.Segment, error)
}

// Templates keeps message templates.
type Templates interface {
	CreateTemplate(ctx context.Context, t template.Template) (template.Template, error) // assigns ID
	GetTemplate(ctx context.Context, id string) (template.Template, error)
	ListTemplates(ctx context.Context, p Page) ([]template.Template, int, error) // newest first
	// UpdateTemplate runs fn on the current template in a transaction and
	// stores the result; see UpdateCampaign and Unchanged.
	UpdateTemplate(ctx context.Context, id string, fn func(*template.Template) error) (template.Template, error)
}

// Campaigns keeps campaigns and the history of their status.
type Campaigns interface {
	// CreateCampaign stores a new campaign, assigning its ID, with the
	// changes it carries (campaign.Created) as the first entries of its
	// history.
	CreateCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error)
	GetCampaign(ctx context.Context, id string) (campaign.Campaign, error)
	ListCampaigns(ctx context.Context, p Page) ([]campaign.Campaign, int, error) // newest first
	// CountCampaigns counts the campaigns in status st (all when empty).
	CountCampaigns(ctx context.Context, st campaign.Status) (int, error)
	// CampaignsIn lists up to limit campaigns in status st, in no order.
	CampaignsIn(ctx context.Context, st campaign.Status, limit int) ([]campaign.Campaign, error)
	// UpdateCampaign runs fn on the current campaign in a transaction and
	// stores the result, unless fn returns an error: Unchanged ends the
	// update without a write (and without an error); any other is returned.
	// The changes fn records (campaign.Move) go into the campaign's history
	// in the same transaction; a status moved without its change is
	// refused (Invalid), so the history misses none.
	UpdateCampaign(ctx context.Context, id string, fn func(*campaign.Campaign) error) (campaign.Campaign, error)
	// CampaignHistory lists the campaign's changes, oldest first; NotExist
	// for an unknown campaign.
	CampaignHistory(ctx context.Context, id string) ([]campaign.Change, error)
	// DueCampaigns lists up to limit SCHEDULED campaigns whose
	// schedule_time is at or before before, earliest first.
	DueCampaigns(ctx context.Context, before time.Time, limit int) ([]campaign.Campaign, error)
	// UnsettledCampaigns lists up to limit campaigns marked Unsettled, in
	// no order.
	UnsettledCampaigns(ctx context.Context, limit int) ([]campaign.Campaign, error)
}

// Unchanged, returned by an update function, ends the update without a
// write and without an error.
var Unchanged = unchanged{}

type unchanged struct{}

func (unchanged) Error() string { return "unchanged" }

// MessageFilter narrows a message list.
type MessageFilter struct {
	CampaignID string // required
	Limit      int    // at least 1
}

// Counts are a campaign's cumulative message counts. A message counts in
// every stage it reached.
type Counts struct {
	Recipients int // messages of the campaign
	Queued     int // reached QUEUED (a task was made)
	Sent       int // has SentAt
	Delivered  int // has DeliveredAt
	Read       int // has ReadAt
	Failed     int // status FAILED
	Deferred   int // status DEFERRED now
	Held       int // status HELD now (a paused campaign's)
	// DeferredBy counts the messages ever deferred, by the step that
	// first deferred them (message.DeferredBy), whatever became of them.
	DeferredBy map[message.DeferReason]int
	Skipped    map[message.SkipReason]int // status SKIPPED, by reason
	ErrorCodes map[string]int             // FAILED, by error code
}

// Messages keeps campaign messages.
type Messages interface {
	// CreateMessages creates each message whose id is not taken; ids that
	// exist are left as they are. It returns how many it created.
	CreateMessages(ctx context.Context, ms []message.Message) (int, error)
	GetMessage(ctx context.Context, id string) (message.Message, error)
	GetMessages(ctx context.Context, ids []string) ([]message.Message, error) // in order; NotExist if any is missing
	// UpdateMessage runs fn on the current message in a transaction; see
	// UpdateCampaign and Unchanged.
	UpdateMessage(ctx context.Context, id string, fn func(*message.Message) error) (message.Message, error)
	// UpdateMessageInCampaign is UpdateMessage with the message's campaign
	// read in the same transaction and handed to fn: a change of the
	// campaign's status committed before fn's write is the one fn sees,
	// and one committed after it waits for it, so a decision made on the
	// campaign's status (send, hold, cancel) is exact however the two race.
	UpdateMessageInCampaign(ctx context.Context, id string, fn func(campaign.Campaign, *message.Message) error) (message.Message, error)
	// MessagesIn lists up to limit of the campaign's messages in one of
	// statuses (1 to 30 of them), in no order.
	MessagesIn(ctx context.Context, campaignID string, statuses []message.Status, limit int) ([]message.Message, error)
	// RecentSends looks at the campaign's last n messages by claim time
	// (those whose send started, newest first) and reports how many there
	// are (at most n) and how many of them FAILED: the failure rate of its
	// last sends, counted from the messages themselves.
	RecentSends(ctx context.Context, campaignID string, n int) (sends, failed int, err error)
	// MessageByProviderSID finds the message the provider knows as sid.
	MessageByProviderSID(ctx context.Context, sid string) (message.Message, error)
	// ListMessages lists a campaign's messages, most recently updated first.
	ListMessages(ctx context.Context, f MessageFilter) ([]message.Message, error)
	// HasUnconcluded reports whether any of the campaign's messages has not
	// concluded (see message.Status.Concluded). It reads at most one.
	HasUnconcluded(ctx context.Context, campaignID string) (bool, error)
	// ListUnconcluded lists up to limit of the campaign's messages that
	// have not concluded, in no order.
	ListUnconcluded(ctx context.Context, campaignID string, limit int) ([]message.Message, error)
	// StaleMessages lists up to limit of the campaign's messages that wait
	// for a send since before: PENDING or QUEUED ones last updated before
	// it, and DEFERRED ones due before it, the longest waiting first among
	// each (the stranded-message sweep's read: campaignrun.Sweep).
	StaleMessages(ctx context.Context, campaignID string, before time.Time, limit int) ([]message.Message, error)
	// CountStale counts the messages StaleMessages would list for before,
	// by aggregation, not by reading them.
	CountStale(ctx context.Context, campaignID string, before time.Time) (int, error)
	// CountMessages aggregates a campaign's messages without a counter
	// document.
	CountMessages(ctx context.Context, campaignID string) (Counts, error)
	// ScanMessages returns up to limit of the campaign's messages with an
	// id after after, by id: keyset paging for an export of any size. A
	// message changed between pages is read as it is when its page is.
	ScanMessages(ctx context.Context, campaignID, after string, limit int) ([]message.Message, error)
	// MessagesByStatus lists up to limit messages in status st with an id
	// after after, by id, across campaigns or within campaignID when it is
	// set: keyset paging through the operator's queue of messages held
	// with an unknown outcome (RECONCILE).
	MessagesByStatus(ctx context.Context, st message.Status, campaignID, after string, limit int) ([]message.Message, error)
	// CountByStatus counts the messages in status st, across campaigns or
	// within campaignID when it is set, by aggregation.
	CountByStatus(ctx context.Context, st message.Status, campaignID string) (int, error)
	// MessagesTo lists up to limit messages to phone across campaigns,
	// newest created first (by id, descending, for a tie): a person's history.
	MessagesTo(ctx context.Context, phone string, limit int) ([]message.Message, error)
}

// Problems keeps the misconfigurations functions met, one record per
// dependency and kind, for /health.
type Problems interface {
	// RecordProblem stores p, replacing the record of the same ID.
	RecordProblem(ctx context.Context, p health.Problem) error
	// ListProblems lists the problems last seen at or after since, the
	// most recent first.
	ListProblems(ctx context.Context, since time.Time) ([]health.Problem, error)
}

// Webhooks keeps Twilio callbacks, once each.
type Webhooks interface {
	// RecordWebhook stores e unless its ID exists; it returns the stored
	// event and whether this call created it.
	RecordWebhook(ctx context.Context, e webhook.Event) (webhook.Event, bool, error)
	// RecordWebhookStop is RecordWebhook for an inbound message whose
	// sender's state decides what is written with it (an opt-out's STOP,
	// or nothing but a scrubbed record for a sender erased since): when
	// it creates e, it reads the users stored under lookup.Numbers, which
	// of them are suppressed and the erased records under
	// lookup.ErasureKeys, hands them to decide, and commits e together
	// with what decide returns, or nothing at all (decide's error is
	// returned as it is). A replay (e exists) calls nothing and writes
	// nothing: whoever stored e applied its STOP. Invalid for more than
	// MaxStopLookup numbers or erasure keys, or a keyword for a number
	// (an erased record under a key) not looked up.
	RecordWebhookStop(ctx context.Context, e webhook.Event, lookup StopLookup, decide func(StopRead) (StopWrites, error)) (webhook.Event, bool, error)
	// MarkWebhookPublished sets the event's published marker: the only
	// field of a stored event that ever changes.
	MarkWebhookPublished(ctx context.Context, id string) error
	// ListUnpublished lists events received before the given time that
	// were never marked published, oldest first: what a sweep republishes.
	ListUnpublished(ctx context.Context, before time.Time, limit int) ([]webhook.Event, error)
	// ListWebhooks lists the newest events of a kind.
	ListWebhooks(ctx context.Context, kind webhook.Kind, limit int) ([]webhook.Event, error)
}

// MaxStopLookup is the most numbers RecordWebhookStop reads: a sender
// id, the number it maps to and that number's other forms.
const MaxStopLookup = 8

// StopLookup is what RecordWebhookStop reads: the numbers a sender id
// maps to (and the id), and the keys of their erased records
// (erasure.Hasher.Of).
type StopLookup struct {
	Numbers     []string
	ErasureKeys []string
}

// StopRead is what RecordWebhookStop read in its transaction.
type StopRead struct {
	// Users are the people stored under the numbers looked up, by phone.
	Users map[string]user.User
	// Suppressed are the numbers looked up that are on the suppression
	// list.
	Suppressed map[string]bool
	// Erased are the erased records kept under the keys looked up, by
	// key (nil when none were looked up).
	Erased map[string]erasure.Record
}

// StopWrites is what a STOP writes with its webhook record.
type StopWrites struct {
	// Keywords are applied as ApplyKeyword applies each (a keyword older
	// than the person's latest changes nothing; an unknown number becomes
	// a STOP user), decided on the users as read.
	Keywords []consent.Keyword
	// Suppress, when set, is added to the suppression list unless its
	// number is there already (an admin's reason stands). Its number
	// must be among those looked up.
	Suppress *suppression.Entry
	// Erased, when set, replaces the erased record under its key, which
	// must be among those looked up: a STOP from a person erased after
	// sending it is kept there, never on a user.
	Erased *erasure.Record
	// Scrub stores the record without its form (Params), which names the
	// sender, marked webhook.Event.Erased: its sender was erased after
	// sending it.
	Scrub bool
}
