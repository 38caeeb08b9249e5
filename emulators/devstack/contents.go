package main

// Demo templates: the approved WhatsApp templates of the README's demo,
// as Twilio's Content API would hold them, so the local stand-in renders
// what it is sent by content SID ({{1}} and {{2}} filled from
// ContentVariables). Others are added with POST /_standin/contents.
const (
	DemoWelcomeSID = "HX5b3a1e0c9d8f4e2a7b6c5d4e3f2a1b0c"
	DemoPromoSID   = "HX9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f"
)

var demoContents = map[string]string{
	DemoWelcomeSID: "Hi {{1}}! Welcome from {{2}}. Thanks for joining our service! Reply STOP to opt out.",
	DemoPromoSID:   "Hello {{1}}! Special offer for {{2}} residents. Limited time only! Reply STOP to unsubscribe.",
}
