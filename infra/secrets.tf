# The two secrets. Terraform makes the secrets, never their values: add a
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
