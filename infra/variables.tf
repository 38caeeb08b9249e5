variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of the functions, the Cloud Tasks queues and the scheduler."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of every function's deployed name (function ids are lowercase letters, digits and hyphens)."
  type        = string
  default     = "ese"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,20}$", var.name_prefix))
    error_message = "name_prefix: lowercase letters, digits and hyphens, starting with a letter, at most 21."
  }
}

variable "firestore_location" {
  description = "Firestore location: a region (us-central1) or a multi-region (nam5). Fixed once created."
  type        = string
  default     = "nam5"
}

variable "source_archive" {
  description = "Local path of the zip of the Go module (scripts/source-archive writes it)."
  type        = string
  default     = "source.zip"
}

variable "source_hash" {
  description = "Content hash of the archived files (source.hash, written by scripts/source-archive), naming the bucket object; empty: the sha256 of source_archive, which changes with every commit."
  type        = string
  default     = ""

  validation {
    condition     = var.source_hash == "" || can(regex("^[0-9a-f]{64}$", var.source_hash))
    error_message = "source_hash: empty or 64 lowercase hex digits (the content of source.hash)."
  }
}

variable "twilio_account_sid" {
  description = "Twilio account SID (AC...)."
  type        = string
}

variable "twilio_from" {
  description = "Twilio WhatsApp sender, e.g. whatsapp:+14155550100; or leave it empty and set twilio_messaging_service_sid. No sandbox default in production."
  type        = string
  default     = ""

  validation {
    condition     = var.twilio_from == "" || startswith(var.twilio_from, "whatsapp:+")
    error_message = "twilio_from must look like whatsapp:+<E.164 number>."
  }
}

variable "twilio_messaging_service_sid" {
  description = "Twilio Messaging Service (MG...) whose sender pool holds the WhatsApp sender, instead of twilio_from."
  type        = string
  default     = ""

  validation {
    condition     = var.twilio_messaging_service_sid == "" || can(regex("^MG[0-9a-fA-F]{32}$", var.twilio_messaging_service_sid))
    error_message = "twilio_messaging_service_sid: empty, or MG followed by 32 hex digits."
  }

  validation {
    condition     = (var.twilio_from == "") != (var.twilio_messaging_service_sid == "")
    error_message = "Set exactly one of twilio_from and twilio_messaging_service_sid: the Sender's WhatsApp sender."
  }
}

variable "admin_members" {
  description = "Who may call the API, as IAM members (user:alice@example.com, group:..., serviceAccount:...)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.admin_members : !contains(["allusers", "allauthenticatedusers"], lower(trimspace(m)))])
    error_message = "admin_members may not hold allUsers or allAuthenticatedUsers: that would open the API and the console to anyone with a Google account, or to everyone."
  }
}

variable "api_admins" {
  description = "More e-mails the API admits (API_ADMINS), beside admin_members' users and service accounts and the scheduler: the members of admin_members' groups, whom the API cannot list."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.api_admins : can(regex("^[^@:,[:space:]]+@[^@:,[:space:]]+$", e))])
    error_message = "api_admins are plain e-mails (alice@example.com), not IAM members."
  }
}

variable "extra_id_token_audiences" {
  description = "More audiences an admin's ID token may be for (ID_TOKEN_AUDIENCES), beside each function's cloudfunctions.net URL and gcloud's client id: its run.app URL, or a Cloud Run custom audience, when tokens are minted for those."
  type        = list(string)
  default     = []
}

variable "console_admins" {
  description = "The e-mails the Console admits among admin_members (CONSOLE_ADMINS); empty admits every admin member."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.console_admins : can(regex("^[^@:,[:space:]]+@[^@:,[:space:]]+$", e))])
    error_message = "console_admins are plain e-mails (alice@example.com), not IAM members."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alerts go to."
  type        = list(string)
  default     = []
}

variable "delivery_attempts" {
  description = "By topic: deliveries of an event before Pub/Sub moves it to the topic's dead-letter topic (5 to 100). Mirrors events.DeliveryAttempts: the campaign fan-out topics, whose capped functions answer 429 while a large campaign's backlog drains, get 100, and so does inbound-message, which carries a STOP the Webhooks function could not store."
  type        = map(number)
  default = {
    "import-upload"   = 10
    "user-import"     = 10
    "campaign-launch" = 100
    "recipient-batch" = 100
    "inbound-message" = 100
    "delivery-status" = 10
  }

  validation {
    condition     = alltrue([for n in values(var.delivery_attempts) : n >= 5 && n <= 100])
    error_message = "delivery_attempts: every value must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "upload_origins" {
  description = "Origins (scheme://host[:port]) of the consoles whose pages may PUT files to the signed upload URLs from a browser (the uploads bucket's CORS); empty: only clients outside a browser (curl, scripts)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.upload_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "upload_origins: origins such as https://console.example.com, without a path or trailing slash."
  }
}

variable "tasks_iam_condition" {
  description = "Limit the functions' Cloud Tasks roles (queueAdmin, enqueuer) to campaign- queues with an IAM condition on resource.name. Set false if Cloud Tasks does not honour it (tasks.tf, infra/README.md: a probe queue created as fn-launchcampaign is refused): both roles are then granted on every queue of the project."
  type        = bool
  default     = true
}

variable "message_retention" {
  description = "How long a message is kept (MESSAGE_RETENTION, a Go duration such as 9504h); empty keeps them for ever."
  type        = string
  default     = "9504h"
}

variable "webhook_retention" {
  description = "How long a Twilio callback is kept (WEBHOOK_RETENTION); empty keeps them for ever."
  type        = string
  default     = "9504h"
}

variable "twilio_sender_mps" {
  description = "The WhatsApp sender's messages a second, shared by the campaigns running at once: a campaign rate above it is refused, and running campaigns' queues share it (TWILIO_SENDER_MPS; 0: no ceiling)."
  type        = number
  default     = 0

  validation {
    condition     = var.twilio_sender_mps >= 0 && floor(var.twilio_sender_mps) == var.twilio_sender_mps
    error_message = "twilio_sender_mps: a whole number of messages a second, 0 for no ceiling (the functions refuse a fraction at start)."
  }
}

variable "auto_pause_window" {
  description = "How many of a campaign's last sends are looked at to pause it when too many failed, refused by Twilio (Sender) or failed in a status callback (HandleStatus, Webhooks) (AUTO_PAUSE_WINDOW; 0: never)."
  type        = number
  default     = 100

  validation {
    condition     = var.auto_pause_window >= 0 && floor(var.auto_pause_window) == var.auto_pause_window
    error_message = "auto_pause_window: a whole number, 0 or more (the Sender refuses a fraction at start)."
  }
}

variable "frequency_cap_per_24h" {
  description = "The most business-initiated messages one person gets in any 24 hours across campaigns, enforced by the Sender's claim, checked at fan-out and counted by previews and dry runs (FREQUENCY_CAP_PER_24H; 0: no cap)."
  type        = number
  default     = 0

  validation {
    condition     = var.frequency_cap_per_24h >= 0 && floor(var.frequency_cap_per_24h) == var.frequency_cap_per_24h
    error_message = "frequency_cap_per_24h: a whole number, 0 or more (0: no cap)."
  }
}

variable "auto_pause_failure_rate" {
  description = "The share of those sends that may fail: more pauses the campaign, with the count as its reason (AUTO_PAUSE_FAILURE_RATE, above 0 and below 1)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.auto_pause_failure_rate > 0 && var.auto_pause_failure_rate < 1
    error_message = "auto_pause_failure_rate: above 0 and below 1, such as 0.5."
  }
}

variable "event_max_age" {
  description = "Age past which an event function does not handle an event but keeps it among its topic's dead letters (EVENT_MAX_AGE, a Go duration above zero)."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.event_max_age)) && !can(regex("^[0.]+[a-zµ]+$", var.event_max_age))
    error_message = "event_max_age: a Go duration above zero, such as 24h or 36h30m."
  }
}

variable "erasure_key_version" {
  description = "The version of the erasure-key secret the API, Console, ImportUsers and HandleInbound read as ERASURE_KEY, pinned (never \"latest\"): a new version is a new key, which would forget every erased person's kept opt-out, and the functions refuse to start with a key other than the one Firestore recorded (erasure_key/fingerprint). 1 after the first `gcloud secrets versions add erasure-key`."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.erasure_key_version))
    error_message = "erasure_key_version: a version number such as 1, never latest (a new version would be a new key)."
  }
}

variable "marketing_opt_out_codes" {
  description = "Twilio error codes (comma-separated, 5 digits each) that, failing a marketing template, mean the person stopped this business's marketing messages in WhatsApp (MARKETING_OPT_OUT_CODES; HandleStatus, Webhooks). The default 63033 is unverified against live Twilio: Twilio lists it as deprecated and as WhatsApp's 1007, not Meta's 131050."
  type        = string
  default     = "63033"

  validation {
    condition     = can(regex("^[0-9]{5}(,[0-9]{5})*$", var.marketing_opt_out_codes))
    error_message = "marketing_opt_out_codes: Twilio error codes of 5 digits, comma-separated, such as 63033 (the functions refuse anything else at start)."
  }
}

variable "twilio_timeout" {
  description = "How long the Sender waits for each call to Twilio's API (TWILIO_TIMEOUT, a Go duration above zero, at most 25s): a send's outcome is unknown for at most this long. reconcile_after must be at least 4 times it."
  type        = string
  default     = "15s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.twilio_timeout)) && !can(regex("^[0.]+[a-zµ]+$", var.twilio_timeout))
    error_message = "twilio_timeout: a Go duration above zero, such as 15s (the Sender also refuses more than 25s)."
  }
}

variable "reconcile_after" {
  description = "Age after which a claim Twilio never listed may be sent again under unknown_outcome = resend_after (RECONCILE_AFTER, a Go duration, at least 4 times twilio_timeout: the Sender refuses less at start)."
  type        = string
  default     = "2m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.reconcile_after)) && !can(regex("^[0.]+[a-zµ]+$", var.reconcile_after))
    error_message = "reconcile_after: a Go duration above zero, such as 2m."
  }
}

variable "unknown_outcome" {
  description = "What the Sender does with a send whose outcome is unknown and which Twilio does not list once reconcile_after has passed (UNKNOWN_OUTCOME): resend_after sends it again; hold keeps it RECONCILE for an operator (GET /api/v1/messages?status=RECONCILE, POST /api/v1/messages/{id}/resolve)."
  type        = string
  default     = "resend_after"

  validation {
    condition     = contains(["resend_after", "hold"], var.unknown_outcome)
    error_message = "unknown_outcome: resend_after or hold."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "backup_retention" {
  description = "How long each daily Firestore backup is kept."
  type        = string
  default     = "1209600s" # 14 days
}

variable "content_blocked_patterns" {
  description = "Patterns (RE2, as Go's regexp) no message may match: a match skips it as content_blocked (CONTENT_BLOCKED_PATTERNS, passed as a JSON array; the functions refuse to start on one that does not compile)."
  type        = list(string)
  default     = []
}

variable "content_opt_out_text" {
  description = "Wording every marketing message must contain, compared without regard to case, such as \"Reply STOP\" (CONTENT_OPT_OUT_TEXT; empty: none required). Utility templates are exempt."
  type        = string
  default     = ""
}

variable "whatsapp_tier" {
  description = "The sender's WhatsApp messaging limit: how many people it may start conversations with in 24 hours, or unlimited (WHATSAPP_TIER). A dry run warns before a campaign would pass it."
  type        = string
  default     = "unlimited"

  validation {
    condition     = var.whatsapp_tier == "unlimited" || can(regex("^[1-9][0-9]*$", var.whatsapp_tier))
    error_message = "whatsapp_tier: a whole number of people, 1 or more (such as 1000 or 100000), or unlimited."
  }
}
