# The one database every function shares. The composite indexes and the TTL
# fields mirror shared/store/gcpfirestore/indexes.go (Indexes, TTLFields);
# infra_test.go fails when one is missing.

resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # terraform destroy leaves the data alone.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_backup_schedule" "daily" {
  database  = google_firestore_database.default.name
  retention = var.backup_retention

  daily_recurrence {}
}

# Composite indexes, one per entry of gcpfirestore.Indexes (collection scope
# unless it says Group).

resource "google_firestore_index" "messages_campaign_updated" { # ListMessages
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "campaign_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "webhooks_kind_received" { # ListWebhooks
  database   = google_firestore_database.default.name
  collection = "webhook_events"

  fields {
    field_path = "kind"
    order      = "ASCENDING"
  }
  fields {
    field_path = "received_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "webhooks_unpublished" { # ListUnpublished
  database   = google_firestore_database.default.name
  collection = "webhook_events"

  fields {
    field_path = "published"
    order      = "ASCENDING"
  }
  fields {
    field_path = "received_at"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "import_jobs_state_updated" { # ListImportJobs
  database   = google_firestore_database.default.name
  collection = "import_jobs"

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "ASCENDING"
  }
}

# GetImportJob sums these four over a job's batch markers in one query.
# RecentSends: a campaign's last claims, for its auto-pause. claimed_at
# itself is exempt from single-field indexing (below): this index is the
# only one that holds it.
resource "google_firestore_index" "messages_campaign_claimed" { # RecentSends
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "campaign_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "claimed_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "campaigns_scheduled" { # DueCampaigns
  database   = google_firestore_database.default.name
  collection = "campaigns"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "schedule_time"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "batches_totals" {
  database   = google_firestore_database.default.name
  collection = "batches"

  fields {
    field_path = "created"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated"
    order      = "ASCENDING"
  }
  fields {
    field_path = "unchanged"
    order      = "ASCENDING"
  }
  fields {
    field_path = "consent_kept"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "messages_campaign_status_skip" { # CountMessages
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "campaign_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "skip_reason"
    order      = "ASCENDING"
  }
}

# CountMessages' stage counts, its deferred-by-step count and HasUnconcluded:
# campaign_id plus one field.
resource "google_firestore_index" "messages_campaign_flag" {
  for_each = toset([
    "reached_queued", "reached_sent", "reached_delivered", "reached_read", "concluded", "deferred_by",
  ])

  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "campaign_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
}

# ScanUsersWhere: a segment's read of one consent state (or a few) and a
# last_inbound_at range.
resource "google_firestore_index" "users_consent_last_inbound" {
  database   = google_firestore_database.default.name
  collection = "users"

  fields {
    field_path = "consent_state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "last_inbound_at"
    order      = "ASCENDING"
  }
}

# MessagesTo: a person's messages across campaigns, newest first
# (GET /users/{phone}/history).
resource "google_firestore_index" "messages_phone_created" {
  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "phone_number"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# StaleMessages and CountStale (the stranded-message sweep, the dashboard):
# a campaign's PENDING or QUEUED messages by updated_at, its DEFERRED ones
# by scheduled_at.
resource "google_firestore_index" "messages_campaign_status_since" {
  for_each = toset(["updated_at", "scheduled_at"])

  database   = google_firestore_database.default.name
  collection = "messages"

  fields {
    field_path = "campaign_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
}

# CountOptOuts (a campaign summary's opt-outs): every person's
# consent_history at once, a collection group.
resource "google_firestore_index" "history_opt_outs" {
  database    = google_firestore_database.default.name
  collection  = "consent_history"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = "from"
    order      = "ASCENDING"
  }
  fields {
    field_path = "to"
    order      = "ASCENDING"
  }
  fields {
    field_path = "at"
    order      = "ASCENDING"
  }
}

# Single-field index exemptions. Firestore keeps a collection with an
# indexed, monotonically increasing field to about 500 writes/s, and every
# message is written several times: no query orders or filters on these
# timestamps through their single-field index (gcpfirestore.Queried lists
# the ones that do; messages.updated_at and webhook_events.received_at are
# read only through the composite indexes above, which still end in a
# rising timestamp: one campaign sending near 500 messages/s, or as many
# callbacks a second, can still make their tail hot); users.created_at is
# written rising by every import, so segments filter it on the documents
# read instead. Large fields (bodies, content variables, callback
# parameters, row errors) are never queried and would only cost index
# entries. Users' attributes stay indexed: segment reads filter their
# equalities in the query (an attribute whose values rise row after row in
# an import, such as a sequential customer number, is then held to ~500
# writes/s; exempt it here by its path, users.`attributes.<name>`, if one
# does).
locals {
  index_exemptions = {
    "messages.body"              = { collection = "messages", field = "body" }
    "messages.error_message"     = { collection = "messages", field = "error_message" }
    "messages.content_variables" = { collection = "messages", field = "content_variables" }
    "messages.created_at"        = { collection = "messages", field = "created_at" }
    "messages.scheduled_at"      = { collection = "messages", field = "scheduled_at" }
    "messages.queued_at"         = { collection = "messages", field = "queued_at" }
    "messages.claimed_at"        = { collection = "messages", field = "claimed_at" }
    "messages.sent_at"           = { collection = "messages", field = "sent_at" }
    "messages.delivered_at"      = { collection = "messages", field = "delivered_at" }
    "messages.read_at"           = { collection = "messages", field = "read_at" }
    "messages.failed_at"         = { collection = "messages", field = "failed_at" }
    "messages.updated_at"        = { collection = "messages", field = "updated_at" }
    "webhook_events.received_at" = { collection = "webhook_events", field = "received_at" }
    "webhook_events.params"      = { collection = "webhook_events", field = "params" }
    "users.created_at"           = { collection = "users", field = "created_at" }
    "users.updated_at"           = { collection = "users", field = "updated_at" }
    "users.keyword_at"           = { collection = "users", field = "keyword_at" }
    "import_jobs.errors"         = { collection = "import_jobs", field = "errors" }
    "errors.details"             = { collection = "errors", field = "details" }
    # A person's sends by message id: read by id, never queried.
    "send_ledger.sends" = { collection = "send_ledger", field = "sends" }
    # A dry run's report, a JSON string up to hundreds of KB: read by id.
    "dry_runs.result" = { collection = "dry_runs", field = "result" }
  }
}

resource "google_firestore_field" "exempt" {
  for_each = local.index_exemptions

  database   = google_firestore_database.default.name
  collection = each.value.collection
  field      = each.value.field

  # An empty index_config removes the field's automatic indexes.
  index_config {}
}

# TTL: Firestore deletes a document some time (up to a day) after its
# expire_at, which the code writes only when a retention is configured
# (always on send_ledger: a week after the person's last send; and on
# dry_runs: 30 days after the report's last write; on provider_sids, which
# name the message recording each Twilio sid, with that message's expiry;
# and on erased_opt_outs, only a record that keeps nothing, 30 days after
# the erasure). Never on users, consent_history or an erased record that
# keeps an opt-out: the proof of an opt-out lasts as long as the number may
# be messaged.
resource "google_firestore_field" "ttl" {
  for_each = {
    messages        = "expire_at"
    webhook_events  = "expire_at"
    send_ledger     = "expire_at"
    dry_runs        = "expire_at"
    provider_sids   = "expire_at"
    erased_opt_outs = "expire_at"
  }

  database   = google_firestore_database.default.name
  collection = each.key
  field      = each.value

  # Unindexed too: nothing queries it, and it increases with time (an
  # indexed rising field holds a collection to ~500 writes/s; send_ledger's
  # last_sent_at stays indexed for PeopleMessagedSince).
  index_config {}
  ttl_config {}
}
