# LaunchCampaign: one page of 500 users evaluated against the segment per
# event (topic campaign-launch); writes PENDING messages and hands them on.

resource "google_service_account" "launch_campaign" {
  account_id   = "fn-launchcampaign"
  display_name = "LaunchCampaign function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "launch_campaign_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.launch_campaign.member
}

# Pages chain: each asks for the next, and passes its messages on.
resource "google_pubsub_topic_iam_member" "launch_campaign_publisher" {
  for_each = toset(["campaign-launch", "recipient-batch"])

  topic  = google_pubsub_topic.event[each.value].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.launch_campaign.member
}

resource "google_cloudfunctions2_function" "launch_campaign" {
  name     = local.function_names["LaunchCampaign"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "LaunchCampaign"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription campaign-launch-push (pubsub.tf), not by an
  # Eventarc trigger, so its retries and dead letters are ours to set.
  service_config {
    service_account_email = google_service_account.launch_campaign.email
    # One page at a time per instance: a page holds 500 users and their
    # messages in memory. Pages of one campaign follow each other, so a few
    # instances serve several campaigns at once.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 1
    min_instance_count               = 0
    max_instance_count               = 5
    # Within the subscription's 60 s ack deadline.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(
      local.event_env,
      local.tasks_env,
      local.content_env,
      # A dry run read here counts the cap and warns before the tier.
      { WHATSAPP_TIER = var.whatsapp_tier, FREQUENCY_CAP_PER_24H = var.frequency_cap_per_24h },
      local.sender_ceiling_env,
      var.message_retention == "" ? {} : { MESSAGE_RETENTION = var.message_retention },
    )
  }
}

resource "google_cloud_run_v2_service_iam_member" "launch_campaign_push" {
  location = var.region
  name     = google_cloudfunctions2_function.launch_campaign.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
