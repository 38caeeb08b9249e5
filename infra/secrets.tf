# The secrets. Terraform makes the secrets, never their values: add a
# version by hand (README.md), so no secret ever sits in the state.

resource "google_secret_manager_secret" "twilio_auth_token" {
  secret_id = "twilio-auth-token"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret" "api_key_sha256" {
  secret_id = "api-key-sha256"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# The key of erased people's hashed opt-outs (shared/erasure): at least 32
# random bytes, such as `openssl rand -hex 32`. Never rotate it: a new key
# forgets every erased person's opt-out. The functions read the version
# var.erasure_key_version, never latest, and refuse a key other than the one
# whose fingerprint Firestore recorded.
resource "google_secret_manager_secret" "erasure_key" {
  secret_id = "erasure-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# The key that signs the Console's session cookies and CSRF tokens: at
# least 32 random bytes, such as `openssl rand -hex 32`. Rotating it signs
# every admin out.
resource "google_secret_manager_secret" "console_session_key" {
  secret_id = "console-session-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# Readable only by the functions that use them.
resource "google_secret_manager_secret_iam_member" "twilio_auth_token" {
  for_each = {
    webhooks = google_service_account.webhooks.member
    sender   = google_service_account.sender.member
  }

  secret_id = google_secret_manager_secret.twilio_auth_token.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_secret_manager_secret_iam_member" "api_key_sha256" {
  for_each = {
    api = google_service_account.api.member
  }

  secret_id = google_secret_manager_secret.api_key_sha256.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_secret_manager_secret_iam_member" "erasure_key" {
  for_each = {
    api            = google_service_account.api.member
    console        = google_service_account.console.member
    import_users   = google_service_account.import_users.member
    handle_inbound = google_service_account.handle_inbound.member
  }

  secret_id = google_secret_manager_secret.erasure_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_secret_manager_secret_iam_member" "console_session_key" {
  for_each = {
    console = google_service_account.console.member
  }

  secret_id = google_secret_manager_secret.console_session_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}
