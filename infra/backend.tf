# State lives in a GCS bucket made before the first apply (see README.md);
# Cloud Build passes it with -backend-config=bucket=${_TF_STATE_BUCKET}.
terraform {
  backend "gcs" {
    prefix = "event-stream-engine"
  }
}
