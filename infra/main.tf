# What every function shares: its URL, its source archive, its build
# identity and its common environment. One file per function holds the
# rest (fn_*.tf).

locals {
  # Each function's deployed name, by entry point: function ids are 4 to
  # 63 lowercase letters, digits and hyphens, so "API" cannot name one.
  function_names = {
    API               = "${var.name_prefix}-api"
    Console           = "${var.name_prefix}-console"
    Webhooks          = "${var.name_prefix}-webhooks"
    Sender            = "${var.name_prefix}-sender"
    ReadImport        = "${var.name_prefix}-readimport"
    ImportUsers       = "${var.name_prefix}-import-users"
    LaunchCampaign    = "${var.name_prefix}-launch-campaign"
    ProcessRecipients = "${var.name_prefix}-process-recipients"
    HandleInbound     = "${var.name_prefix}-handle-inbound"
    HandleStatus      = "${var.name_prefix}-handle-status"
  }

  # The deterministic cloudfunctions.net URL of each function, known before
  # any is created, so functions that name each other's URLs form no cycle.
  # The function sees the path with its name stripped.
  function_urls = {
    for entry, name in local.function_names :
    entry => "https://${var.region}-${var.project}.cloudfunctions.net/${name}"
  }

  # The audiences an admin's ID token may be for (ID_TOKEN_AUDIENCES), by
  # function: its cloudfunctions.net URL (the scheduler's tokens, and any
  # minted with --audiences), gcloud's own OAuth client id (the audience of
  # `gcloud auth print-identity-token` and of `gcloud run services proxy`
  # for a user), and any the operator adds.
  gcloud_client_id = "32555940559.apps.googleusercontent.com"
  id_token_audiences = {
    for entry in ["API", "Console"] :
    entry => join(",", distinct(concat([local.function_urls[entry], local.gcloud_client_id], var.extra_id_token_audiences)))
  }

  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project
    LOG_LEVEL            = var.log_level
  }

  # Pub/Sub-triggered functions: an event older than this is given up.
  event_env = merge(local.common_env, {
    EVENT_MAX_AGE = var.event_max_age
  })

  # Functions that run the compliance steps: the operator's content rules.
  content_env = merge(
    length(var.content_blocked_patterns) == 0 ? {} : { CONTENT_BLOCKED_PATTERNS = jsonencode(var.content_blocked_patterns) },
    var.content_opt_out_text == "" ? {} : { CONTENT_OPT_OUT_TEXT = var.content_opt_out_text },
  )

  # Functions that create send tasks: where they go and who signs them.
  tasks_env = {
    TASKS_LOCATION        = var.region
    SENDER_URL            = local.function_urls["Sender"]
    TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
    TASKS_AUDIENCE        = local.function_urls["Sender"]
  }

  # The sender's ceiling: the API refuses rates above it; the functions
  # that launch, pause, resume and conclude campaigns share it.
  sender_ceiling_env = {
    TWILIO_SENDER_MPS = var.twilio_sender_mps
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project}-function-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  depends_on = [google_project_service.enabled]
}

# Named by a hash of its content, so the functions are rebuilt exactly when
# the code that builds them changed, and an older commit's archive applied
# again rolls back. The zip's own bytes will not do: git archive stamps the
# commit time on every entry, so every commit (docs-only too) makes a new
# zip. scripts/source-archive writes source.hash, a hash of the archived
# files' contents (their git blob ids), given as var.source_hash; without it
# the name falls back to the zip's sha256 (a rebuild per commit).
resource "google_storage_bucket_object" "source" {
  name   = "source-${var.source_hash != "" ? var.source_hash : filesha256(var.source_archive)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_archive

  lifecycle {
    # Same name, same files: a new commit's zip differs only in its
    # timestamps. The functions read only the name, so none rebuilds; a
    # plan may still show the object's checksums updated in place.
    ignore_changes = [detect_md5hash]
  }
}

# The identity Cloud Build uses to build the functions (new projects no
# longer give the default compute account the roles a build needs).
resource "google_service_account" "functions_build" {
  account_id   = "functions-build"
  display_name = "Builds the functions' images"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "functions_build" {
  for_each = toset([
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.functions_build.member
}

resource "google_storage_bucket_iam_member" "functions_build_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.functions_build.member
}
