# API: the admin REST API under /api/v1 and /health. Private: Cloud Run
# admits only admin_members and the scheduler (IAM), then the function checks
# the ID token's claims (API_AUTH=iam: expiry, issuer, one of
# ID_TOKEN_AUDIENCES; the signature is Cloud Run's to check) and admits only
# the e-mails of API_ADMINS: any Google account can mint a token for
# gcloud's client id.

locals {
  # API_ADMINS: the e-mails of admin_members' users and service accounts,
  # api_admins (the members of admin_members' groups), and the scheduler,
  # whose OIDC tokens call the maintenance routes. The Console calls the
  # API in process, not over HTTP.
  api_admins = distinct(concat(
    [for m in var.admin_members : lower(trimspace(split(":", m)[1])) if length(split(":", m)) == 2 && contains(["user", "serviceaccount"], lower(trimspace(split(":", m)[0])))],
    [for e in var.api_admins : lower(trimspace(e))],
    [google_service_account.scheduler.email],
  ))
}

resource "google_service_account" "api" {
  account_id   = "fn-api"
  display_name = "API function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "api" {
  for_each = toset([
    "roles/datastore.user", # the store
    "roles/pubsub.viewer",  # /health checks the topics and subscriptions exist
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.api.member
}

# Imports: the API writes a request's file (direct/) and reads it back,
# and signs URLs through which clients create theirs (uploads/). A signed
# URL acts with its signer's permissions: creating, never replacing, so a
# file cannot change under an import reading it.
resource "google_storage_bucket_iam_member" "api_uploads" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.uploads.name
  role   = each.value
  member = google_service_account.api.member
}

# With no key file, the storage library signs those URLs through the IAM
# Credentials signBlob API as the function's own account.
resource "google_service_account_iam_member" "api_signs_as_itself" {
  service_account_id = google_service_account.api.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.api.member
}

# Imports, campaign triggers, the republish sweep and dead-letter replays
# publish to every topic.
resource "google_pubsub_topic_iam_member" "api_publisher" {
  for_each = local.event_functions

  topic  = google_pubsub_topic.event[each.key].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.api.member
}

# GET /api/v1/monitoring/dead-letters reads (and a replay acks) dead letters.
resource "google_pubsub_subscription_iam_member" "api_dead_letters" {
  for_each = local.event_functions

  subscription = google_pubsub_subscription.dead_letter_pull[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.api.member
}

resource "google_cloudfunctions2_function" "api" {
  name     = local.function_names["API"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "API"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.api.email
    # A 32 MB CSV upload is parsed as it streams; 512Mi leaves room for
    # the multipart buffers of several at once.
    available_memory = "512Mi"
    available_cpu    = "1"
    # Admin traffic is light: one instance serves a team.
    max_instance_request_concurrency = 20
    min_instance_count               = 0
    max_instance_count               = 10
    # A 32 MB upload over a 1 Mbit/s link takes about 260 s.
    timeout_seconds                = 300
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    # No send-queue settings: /health reports the Cloud Tasks problems the
    # other functions record in Firestore.
    environment_variables = merge(local.common_env, local.content_env, local.sender_ceiling_env, {
      API_AUTH           = "iam"
      ID_TOKEN_AUDIENCES = local.id_token_audiences["API"]
      # Cloud Run IAM checks each ID token, then replaces its signature
      # (SIGNATURE_REMOVED_BY_GOOGLE); admin_members is never public.
      TRUST_CLOUD_RUN_IAM = "true"
      API_ADMINS          = join(",", local.api_admins)
      IMPORT_BUCKET       = google_storage_bucket.uploads.name
      WHATSAPP_TIER       = var.whatsapp_tier
      # Previews and dry runs count the cap as the fan-out does.
      FREQUENCY_CAP_PER_24H = var.frequency_cap_per_24h
    })

    secret_environment_variables {
      key        = "API_KEY_SHA256"
      project_id = var.project
      secret     = google_secret_manager_secret.api_key_sha256.secret_id
      version    = "latest"
    }
    secret_environment_variables {
      key        = "ERASURE_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.erasure_key.secret_id
      version    = var.erasure_key_version
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.api_key_sha256, google_secret_manager_secret_iam_member.erasure_key]
}

resource "google_cloud_run_v2_service_iam_member" "api_admins" {
  for_each = toset(var.admin_members)

  location = var.region
  name     = google_cloudfunctions2_function.api.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_run_v2_service_iam_member" "api_scheduler" {
  location = var.region
  name     = google_cloudfunctions2_function.api.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
