# Each topic reaches its function through a push subscription of our own
# (not Eventarc's, which cannot carry a dead-letter policy): OIDC token of
# push-invoker, retries with backoff, and a dead-letter topic after
# var.delivery_attempts[topic] deliveries (events.DeliveryAttempts), read
# through a pull subscription by GET /api/v1/monitoring/dead-letters. Names
# as in shared/events.

locals {
  # Topic => the function serving it (functions/localroutes.EventFunctions).
  event_functions = {
    "import-upload"   = "ReadImport"
    "user-import"     = "ImportUsers"
    "campaign-launch" = "LaunchCampaign"
    "recipient-batch" = "ProcessRecipients"
    "inbound-message" = "HandleInbound"
    "delivery-status" = "HandleStatus"
  }

  pubsub_agent = "serviceAccount:${google_project_service_identity.pubsub.email}"

  # Seconds a push may take before Pub/Sub delivers it again: 60, or the
  # topic's function's longer timeout (ReadImport reads a whole file).
  ack_deadlines = {
    "import-upload" = 600
  }
}

# The Pub/Sub service agent, made to exist now (it otherwise appears on
# first use) so it can be granted what dead-lettering and OIDC need.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "push_invoker" {
  account_id   = "push-invoker"
  display_name = "Signs Pub/Sub pushes to the event functions"

  depends_on = [google_project_service.enabled]
}

# Pub/Sub mints the push OIDC tokens as push-invoker.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic" "event" {
  for_each = local.event_functions

  name = each.key

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.event_functions

  name = "${each.key}-dead-letter"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "push" {
  for_each = local.event_functions

  name  = "${each.key}-push"
  topic = google_pubsub_topic.event[each.key].id

  # functions-framework-go turns a push body posted to a path holding
  # projects/P/topics/T into a CloudEvent from that topic.
  push_config {
    push_endpoint = "${local.function_urls[each.value]}/projects/${var.project}/topics/${each.key}"
    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = local.function_urls[each.value]
    }
  }

  # Handlers answer within their timeout.
  ack_deadline_seconds       = lookup(local.ack_deadlines, each.key, 60)
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic = google_pubsub_topic.dead_letter[each.key].id
    # Every topic must be in the map: a missing one fails the plan here.
    max_delivery_attempts = var.delivery_attempts[each.key]
  }

  # Never expire for inactivity (the default is 31 days).
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter_pull" {
  for_each = local.event_functions

  name                       = "${each.key}-dead-letter-pull"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering: the service agent publishes to the dead-letter topic and
# acks (subscribes to) the push subscription it gave up on.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.event_functions

  topic  = google_pubsub_topic.dead_letter[each.key].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "push_subscriber" {
  for_each = local.event_functions

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# An event function buries an event it gives up on (older than
# EVENT_MAX_AGE) among its own topic's dead letters, so it publishes there.
resource "google_pubsub_topic_iam_member" "bury" {
  for_each = {
    "import-upload"   = google_service_account.read_import.member
    "user-import"     = google_service_account.import_users.member
    "campaign-launch" = google_service_account.launch_campaign.member
    "recipient-batch" = google_service_account.process_recipients.member
    "inbound-message" = google_service_account.handle_inbound.member
    "delivery-status" = google_service_account.handle_status.member
  }

  topic  = google_pubsub_topic.dead_letter[each.key].name
  role   = "roles/pubsub.publisher"
  member = each.value
}
