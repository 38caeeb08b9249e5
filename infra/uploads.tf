# The uploads bucket: contact files on their way into an import. The API
# writes a request's file under direct/ and signs URLs through which
# clients PUT larger ones under uploads/; each arrival under uploads/ is
# announced on topic import-upload, which ReadImport serves (its push
# subscription, retries and dead letters are in pubsub.tf). The files hold
# personal data: nothing keeps them past a day.

resource "google_storage_bucket" "uploads" {
  name                        = "${var.project}-uploads"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # An import reads its file within minutes; the import sweep fails one
  # whose file never came. Lifecycle deletes run within a day of the age.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "Delete"
    }
  }

  # A deleted file is gone: no soft-deleted copy kept for a week.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  # Browsers on the console's origins may PUT to a signed URL (a fetch
  # with the file as its body, which sends its Content-Type).
  dynamic "cors" {
    for_each = length(var.upload_origins) > 0 ? [var.upload_origins] : []
    content {
      origin          = cors.value
      method          = ["PUT"]
      response_header = ["Content-Type"]
      max_age_seconds = 3600
    }
  }

  depends_on = [google_project_service.enabled]
}

# Cloud Storage's own service agent publishes the notifications.
data "google_storage_project_service_account" "gcs" {
  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic_iam_member" "storage_agent_publisher" {
  topic  = google_pubsub_topic.event["import-upload"].name
  role   = "roles/pubsub.publisher"
  member = data.google_storage_project_service_account.gcs.member
}

# Only clients' uploads (uploads.ClientFolder): the API reads what it
# writes under direct/ itself. The JSON resource carries bucket, name and
# size (events.ObjectFinalized). localstack.UploadsNotification is the
# same locally.
resource "google_storage_notification" "uploads" {
  bucket             = google_storage_bucket.uploads.name
  payload_format     = "JSON_API_V1"
  topic              = google_pubsub_topic.event["import-upload"].id
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = "uploads/"

  # Creating it fails unless the agent may already publish.
  depends_on = [google_pubsub_topic_iam_member.storage_agent_publisher]
}
