package gcpfirestore

// What production Firestore needs beyond its automatic single-field
// indexes, read from the queries in this package. infra/firestore.tf
// declares each, and infra's consistency test fails when one is missing:
// a query added here with an inequality or an order on a second field
// adds its index to Indexes in the same change.

// Order is an index field's direction, as Firestore and Terraform spell it.
type Order string

// Directions.
const (
	Asc  Order = "ASCENDING"
	Desc Order = "DESCENDING"
)

// IndexField is one field of a composite index.
type IndexField struct {
	Path  string
	Order Order
}

// Index is a composite index, of collection scope unless Group.
type Index struct {
	Collection string
	Fields     []IndexField
	Serves     string // the query it is for
	// Group: the index serves queries over every collection of that id
	// (a collection group), such as every person's consent_history.
	Group bool
}

// Indexes lists every composite index. The first six are required (the
// query fails without them); the count composites make CountMessages and
// HasUnconcluded read one index instead of merging single-field ones,
// which matters once a campaign has many thousands of messages. The
// batches composite holds every field GetImportJob sums, so that its one
// aggregation reads one index: Firestore computes a sum from index
// entries, and the emulator, which needs no index, cannot tell whether
// production would refuse the query without it. The users composite
// serves a segment read of one consent state and a last_inbound_at range
// (ScanUsersWhere); without it that query fails. So does MessagesTo
// without the last (it orders on a field after its equality).
var Indexes = []Index{
	{colMessages, []IndexField{{"campaign_id", Asc}, {"updated_at", Desc}}, "ListMessages", false},
	{colWebhooks, []IndexField{{"kind", Asc}, {"received_at", Desc}}, "ListWebhooks", false},
	{colWebhooks, []IndexField{{"published", Asc}, {"received_at", Asc}}, "ListUnpublished", false},
	{colJobs, []IndexField{{"state", Asc}, {"updated_at", Asc}}, "ListImportJobs", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"claimed_at", Desc}}, "RecentSends", false},
	{colCampaigns, []IndexField{{"status", Asc}, {"schedule_time", Asc}}, "DueCampaigns", false},
	{colBatches, []IndexField{{"created", Asc}, {"updated", Asc}, {"unchanged", Asc}, {"consent_kept", Asc}}, "GetImportJob (batch totals)", false},

	{colUsers, []IndexField{{"consent_state", Asc}, {"last_inbound_at", Asc}}, "ScanUsersWhere (consent_state and a last_inbound_at range)", false},

	{colMessages, []IndexField{{"campaign_id", Asc}, {"status", Asc}, {"skip_reason", Asc}}, "CountMessages (status, skip reasons)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"reached_queued", Asc}}, "CountMessages (queued)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"reached_sent", Asc}}, "CountMessages (sent)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"reached_delivered", Asc}}, "CountMessages (delivered)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"reached_read", Asc}}, "CountMessages (read)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"concluded", Asc}}, "HasUnconcluded", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"deferred_by", Asc}}, "CountMessages (deferred by step)", false},

	{colMessages, []IndexField{{"phone_number", Asc}, {"created_at", Desc}}, "MessagesTo (a person's history)", false},

	{colMessages, []IndexField{{"campaign_id", Asc}, {"status", Asc}, {"updated_at", Asc}}, "StaleMessages, CountStale (PENDING or QUEUED)", false},
	{colMessages, []IndexField{{"campaign_id", Asc}, {"status", Asc}, {"scheduled_at", Asc}}, "StaleMessages, CountStale (DEFERRED)", false},

	{Collection: colHistory, Fields: []IndexField{{"from", Asc}, {"to", Asc}, {"at", Asc}}, Serves: "CountOptOuts (a campaign summary's opt-outs)", Group: true},
}

// Queried lists, per collection id, the fields queries filter, order or
// sum on through automatic single-field indexes: an index exemption must
// never name one of them.
var Queried = map[string][]string{
	colBatches:   {"created", "updated", "unchanged", "consent_kept", "refused", "reason"},
	colErrors:    {"chunk"},
	colUsers:     {"consent_state", "last_inbound_at", "attributes"}, // attributes' fields by WherePath in ScanUsersWhere
	colHistory:   {"at"},
	colSegments:  {"created_at"},
	colTemplates: {"created_at"},
	colCampaigns: {"created_at", "status", "unsettled"},
	colMessages: {"campaign_id", "provider_sid", "status", "skip_reason", "error_code", "phone_number",
		"reached_queued", "reached_sent", "reached_delivered", "reached_read", "concluded", "deferred_by"},
	colWebhooks:   {"kind", "published", "party"},
	colProblems:   {"at"},
	colSuppressed: {"created_at"},
	colLedger:     {"last_sent_at"},
}

// TTLFields names, per collection id, the timestamp Firestore's TTL policy
// deletes documents by. The code writes it on messages and webhook_events
// only when a retention is configured (MESSAGE_RETENTION,
// WEBHOOK_RETENTION). Never users or consent_history: the proof of an
// opt-out lasts as long as the number may be messaged.
var TTLFields = map[string]string{
	colMessages: TTLField,
	colWebhooks: TTLField,
	colLedger:   TTLField, // always written: LedgerKeep after the last send
	colDryRuns:  TTLField, // always written: dryRunKeep after the last write
	// With its message's expiry.
	colProviderSIDs: TTLField,
	// Only on a record that keeps nothing (erasure.ErasedOnlyKeep).
	colErased: TTLField,
}
