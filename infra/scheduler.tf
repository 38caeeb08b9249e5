# The republish sweep: callbacks stored but never handed on (their webhook
# died in between) are published again. Called with an OIDC token of
# scheduler, which Cloud Run checks (run.invoker on the API), not the API key.

resource "google_service_account" "scheduler" {
  account_id   = "scheduler"
  display_name = "Calls the API's maintenance endpoints"

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_scheduler_job" "republish_webhooks" {
  name             = "republish-webhooks"
  region           = var.region
  description      = "Hands on Twilio callbacks stored but never published."
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # The next run is a minute away: no retries to pile up.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_urls["API"]}/api/v1/maintenance/republish-webhooks"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls["API"]
    }
  }

  depends_on = [google_project_service.enabled]
}

# Scheduled campaigns: those whose schedule_time has come are launched, so
# a campaign starts at most a minute late.
resource "google_cloud_scheduler_job" "launch_scheduled" {
  name             = "launch-scheduled"
  region           = var.region
  description      = "Launches the scheduled campaigns whose schedule_time has come."
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_urls["API"]}/api/v1/maintenance/launch-scheduled"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls["API"]
    }
  }

  depends_on = [google_project_service.enabled]
}

# The campaign check: a pause, resume or cancel whose settling was lost is
# asked for again; running campaigns with work due and no progress for
# STUCK_AFTER are logged as "campaign stuck", which the stuck_campaigns
# alert counts.
resource "google_cloud_scheduler_job" "check_campaigns" {
  name             = "check-campaigns"
  region           = var.region
  description      = "Reports running campaigns that stopped moving."
  schedule         = "*/5 * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_urls["API"]}/api/v1/maintenance/check-campaigns"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls["API"]
    }
  }

  depends_on = [google_project_service.enabled]
}

# The import sweep: files stored but never read (a lost notification, a
# request that died), batches lost on their way, client uploads that never
# came; and imports whose batches are all applied are recorded COMPLETED.
resource "google_cloud_scheduler_job" "check_imports" {
  name             = "check-imports"
  region           = var.region
  description      = "Moves on contact imports a crash or a lost message left behind."
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "300s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_urls["API"]}/api/v1/maintenance/check-imports"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls["API"]
    }
  }

  depends_on = [google_project_service.enabled]
}
