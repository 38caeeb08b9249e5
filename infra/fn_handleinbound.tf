# HandleInbound: STOP / START keywords change consent and its history
# (topic inbound-message).

resource "google_service_account" "handle_inbound" {
  account_id   = "fn-handleinbound"
  display_name = "HandleInbound function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "handle_inbound_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.handle_inbound.member
}

resource "google_cloudfunctions2_function" "handle_inbound" {
  name     = local.function_names["HandleInbound"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "HandleInbound"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription inbound-message-push (pubsub.tf), not by an
  # Eventarc trigger, so its retries and dead letters are ours to set.
  service_config {
    service_account_email = google_service_account.handle_inbound.email
    # A keyword is one short transaction on its user: light, and rare.
    available_memory                 = "256Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 10
    min_instance_count               = 0
    max_instance_count               = 10
    # Within the subscription's 60 s ack deadline.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = local.event_env

    # A callback handed on unstored whose sender was erased since brings
    # nothing of theirs back: their erased record is read by this key.
    secret_environment_variables {
      key        = "ERASURE_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.erasure_key.secret_id
      version    = var.erasure_key_version
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.erasure_key]
}

resource "google_cloud_run_v2_service_iam_member" "handle_inbound_push" {
  location = var.region
  name     = google_cloudfunctions2_function.handle_inbound.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
