output "function_urls" {
  description = "Every function's URL (cloudfunctions.net: the function sees the path without its name)."
  value       = local.function_urls
}

output "api_url" {
  description = "The API: call it with an identity token (README.md)."
  value       = local.function_urls["API"]
}

output "console_service" {
  description = "The Console's Cloud Run service: open it with gcloud run services proxy (README.md)."
  value       = google_cloudfunctions2_function.console.service_config[0].service
}

output "webhooks_url" {
  description = "The Webhooks function: PUBLIC_BASE_URL of the Webhooks and the Sender."
  value       = local.function_urls["Webhooks"]
}

output "sender_url" {
  description = "The Sender, the target of every send task."
  value       = local.function_urls["Sender"]
}

output "event_function_urls" {
  description = "The event functions, reached by their push subscriptions."
  value       = { for topic, name in local.event_functions : name => local.function_urls[name] }
}

# Both end with Twilio's connection overrides (setup.ConnectionOverrides):
# Twilio retries a 5xx, or a failed connection, only when the URL asks.
output "twilio_inbound_webhook_url" {
  description = "Paste into Twilio as the WhatsApp sender's 'A message comes in' webhook (HTTP POST), fragment included."
  value       = "${local.function_urls["Webhooks"]}/webhooks/inbound#rc=3&rp=ct,5xx"
}

output "twilio_status_webhook_url" {
  description = "Paste into Twilio as the sender's status callback URL, fragment included (each send names its own, with ?message_id=)."
  value       = "${local.function_urls["Webhooks"]}/webhooks/status#rc=3&rp=ct,5xx"
}
