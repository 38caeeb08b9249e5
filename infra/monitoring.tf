# Alerts, sent to var.notification_channels.

locals {
  # Cloud Run names a function's service after it, in lower case.
  function_services = [for name in keys(local.function_urls) : lower(name)]
  services_regex    = "^(${join("|", local.function_services)})$"
}

# A dead letter is an event that failed every delivery: nothing retries it
# until someone looks (GET /api/v1/monitoring/dead-letters) and replays it.
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
    content   = "Events failed every delivery attempt. List them with GET /api/v1/monitoring/dead-letters, fix the cause, then replay them."
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

# Stuck campaigns: a campaign stops moving when a function keeps failing
# (Cloud Tasks misconfigured, a queue that cannot be made, an event given
# up past EVENT_MAX_AGE, Twilio refusing every send). Each of those is
# logged at ERROR, so the signal is any ERROR line from our functions; a
# line-specific metric would miss the causes nobody foresaw.
resource "google_logging_metric" "function_errors" {
  name        = "function_errors"
  description = "ERROR (or worse) log lines from the functions."
  filter      = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name =~ \"${local.services_regex}\" AND severity >= ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key        = "service_name"
      value_type = "STRING"
    }
  }
  label_extractors = {
    service_name = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "stuck_campaigns" {
  display_name          = "Functions log errors (campaigns may be stuck)"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "ERROR lines from a function for 10 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service_name"]
      }
    }
  }

  documentation {
    content   = "A function keeps logging errors. Read them in Logs Explorer (severity>=ERROR on its Cloud Run service); GET /health names a Cloud Tasks or Pub/Sub misconfiguration."
    mime_type = "text/markdown"
  }
}
