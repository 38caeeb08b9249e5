# Sender: one Cloud Tasks task per message; re-checks consent and quiet
# hours, claims the message (or holds it, while its campaign is paused)
# and calls Twilio once; pauses a campaign whose sends keep failing. Private: invoked only by
# Cloud Tasks with an OIDC token of tasks-invoker.

resource "google_service_account" "sender" {
  account_id   = "fn-sender"
  display_name = "Sender function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "sender_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.sender.member
}

resource "google_cloudfunctions2_function" "sender" {
  name     = local.function_names["Sender"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "Sender"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.sender.email
    available_memory      = "256Mi"
    available_cpu         = "1"
    # A send mostly waits on Twilio (~300 ms): many fit on one vCPU.
    max_instance_request_concurrency = 20
    min_instance_count               = 0
    # 50 x 20 in flight at ~300 ms each is ~3,000 sends/s, above Cloud
    # Tasks' 500/s per queue: the queue's rate, not this cap, sets the pace.
    max_instance_count = 50
    # Twilio's API call plus, at worst, a reconciliation lookup.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.common_env, local.tasks_env, {
      PUBLIC_BASE_URL         = local.function_urls["Webhooks"]
      TWILIO_ACCOUNT_SID      = var.twilio_account_sid
      AUTO_PAUSE_WINDOW       = var.auto_pause_window
      AUTO_PAUSE_FAILURE_RATE = var.auto_pause_failure_rate
      FREQUENCY_CAP_PER_24H   = var.frequency_cap_per_24h
      TWILIO_TIMEOUT          = var.twilio_timeout
      RECONCILE_AFTER         = var.reconcile_after
      UNKNOWN_OUTCOME         = var.unknown_outcome
    }, local.twilio_sender_env, local.sender_ceiling_env)

    secret_environment_variables {
      key        = "TWILIO_AUTH_TOKEN"
      project_id = var.project
      secret     = google_secret_manager_secret.twilio_auth_token.secret_id
      version    = "latest"
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.twilio_auth_token]
}

resource "google_cloud_run_v2_service_iam_member" "sender_tasks" {
  location = var.region
  name     = google_cloudfunctions2_function.sender.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.tasks_invoker.member
}

locals {
  # The Sender's one WhatsApp sender: a number, or a Messaging Service
  # (variables.tf refuses both or neither).
  twilio_sender_env = var.twilio_messaging_service_sid == "" ? tomap({ TWILIO_FROM = var.twilio_from }) : tomap({ TWILIO_MESSAGING_SERVICE_SID = var.twilio_messaging_service_sid })
}
