# Alerts, sent to var.notification_channels.

locals {
  # Cloud Run names a function's service after the function.
  function_services = values(local.function_names)
}

# A dead letter is an event that failed every delivery, or that its
# function buried past EVENT_MAX_AGE: nothing retries it until someone
# looks (GET /api/v1/monitoring/dead-letters) and replays or discards it.
resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Dead letters waiting"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A dead-letter subscription holds messages"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = ends_with(\"-dead-letter-pull\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "Events failed every delivery attempt, or waited past EVENT_MAX_AGE (their reason says which). List them with GET /api/v1/monitoring/dead-letters, fix the cause, then replay them (POST .../replay), or discard one no handler will take (POST .../discard)."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.enabled]
}

# 5xx answers: the API or Webhooks failing their callers, or event
# functions asking Pub/Sub to retry (transient failures) more than usual.
resource "google_monitoring_alert_policy" "server_errors" {
  display_name          = "Functions answer 5xx"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "More than 5% of a function's requests answered 5xx over 5 minutes"
    condition_prometheus_query_language {
      query               = <<-EOT
        sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision", service_name=~"${join("|", local.function_services)}", response_code_class="5xx"}[5m]))
          /
        sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision", service_name=~"${join("|", local.function_services)}"}[5m]))
          > 0.05
      EOT
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Stuck campaigns: the API's campaign check (Cloud Scheduler, every five
# minutes) logs "campaign stuck" at ERROR for each running campaign with
# work due and no progress for STUCK_AFTER.
resource "google_logging_metric" "stuck_campaigns" {
  name        = "stuck_campaigns"
  description = "Running campaigns reported stuck by the campaign check."
  filter      = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.function_names["API"]}\" AND jsonPayload.message = \"campaign stuck\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "stuck_campaigns" {
  display_name          = "Campaigns stuck"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A running campaign made no progress for STUCK_AFTER"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.stuck_campaigns.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "A running campaign has work due and made no progress. POST /api/v1/maintenance/check-campaigns lists them with the reason; GET /health names a Cloud Tasks or Pub/Sub misconfiguration; GET /api/v1/monitoring/dead-letters lists events that ran out of attempts."
    mime_type = "text/markdown"
  }
}
