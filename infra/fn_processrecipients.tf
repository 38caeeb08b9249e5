# ProcessRecipients: compliance (consent, frequency cap, content, quiet
# hours) for a batch of 100 messages, then one named send task each (topic
# recipient-batch); and the settling of a pause, resume or cancel, a page
# at a time.

resource "google_service_account" "process_recipients" {
  account_id   = "fn-processrecipients"
  display_name = "ProcessRecipients function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "process_recipients_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.process_recipients.member
}

# Settling a resume publishes the fan-out page the pause held, and each
# settle page asks for the next.
resource "google_pubsub_topic_iam_member" "process_recipients_publisher" {
  for_each = toset(["campaign-launch", "recipient-batch"])

  topic  = google_pubsub_topic.event[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.process_recipients.member
}

resource "google_cloudfunctions2_function" "process_recipients" {
  name     = local.function_names["ProcessRecipients"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "ProcessRecipients"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription recipient-batch-push (pubsub.tf), not by an
  # Eventarc trigger, so its retries and dead letters are ours to set.
  service_config {
    service_account_email = google_service_account.process_recipients.email
    # Capped so task creation stays near Cloud Tasks' 500/50/5 ramp (start
    # at 500 creates/s, add 50% every 5 minutes): 2 instances x 1 batch x 16
    # parallel creates of ~60 ms each is ~500/s.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 1
    min_instance_count               = 0
    max_instance_count               = 2
    # Within the subscription's 60 s ack deadline.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.event_env, local.tasks_env, local.content_env, local.sender_ceiling_env, {
      FREQUENCY_CAP_PER_24H = var.frequency_cap_per_24h
    })
  }
}

resource "google_cloud_run_v2_service_iam_member" "process_recipients_push" {
  location = var.region
  name     = google_cloudfunctions2_function.process_recipients.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
