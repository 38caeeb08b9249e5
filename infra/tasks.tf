# Cloud Tasks: one queue per campaign, campaign-<id>[-<n>], created, paused
# and deleted by the functions themselves, so they hold queue admin only on
# that name prefix. Tasks carry an OIDC token of tasks-invoker, the one
# identity the Sender admits.

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

  # Who creates send tasks (and so signs them as tasks-invoker).
  enqueuers = {
    launch_campaign    = google_service_account.launch_campaign.member
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

  condition {
    title      = "campaign queues"
    expression = local.campaign_queues
  }
}

resource "google_project_iam_member" "enqueuer" {
  for_each = local.enqueuers

  project = var.project
  role    = "roles/cloudtasks.enqueuer"
  member  = each.value

  condition {
    title      = "campaign queues"
    expression = local.campaign_queues
  }
}

# A task with an OIDC token of tasks-invoker needs actAs on it.
resource "google_service_account_iam_member" "tasks_invoker_user" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
