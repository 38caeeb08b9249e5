# Cloud Tasks: one queue per campaign, campaign-<id>[-<n>], created, paused
# and deleted by the functions themselves, so they hold queue admin only on
# that name prefix. Tasks carry an OIDC token of tasks-invoker, the one
# identity the Sender admits.
#
# A doubt about that prefix: IAM honours a condition on resource.name only
# for the services listed in
# https://cloud.google.com/iam/docs/conditions-resource-attributes ("other
# services and resource types do not recognize resource attributes"), and
# it is not certain Cloud Tasks is one. If it is not, the condition never
# holds, the conditioned grants give nothing, and every campaign fails (no
# queue, no task; /health names the PermissionDenied). Check it once per
# project after the first apply, as someone allowed to impersonate the
# account (roles/iam.serviceAccountTokenCreator on it):
#
#   gcloud tasks queues create campaign-probe-$STAMP --location=$REGION \
#     --impersonate-service-account=fn-launchcampaign@$PROJECT.iam.gserviceaccount.com
#   gcloud tasks queues delete campaign-probe-$STAMP --location=$REGION --quiet \
#     --impersonate-service-account=fn-launchcampaign@$PROJECT.iam.gserviceaccount.com
#
# PERMISSION_DENIED on the create means the condition is not honoured: set
# tasks_iam_condition = false, which grants both roles on every queue of the
# project (the functions only ever touch campaign- queues themselves).

locals {
  queue_location = "projects/${var.project}/locations/${var.region}"

  # Queue-level permissions are checked on the queue's name; CreateQueue
  # and ListQueues are checked on the location, which is let through by
  # name too (it holds no queue outside the campaign- prefix we could harm).
  campaign_queues = join(" || ", [
    "resource.name.startsWith(\"${local.queue_location}/queues/campaign-\")",
    "resource.name == \"${local.queue_location}\"",
  ])

  # Who creates, pauses or deletes campaign queues.
  queue_admins = {
    launch_campaign    = google_service_account.launch_campaign.member
    process_recipients = google_service_account.process_recipients.member
    sender             = google_service_account.sender.member
  }

  # Who creates send tasks (and so signs them as tasks-invoker):
  # ProcessRecipients queues each recipient's message (campaignrun), the
  # Sender re-queues the ones it defers (sending). LaunchCampaign only
  # creates the campaign's queue.
  enqueuers = {
    process_recipients = google_service_account.process_recipients.member
    sender             = google_service_account.sender.member
  }
}

resource "google_service_account" "tasks_invoker" {
  account_id   = "tasks-invoker"
  display_name = "Signs Cloud Tasks' calls to the Sender"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "queue_admin" {
  for_each = local.queue_admins

  project = var.project
  role    = "roles/cloudtasks.queueAdmin"
  member  = each.value

  dynamic "condition" {
    for_each = var.tasks_iam_condition ? [local.campaign_queues] : []
    content {
      title      = "campaign queues"
      expression = condition.value
    }
  }
}

resource "google_project_iam_member" "enqueuer" {
  for_each = local.enqueuers

  project = var.project
  role    = "roles/cloudtasks.enqueuer"
  member  = each.value

  dynamic "condition" {
    for_each = var.tasks_iam_condition ? [local.campaign_queues] : []
    content {
      title      = "campaign queues"
      expression = condition.value
    }
  }
}

# A task with an OIDC token of tasks-invoker needs actAs on it.
resource "google_service_account_iam_member" "tasks_invoker_user" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
