package twilioform

// meanings are the Twilio error codes our messages fail with, in a line
// each, as a campaign summary explains its top codes. From Twilio's error
// dictionary (twilio.com/docs/api/errors/<code>) and its table of the
// WhatsApp codes behind them.
var meanings = map[string]string{
	// Status callbacks (failed or undelivered).
	"30001": "queue overflow: Twilio's queue for the sender was full",
	"30003": "unreachable destination handset",
	"30005": "unknown destination handset",
	"30006": "landline or unreachable carrier",
	"30007": "message filtered by the carrier",
	"30008": "unknown error from the carrier or WhatsApp",
	"63003": "the number is not a valid WhatsApp number",
	"63013": "the message violates a WhatsApp policy",
	"63016": "free text outside the 24-hour window: WhatsApp takes only an approved template then",
	"63018": "the sender's rate or the business portfolio's messaging limit was reached",
	"63021": "WhatsApp refused the message as invalid",
	"63024": "the recipient is not a WhatsApp user, or cannot receive messages",
	"63027": "the template does not exist for this language",
	"63028": "the template's variables do not match what was approved",
	"63030": "an unsupported parameter for this template",
	"63032": "the template is paused or disabled for its low quality",
	"63033": "deprecated (WhatsApp 1007); by default taken as the person having stopped marketing messages from this business (MARKETING_OPT_OUT_CODES)",
	"63049": "Meta chose not to deliver this marketing message to the person (per-user marketing limit, or a US number)",
	// The API's answer.
	"20003": "Twilio refused the credentials",
	"20404": "the Twilio resource (account, sender, Messaging Service) was not found",
	"20429": "too many requests to Twilio's API",
	"21211": "the 'To' number is not a valid phone number",
	"21610": "the person unsubscribed from this sender with STOP",
	"21611": "the sender's queue at Twilio is full",
	"21614": "the 'To' number cannot receive this channel's messages",
	// Words standing for a failure that came without a code.
	"failed":      "failed, without an error code",
	"undelivered": "undelivered, without an error code",
	"canceled":    "cancelled before it was sent",
}

// ErrorMeaning says in a line what a Twilio error code means; "" for a
// code not in the table.
func ErrorMeaning(code string) string { return meanings[code] }
