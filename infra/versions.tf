terraform {
  required_version = ">= 1.5"

  required_providers {
    # Pinned to a major version; `terraform init` records the exact build in
    # .terraform.lock.hcl, which is committed once it exists.
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}
