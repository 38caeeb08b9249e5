# ImportUsers: applies one batch of 200 rows of an import (topic user-import).

resource "google_service_account" "import_users" {
  account_id   = "fn-importusers"
  display_name = "ImportUsers function"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "import_users_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.import_users.member
}

resource "google_cloudfunctions2_function" "import_users" {
  name     = local.function_names["ImportUsers"]
  location = var.region

  build_config {
    runtime         = "go126"
    entry_point     = "ImportUsers"
    service_account = google_service_account.functions_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by the push subscription user-import-push (pubsub.tf), not by an
  # Eventarc trigger, so its retries and dead letters are ours to set.
  service_config {
    service_account_email = google_service_account.import_users.email
    # A batch is 200 rows in a few transactions; 4 at once per instance and
    # 10 instances keep user writes near 500/s, what Firestore sustains on a
    # collection before it must split ranges.
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 4
    min_instance_count               = 0
    max_instance_count               = 10
    # Within the subscription's 60 s ack deadline.
    timeout_seconds                = 60
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = local.event_env

    # Rows of people erased while opted out come back opted out.
    secret_environment_variables {
      key        = "ERASURE_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.erasure_key.secret_id
      version    = var.erasure_key_version
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.erasure_key]
}

resource "google_cloud_run_v2_service_iam_member" "import_users_push" {
  location = var.region
  name     = google_cloudfunctions2_function.import_users.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
