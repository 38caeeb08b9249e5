# HandleStatus: Twilio delivery statuses move messages forward only
# (topic delivery-status).

resource "google_service_account" "handle_status" {
  account_id   = "fn-handlestatus"
  display_name = "HandleStatus function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "handle_status_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.handle_status.member
}

# A campaign whose statuses fail too often is paused, and its pause
# settled through recipient-batch (ProcessRecipients pauses its queue).
resource "google_pubsub_topic_iam_member" "handle_status_settle" {
  topic  = google_pubsub_topic.event["recipient-batch"].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.handle_status.member
}

resource "google_cloudfunctions2_function" "handle_status" {
  name     = local.function_names["HandleStatus"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "HandleStatus"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription delivery-status-push (pubsub.tf), not by an
  # Eventarc trigger, so its retries and dead letters are ours to set.
  service_config {
    service_account_email = google_service_account.handle_status.email
    # Three or four callbacks per message, each one short transaction:
    # the busiest event function during a campaign.
    available_memory                 = "256Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 20
    min_instance_count               = 0
    max_instance_count               = 20
    # Within the subscription's 60 s ack deadline.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.event_env, {
      AUTO_PAUSE_WINDOW       = var.auto_pause_window
      AUTO_PAUSE_FAILURE_RATE = var.auto_pause_failure_rate
      MARKETING_OPT_OUT_CODES = var.marketing_opt_out_codes
    })
  }
}

resource "google_cloud_run_v2_service_iam_member" "handle_status_push" {
  location = var.region
  name     = google_cloudfunctions2_function.handle_status.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
