# Webhooks: Twilio's inbound messages and status callbacks. The only public
# function: Twilio cannot present a token, so every request must carry a
# valid X-Twilio-Signature over PUBLIC_BASE_URL + the path it called.

resource "google_service_account" "webhooks" {
  account_id   = "fn-webhooks"
  display_name = "Webhooks function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "webhooks_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.webhooks.member
}

# A stored callback is handed on to the function that processes it; a
# campaign paused for statuses failed in place is settled through
# recipient-batch.
resource "google_pubsub_topic_iam_member" "webhooks_publisher" {
  for_each = toset(["inbound-message", "delivery-status", "recipient-batch"])

  topic  = google_pubsub_topic.event[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.webhooks.member
}

resource "google_cloudfunctions2_function" "webhooks" {
  name     = local.function_names["Webhooks"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "Webhooks"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.webhooks.email
    # Small requests, answered at once: the least memory that gives a vCPU.
    available_memory = "256Mi"
    available_cpu    = "1"
    # Each request is a signature check and one Firestore write.
    max_instance_request_concurrency = 40
    # One warm instance: Twilio gives up on a webhook after 15 s and does
    # not retry a failed status callback.
    min_instance_count             = 1
    max_instance_count             = 20
    timeout_seconds                = 15
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.common_env, {
      PUBLIC_BASE_URL         = local.function_urls["Webhooks"]
      WEBHOOK_RETENTION       = var.webhook_retention
      AUTO_PAUSE_WINDOW       = var.auto_pause_window
      AUTO_PAUSE_FAILURE_RATE = var.auto_pause_failure_rate
      MARKETING_OPT_OUT_CODES = var.marketing_opt_out_codes
    })

    secret_environment_variables {
      key        = "TWILIO_AUTH_TOKEN"
      project_id = var.project
      secret     = google_secret_manager_secret.twilio_auth_token.secret_id
      version    = "latest"
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.twilio_auth_token]
}

# Public: the Twilio signature, checked by the function, protects it.
resource "google_cloud_run_v2_service_iam_member" "webhooks_public" {
  location = var.region
  name     = google_cloudfunctions2_function.webhooks.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
