# ReadImport: reads a client's file once it has arrived in the uploads
# bucket (topic import-upload, the bucket's notifications) and hands its
# batches on (topic user-import).

resource "google_service_account" "read_import" {
  account_id   = "fn-readimport"
  display_name = "ReadImport function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "read_import_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.read_import.member
}

resource "google_storage_bucket_iam_member" "read_import_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.read_import.member
}

resource "google_pubsub_topic_iam_member" "read_import_publisher" {
  topic  = google_pubsub_topic.event["user-import"].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.read_import.member
}

resource "google_cloudfunctions2_function" "read_import" {
  name     = local.function_names["ReadImport"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "ReadImport"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription import-upload-push (pubsub.tf).
  service_config {
    service_account_email = google_service_account.read_import.email
    # A file is read twice as it streams, on one core: one file at a time
    # per instance.
    available_memory                 = "1Gi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 1
    min_instance_count               = 0
    max_instance_count               = 10
    # A large file takes minutes; within its subscription's 600 s ack
    # deadline (pubsub.tf). A run cut short resumes on redelivery.
    timeout_seconds                = 540
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.event_env, {
      IMPORT_BUCKET = google_storage_bucket.uploads.name
    })
  }
}

resource "google_cloud_run_v2_service_iam_member" "read_import_push" {
  location = var.region
  name     = google_cloudfunctions2_function.read_import.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
