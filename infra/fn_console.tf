# Console: the operators' web console (/, /users, /campaigns, ...). Private:
# Cloud Run admits only admin_members (IAM), and the function checks the ID
# token's claims (expiry, issuer, ID_TOKEN_AUDIENCES; Cloud Run its signature) and admits
# only console_admins among them (CONSOLE_ADMINS; all of them when empty). It
# acts through the API's own code in process, so it holds what the API
# holds, less the maintenance sweeps' scheduler and the API key's hash.
# Open it with `gcloud run services proxy` (README.md).

resource "google_service_account" "console" {
  account_id   = "fn-console"
  display_name = "Console function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "console" {
  for_each = toset([
    "roles/datastore.user", # the store
    "roles/pubsub.viewer",  # the dashboard's dependency health
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.console.member
}

# Imports from the users page, as the API's: a request's file is written
# and read back, and upload URLs are signed as the function itself.
resource "google_storage_bucket_iam_member" "console_uploads" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.uploads.name
  role   = each.value
  member = google_service_account.console.member
}

resource "google_service_account_iam_member" "console_signs_as_itself" {
  service_account_id = google_service_account.console.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.console.member
}

# Imports and campaign launches publish, as the API does; so do
# dead-letter replays from monitoring.
resource "google_pubsub_topic_iam_member" "console_publisher" {
  for_each = local.event_functions

  topic  = google_pubsub_topic.event[each.key].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.console.member
}

# Monitoring lists dead letters.
resource "google_pubsub_subscription_iam_member" "console_dead_letters" {
  for_each = local.event_functions

  subscription = google_pubsub_subscription.dead_letter_pull[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.console.member
}

resource "google_cloudfunctions2_function" "console" {
  name     = local.function_names["Console"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "Console"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.console.email
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 20
    min_instance_count               = 0
    max_instance_count               = 5
    timeout_seconds                  = 300
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true

    environment_variables = merge(local.common_env, local.content_env, local.sender_ceiling_env, {
      API_AUTH              = "iam"
      ID_TOKEN_AUDIENCES    = local.id_token_audiences["Console"]
      TRUST_CLOUD_RUN_IAM   = "true" # as the API (fn_api.tf)
      IMPORT_BUCKET         = google_storage_bucket.uploads.name
      WHATSAPP_TIER         = var.whatsapp_tier
      FREQUENCY_CAP_PER_24H = var.frequency_cap_per_24h
      CONSOLE_ADMINS        = join(",", var.console_admins)
    })

    secret_environment_variables {
      key        = "CONSOLE_SESSION_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.console_session_key.secret_id
      version    = "latest"
    }
    secret_environment_variables {
      key        = "ERASURE_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.erasure_key.secret_id
      version    = var.erasure_key_version
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.console_session_key, google_secret_manager_secret_iam_member.erasure_key]
}

resource "google_cloud_run_v2_service_iam_member" "console_admins" {
  for_each = toset(var.admin_members)

  location = var.region
  name     = google_cloudfunctions2_function.console.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}
