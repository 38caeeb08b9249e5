package ese

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleInBrowser drives the Console in Debian's headless chromium
// against the local stack (scripts/dev): sign in with the key, see the
// dashboard, a person whose attributes hold markup shown as text, a
// campaign's summary, and a consent change through its confirmation.
// Every page passes axe-core with no serious or critical violation, and
// fits a phone's width.
//
// scripts/test installs chromium and axe-core (ESE_AXE_JS) when missing.
// With ESE_SCREENSHOTS=<dir> (scripts/screenshots) it saves a screenshot
// of each page there.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local stack and chromium")
	}
	chromium, axe := browserTools(t)
	// A messaging limit below the second campaign's 12 new conversations,
	// so that its dry run warns of it.
	d := newDemo(t, "WHATSAPP_TIER=10")

	// People: the seed's four, and one whose attributes hold markup.
	job := d.upload("/api/v1/ingest/users/bulk", "scripts/sample/test_users.json")
	d.eventually("import completes", 30*time.Second, func() (bool, string) {
		_, st := d.do("GET", "/api/v1/ingest/status/"+job["id"].(string), nil, "")
		return st["state"] == "COMPLETED", fmt.Sprint(st)
	})
	const markup = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
	const evil = "+94770000666"
	d.create("/api/v1/users", fmt.Sprintf(`{"phone_number":%q,"attributes":{"name":%q,"city":"Colombo","note":%q}}`, evil, markup, markup))
	// A campaign that completes, with its deliveries.
	tpl := d.approvedTemplate("Console welcome", "Hi {name}! Welcome from {city}. Reply STOP to opt out.", "name", "city")
	seg := d.create("/api/v1/segments", `{"name":"Colombo","definition_json":{"attribute":"city","operator":"equals","value":"Colombo"}}`)
	cid := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":"Console demo","template_id":%q,"segment_id":%q,"rate_limit_per_second":5}`, tpl, seg))
	if code, out := d.do("POST", "/api/v1/campaigns/"+cid+"/trigger", strings.NewReader(`{}`), "application/json"); code != 202 {
		t.Fatalf("trigger = %d %v", code, out)
	}
	d.eventually("campaign delivered", 90*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+cid+"/summary", nil, "")
		return s["status"] == "COMPLETED" && s["messages_delivered"] == s["messages_sent"] && s["messages_sent"].(float64) > 0, fmt.Sprint(s)
	})
	d.inbound("whatsapp:+94771234576", "STOP", "SMconsolestop0000000000000000001")
	// Markup in an inbound message's body and in a campaign's topic.
	d.inbound("whatsapp:"+evil, `hello <img src=x onerror="window.__xss=3">`, "SMconsolemarkup00000000000000001")
	const topicMarkup = `<img src=x onerror="window.__xss=4">Markup topic`
	markupCampaign := d.create("/api/v1/campaigns", fmt.Sprintf(`{"topic":%q,"template_id":%q,"segment_id":%q,"rate_limit_per_second":1}`, topicMarkup, tpl, seg))
	// noMarkup checks that no markup ran or became elements, and that
	// want is shown as text.
	noMarkup := func(b *browser, where, want string) {
		t.Helper()
		got := b.eval(fmt.Sprintf(`[window.__xss === undefined, document.querySelectorAll("main img, main script").length, document.querySelector("main").textContent.includes(%q)]`, want))
		if fmt.Sprint(got) != "[true 0 true]" {
			t.Errorf("%s: markup [not run, elements made, shown as text] = %v, want [true 0 true]", where, got)
		}
	}

	// Chromium keeps a Secure cookie over http only for localhost.
	base := strings.Replace(d.base, "127.0.0.1", "localhost", 1)
	ctx := newBrowser(t, chromium)
	b := &browser{t: t, ctx: ctx, axe: axe, shots: os.Getenv("ESE_SCREENSHOTS")}

	// Signed out, a page leads to the sign-in form, and back after it.
	b.do(chromedp.Navigate(base+"/campaigns"), chromedp.WaitVisible(chromedp.CSS("#key")))
	b.check("login")
	b.do(chromedp.SendKeys(chromedp.CSS("#key"), d.key), chromedp.Submit(chromedp.CSS("#key")), chromedp.WaitVisible(chromedp.CSS("#h-new-campaign")))
	if loc := b.eval(`location.pathname`); loc != "/campaigns" {
		t.Errorf("after sign-in: at %v, want /campaigns", loc)
	}
	b.check("campaigns")

	b.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#h-chart")))
	if got := b.eval(`document.querySelector("#h-users").parentElement.querySelector(".big").textContent.trim()`); !strings.HasPrefix(fmt.Sprint(got), "5") {
		t.Errorf("dashboard users: %q, want 5 people", got)
	}
	if got := b.eval(`document.querySelectorAll("figure.chart polyline").length`); got != 2.0 {
		t.Errorf("dashboard chart: %v lines, want 2", got)
	}
	noMarkup(b, "dashboard (inbound body, campaign topic)", `<img src=x onerror="window.__xss=3">`)
	noMarkup(b, "dashboard (campaign topic)", topicMarkup)
	b.check("dashboard")
	// The chart's numbers, opened, stay open and focused through the
	// 30 s refresh, which does redraw the page.
	b.do(chromedp.Click(chromedp.CSS("figure.chart details summary")))
	time.Sleep(32 * time.Second)
	if got := b.eval(`[document.querySelector("figure.chart details").open, document.activeElement.tagName,
		document.getElementById("refresh-status").textContent.startsWith("Updated ")]`); fmt.Sprint(got) != "[true SUMMARY true]" {
		t.Errorf("dashboard after its refresh: [the numbers open, focus, refreshed] = %v, want [true SUMMARY true]", got)
	}
	for _, p := range []struct{ path, want string }{
		{"/monitoring", `<img src=x onerror="window.__xss=3">`},
		{"/campaigns", topicMarkup},
		{"/campaigns/" + markupCampaign, topicMarkup},
		{"/campaigns/" + markupCampaign + "/confirm?action=cancel", topicMarkup},
	} {
		b.do(chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS("h1")))
		noMarkup(b, p.path, p.want)
	}
	// A person without attributes: the page says so, and passes axe.
	d.create("/api/v1/users", `{"phone_number":"+94770000777","consent_state":"OPT_OUT"}`)
	b.do(chromedp.Navigate(base+"/users/"+url.PathEscape("+94770000777")), chromedp.WaitVisible(chromedp.CSS("#no-attributes")))
	b.checkOnly("user without attributes")

	b.do(chromedp.Navigate(base+"/users/"+url.PathEscape(evil)), chromedp.WaitVisible(chromedp.CSS("#h-attrs")))
	if got := b.eval(`[window.__xss === undefined, document.querySelectorAll("main img, main script").length, document.querySelector("#h-attrs").parentElement.textContent.includes('<img src=x onerror="window.__xss=1">')]`); fmt.Sprint(got) != "[true 0 true]" {
		t.Errorf("markup in attributes: [not run, elements made, shown as text] = %v, want [true 0 true]", got)
	}
	b.check("user")

	b.do(chromedp.Navigate(base+"/campaigns/"+cid), chromedp.WaitVisible(chromedp.CSS("#h-summary")))
	if got := b.eval(`[document.getElementById("progress").value, document.getElementById("progress").max, document.querySelectorAll("svg.funnel rect").length]`); fmt.Sprint(got) != "[2 2 4]" {
		t.Errorf("campaign page: [progress, of, funnel bars] = %v, want [2 2 4]", got)
	}
	b.check("campaign")

	// A consent change, confirmed: the form posts with the session's token.
	b.do(chromedp.Navigate(base+"/users/"+url.PathEscape("+94771234567")), chromedp.WaitVisible(chromedp.CSS("#h-consent")),
		chromedp.Click(chromedp.CSS(`a[href$="action=OPT_OUT"]`)), chromedp.WaitVisible(chromedp.CSS("#reason")))
	b.check("confirm")
	b.do(chromedp.SendKeys(chromedp.CSS("#reason"), "asked by phone"), chromedp.Submit(chromedp.CSS("#reason")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if _, u := d.do("GET", "/api/v1/users/"+url.PathEscape("+94771234567"), nil, ""); u["consent_state"] != "OPT_OUT" {
		t.Errorf("after the confirmed change: %v, want OPT_OUT", u["consent_state"])
	}

	// The STOP is on the person's history.
	b.do(chromedp.Navigate(base+"/users/"+url.PathEscape("+94771234576")), chromedp.WaitVisible(chromedp.CSS("#h-history")))
	if got := b.eval(`document.querySelector("#h-history").parentElement.textContent.includes("STOP")`); got != true {
		t.Error("the STOP is not on Frank's history")
	}

	// Erasure, confirmed.
	b.do(chromedp.Navigate(base+"/users/"+url.PathEscape("+94771234577")), chromedp.WaitVisible(chromedp.CSS("#h-consent")),
		chromedp.Click(chromedp.CSS(`a[href$="action=erase"]`)), chromedp.WaitVisible(chromedp.CSS("button.danger")),
		chromedp.Click(chromedp.CSS("button.danger")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if code, _ := d.do("GET", "/api/v1/users/"+url.PathEscape("+94771234577"), nil, ""); code != 404 {
		t.Errorf("after the confirmed erasure: GET the user = %d, want 404", code)
	}

	// A file dropped on the users page: the upload, then the import's
	// progress to its end, with its one bad row.
	csv := filepath.Join(t.TempDir(), "galle.csv")
	rows := "phone_number,name,city,postcode\n"
	for i := range 12 {
		rows += fmt.Sprintf("+9477300%04d,Person %d,Galle,01000\n", i, i)
	}
	rows += "not-a-number,Nobody,Galle,01000\n"
	if err := os.WriteFile(csv, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS("#file")))
	// What the upload's status said, kept for the tab across the
	// navigation to the import's page.
	// The uploads started are counted too.
	b.eval(`sessionStorage.removeItem("said"); sessionStorage.setItem("uploads", "0");
		const open = XMLHttpRequest.prototype.open;
		XMLHttpRequest.prototype.open = function () {
			sessionStorage.setItem("uploads", String(Number(sessionStorage.getItem("uploads")) + 1));
			return open.apply(this, arguments);
		};
		new MutationObserver(() => sessionStorage.setItem("said",
		(sessionStorage.getItem("said") || "") + document.getElementById("upload-status").textContent + "|"))
		.observe(document.getElementById("upload-status"), {childList: true, characterData: true, subtree: true}), true`)
	// Import pressed twice (an impatient double press).
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}))
	b.eval(`(() => { const b = document.querySelector("#import-form button[type=submit]"); b.click(); b.click(); return true })()`)
	b.do(chromedp.WaitVisible(chromedp.CSS("#import-done")))
	if got := fmt.Sprint(b.eval(`sessionStorage.getItem("said")`)); !strings.Contains(got, "Uploading: 100%") {
		t.Errorf("the upload's progress: said %q, want it to reach 100%%", got)
	}
	if got := b.eval(`[document.getElementById("import-progress").value, document.getElementById("import-progress").max, document.querySelector("label[for=import-progress]").textContent, document.querySelector("#h-row-errors").parentElement.querySelectorAll("tbody tr").length]`); fmt.Sprint(got) != "[1 1 1 of 1 batches applied 1]" {
		t.Errorf("import page: [batches applied, of, label, row errors] = %v, want [1 1 1 of 1 batches applied 1]", got)
	}
	// Import pressed twice started one upload.
	if got := b.eval(`sessionStorage.getItem("uploads")`); got != "1" {
		t.Errorf("Import pressed twice: %v uploads started, want 1", got)
	}
	b.check("import")
	// A number attribute found by its value typed as text: Frank is 40.
	b.do(chromedp.Navigate(base+"/users?attr=age&value=40"), chromedp.WaitVisible(chromedp.CSS("#prefix")))
	if got := b.eval(`document.querySelectorAll("main tbody tr td.mono a").length`); got != 1.0 {
		t.Errorf("users?attr=age&value=40: %v people, want Frank", got)
	}
	// A refused import (an unknown region) redraws the form with its
	// error; the new form still sends through the script, with progress.
	b.do(chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS("#file")))
	b.eval(`window.__page = 1; true`)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}), chromedp.SendKeys(chromedp.CSS("#default_region"), "ZZ"),
		chromedp.Click(chromedp.CSS("#import-form button[type=submit]")))
	b.waitFor(`document.querySelector("#live .field-error") !== null`, "true")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}), chromedp.Click(chromedp.CSS("#import-form button[type=submit]")))
	if got := b.eval(`[window.__page, document.getElementById("upload-status").textContent.startsWith("Uploading")]`); fmt.Sprint(got) != "[1 true]" {
		t.Errorf("the import form redrawn after a refusal: [same page, uploading through the script] = %v, want [1 true]", got)
	}
	b.do(chromedp.WaitVisible(chromedp.CSS("#import-done")))
	// A form whose submission got no answer (failed, or stopped) can be
	// sent again once resendAfter has passed; a second press at once is
	// still refused.
	b.do(chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS("form.grid-form")))
	if got := b.eval(`(() => { const f = document.querySelector("form.grid-form");
		const send = () => f.dispatchEvent(new SubmitEvent("submit", {bubbles: true, cancelable: true}));
		return [send(), send()] })()`); fmt.Sprint(got) != "[true false]" {
		t.Errorf("a form sent twice at once: [first sent, second sent] = %v, want [true false]", got)
	}
	b.waitFor(`document.querySelector("form.grid-form button[type=submit], form.grid-form button:not([type])").disabled`, "true")
	time.Sleep(10 * time.Second)
	b.waitFor(`[document.querySelector("form.grid-form button[type=submit], form.grid-form button:not([type])").disabled, document.querySelector("form.grid-form").dataset.sent === undefined]`, "false true")
	// A large file goes straight to Cloud Storage through a signed URL
	// (here the storage emulator; any file, with the threshold lowered).
	big := filepath.Join(t.TempDir(), "direct.csv")
	if err := os.WriteFile(big, []byte("phone_number,name,city\n+94774000001,Direct One,Jaffna\n+94774000002,Direct Two,Jaffna\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS("#file")))
	b.eval(`document.getElementById("import-form").dataset.directMax = "0"`)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{big}),
		chromedp.Click(chromedp.CSS("#import-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#import-done")))
	if _, u := d.do("GET", "/api/v1/users/"+url.PathEscape("+94774000002"), nil, ""); u["name"] != "Direct Two" {
		t.Errorf("after the direct upload: %v, want Direct Two imported", u)
	}
	// The people imported, found by a number's prefix and by an attribute.
	for _, q := range []string{"prefix=" + url.QueryEscape("+947730"), "attr=city&value=Galle", "prefix=" + url.QueryEscape("+947730") + "&attr=city&value=Galle"} {
		b.do(chromedp.Navigate(base+"/users?"+q), chromedp.WaitVisible(chromedp.CSS("#prefix")))
		if got := b.eval(`document.querySelectorAll("main tbody tr td.mono a").length`); got != 12.0 {
			t.Errorf("users?%s: %v people, want 12", q, got)
		}
	}

	// A template with a content SID, a segment and a campaign, all made in
	// the forms; then a dry run, launch, pause, resume and completion.
	b.do(chromedp.Navigate(base+"/templates"), chromedp.WaitVisible(chromedp.CSS("#h-new-template")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Galle offer"),
		chromedp.SendKeys(chromedp.CSS("#content"), "Hello {name}! Reply STOP to opt out."),
		chromedp.SendKeys(chromedp.CSS("#variables"), "name"),
		chromedp.SendKeys(chromedp.CSS("#content_sid"), "HX0123456789abcdef0123456789abcdef"),
		chromedp.SendKeys(chromedp.CSS("#content_variables"), "name"),
		chromedp.Submit(chromedp.CSS("#name")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.eval(`document.getElementById("placeholder-hint").textContent`); got != "Placeholders used: name." {
		t.Errorf("variable hint: %q", got)
	}
	if got := b.eval(`document.getElementById("content_sid").value`); got != "HX0123456789abcdef0123456789abcdef" {
		t.Errorf("the template made in the form: content SID %q", got)
	}
	// Its preview for the person with markup: their name as text.
	b.do(chromedp.SendKeys(chromedp.CSS("#preview_phone"), evil), chromedp.Submit(chromedp.CSS("#preview_phone")),
		chromedp.WaitVisible(chromedp.CSS("#preview-result")))
	if got := b.eval(`[window.__xss === undefined, document.getElementById("preview-result").textContent.includes("content_sid"), document.getElementById("preview-result").textContent.includes("would go")]`); fmt.Sprint(got) != "[true true true]" {
		t.Errorf("template preview: [no markup run, sent by content SID, not blocked] = %v", got)
	}
	// Locale variants are rows: one added takes the focus, one removed
	// goes (nothing saved: the campaign below sends the template as made).
	b.do(chromedp.Click(chromedp.CSS("#locale-add")), chromedp.WaitVisible(chromedp.CSS("#locale-code-2")))
	if got := b.eval(`[document.activeElement.id, document.querySelectorAll("[data-locale-row]").length, document.querySelector("label[for=locale-content-2]") !== null]`); fmt.Sprint(got) != "[locale-code-2 2 true]" {
		t.Errorf("locale variant added: [focus, rows, its content labelled] = %v", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#locale-rows [data-locale-row]:nth-of-type(2) [data-locale-remove]")))
	if got := b.eval(`document.querySelectorAll("[data-locale-row]").length`); fmt.Sprint(got) != "1" {
		t.Errorf("locale variant removed: %v rows, want 1", got)
	}
	b.check("template")
	b.do(chromedp.Navigate(base+"/segments"), chromedp.WaitVisible(chromedp.CSS("#seg-name")),
		chromedp.SendKeys(chromedp.CSS("#seg-name"), "Galle"),
		chromedp.SetValue(chromedp.CSS("#definition_json"), `{"attribute": "city", "operator": "equals", "value": "Galle"}`),
		chromedp.WaitVisible(chromedp.CSS("#segment-form button.primary")))
	// Save pressed twice, the second press a moment after the first.
	b.eval(`(() => { const b = document.querySelector("#segment-form button.primary"); b.click(); setTimeout(() => b.click(), 10); return true })()`)
	b.do(chromedp.WaitVisible(chromedp.CSS(".flash")))
	_, segs := d.do("GET", "/api/v1/segments?per_page=100", nil, "")
	galles := 0
	for _, s := range segs["segments"].([]any) {
		if s.(map[string]any)["name"] == "Galle" {
			galles++
		}
	}
	if galles != 1 {
		t.Errorf("Save segment pressed twice: %d segments named Galle, want 1", galles)
	}
	b.do(chromedp.Navigate(base+"/campaigns"), chromedp.WaitVisible(chromedp.CSS("#topic")))
	b.eval(`(() => { for (const [id, text] of [["template_id", "Galle offer"], ["segment_id", "Galle"]]) {
		const s = document.getElementById(id); s.value = [...s.options].find(o => o.text === text).value } return true })()`)
	b.do(chromedp.SendKeys(chromedp.CSS("#topic"), "Galle launch"), chromedp.SendKeys(chromedp.CSS("#rate_limit_per_second"), "1"),
		chromedp.Submit(chromedp.CSS("#topic")), chromedp.WaitVisible(chromedp.CSS(`a[href$="action=dry-run"]`)))
	galle := strings.TrimPrefix(fmt.Sprint(b.eval(`location.pathname`)), "/campaigns/")
	// confirm opens an action's confirmation, gives its reason when it
	// asks for one, and confirms; the campaign's page then says done.
	confirm := func(action, reason, done string) {
		t.Helper()
		b.do(chromedp.Click(chromedp.CSS(`a[href$="action=`+action+`"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-form")))
		if reason != "" {
			b.do(chromedp.SendKeys(chromedp.CSS("#reason"), reason))
		}
		b.do(chromedp.Click(chromedp.CSS("#confirm-form button[type=submit]")))
		b.waitFor(`(document.querySelector(".flash") || {}).textContent`, done)
	}
	confirm("dry-run", "", "Dry run started.")
	b.do(chromedp.WaitVisible(chromedp.CSS("#h-dry")))
	dryFacts := `[...document.querySelectorAll("#h-dry ~ dl.facts div")].map(d => d.querySelector("dt").textContent + "=" + d.querySelector("dd").textContent).join("; ")`
	b.waitFor(dryFacts, "Recipients=12; Send now=12")
	b.waitFor(`(document.querySelector("#h-dry ~ ul.warnings") || {}).textContent`, "whatsapp_tier: ")
	confirm("launch", "", "Launched.")
	confirm("pause", "checking the audience", "Paused.")
	campaignStatus := func() string {
		_, c := d.do("GET", "/api/v1/campaigns/"+galle, nil, "")
		return fmt.Sprint(c["status"])
	}
	if st := campaignStatus(); st != "PAUSED" {
		t.Errorf("after the confirmed pause: %s, want PAUSED", st)
	}
	confirm("resume", "", "Resumed.")
	d.eventually("the campaign made in the forms completes", 90*time.Second, func() (bool, string) {
		_, s := d.do("GET", "/api/v1/reporting/campaigns/"+galle+"/summary", nil, "")
		return s["status"] == "COMPLETED" && s["messages_delivered"] == 12.0, fmt.Sprint(s)
	})
	b.do(chromedp.Navigate(base+"/campaigns/"+galle), chromedp.WaitVisible(chromedp.CSS("#h-summary")))
	if got := b.eval(`[...document.querySelectorAll("#h-summary ~ dl.facts div")].find(d => d.querySelector("dt").textContent === "Delivered").querySelector("dd").textContent`); !strings.HasPrefix(fmt.Sprint(got), "12 ") {
		t.Errorf("the campaign page: delivered %q, want 12", got)
	}
	if got := fmt.Sprint(b.eval(`document.querySelector("#h-history").parentElement.textContent`)); !strings.Contains(got, "PAUSED") || !strings.Contains(got, "checking the audience") {
		t.Error("the campaign's history does not show the pause and its reason")
	}

	// A nested segment built in the form, its count following the edits:
	// everyone opted in (16: Galle's 12, Jaffna's 2, Priya, and the person with markup),
	// then those of them also in a group "city is Colombo" (the person
	// with markup; Arjuna opted out).
	b.do(chromedp.Navigate(base+"/segments"), chromedp.WaitVisible(chromedp.CSS("#segment-builder .sb-cond")))
	b.waitFor(`document.getElementById("seg-count").textContent`, "matches 16 people")
	b.do(chromedp.Click(chromedp.CSS("#segment-builder > fieldset > .actions > button:nth-child(2)")),
		chromedp.WaitVisible(chromedp.CSS("#segment-builder .sb-group .sb-group .sb-cond")))
	// The new group has focus, and each Remove says what it removes.
	if got := b.eval(`[document.activeElement.closest(".sb-group .sb-group") !== null,
		document.querySelector("#segment-builder .sb-group .sb-group .sb-cond > button").getAttribute("aria-label")]`); fmt.Sprint(got) != "[true Remove condition 1 in group 2]" {
		t.Errorf("segment builder: [focus in the new group, its condition's Remove] = %v", got)
	}
	b.do(
		chromedp.SendKeys(chromedp.CSS("#segment-builder .sb-group .sb-group .sb-cond .sb-field:nth-child(1) input"), "city"),
		chromedp.SendKeys(chromedp.CSS("#segment-builder .sb-group .sb-group .sb-cond .sb-field:nth-child(3) input"), "Colombo"))
	b.waitFor(`document.getElementById("seg-count").textContent`, "matches 1 person")
	if got := b.eval(`JSON.parse(document.getElementById("definition_json").value).conditions[1].conditions[0].value`); got != "Colombo" {
		t.Errorf("the builder wrote %v as the nested condition's value, want Colombo", got)
	}
	// A code with a leading zero stays text, as the import kept it: the
	// Galle 12's postcode 01000.
	nested := "#segment-builder .sb-group .sb-group .sb-cond .sb-field:nth-child(%d) input"
	b.eval(fmt.Sprintf(`for (const n of [1, 3]) document.querySelector(%q.replace("%%d", n)).value = ""; true`, nested))
	b.do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(nested, 1)), "postcode"), chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(nested, 3)), "01000"))
	b.waitFor(`document.getElementById("seg-count").textContent`, "matches 12 people")
	if got := b.eval(`JSON.parse(document.getElementById("definition_json").value).conditions[1].conditions[0].value`); got != "01000" {
		t.Errorf("the builder wrote %#v for 01000, want the text \"01000\"", got)
	}
	// A whole number past 2^53 is a number, as the import stores it (it
	// fits int64), kept exact through a redraw; past int64 it is text.
	for _, tc := range []struct{ typed, want string }{
		{"9007199254740993", `"value": 9007199254740993`},
		{"9223372036854775808", `"value": "9223372036854775808"`},
	} {
		b.eval(fmt.Sprintf(`document.querySelector(%q).value = ""; true`, fmt.Sprintf(nested, 3)))
		b.do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(nested, 3)), tc.typed))
		b.waitFor(`document.getElementById("definition_json").value`, tc.want)
		b.do(chromedp.Click(chromedp.CSS("#segment-builder-redraw")))
		if got := b.eval(fmt.Sprintf(`document.querySelector(%q).value`, fmt.Sprintf(nested, 3))); got != tc.typed {
			t.Errorf("the builder redrawn from the JSON shows %v, want %s", got, tc.typed)
		}
	}
	b.eval(fmt.Sprintf(`document.querySelector(%q).value = ""; true`, fmt.Sprintf(nested, 3)))
	b.do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(nested, 3)), "01000"))
	b.waitFor(`document.getElementById("seg-count").textContent`, "matches 12 people")
	b.check("segments")

	// The Colombo segment edited from its own page: the form and its
	// count filled from the stored definition, saved through the API's PUT.
	b.do(chromedp.Navigate(base+"/segments/"+seg), chromedp.WaitVisible(chromedp.CSS("#segment-builder .sb-cond")))
	b.waitFor(`document.getElementById("seg-count").textContent`, "matches")
	b.checkOnly("segment")
	b.do(chromedp.SetValue(chromedp.CSS("#seg-description"), "people in Colombo"),
		chromedp.Click(chromedp.CSS("#segment-form button.primary")))
	b.waitFor(`document.body.textContent`, "Segment saved.")
	if got := b.eval(`document.getElementById("seg-description").value`); got != "people in Colombo" {
		t.Errorf("the segment's description after the save: %v", got)
	}

	for _, p := range []struct{ name, path, ready string }{
		{"users", "/users", "#prefix"},
		{"templates", "/templates", "#h-new-template"},
		{"monitoring", "/monitoring", "#h-inbound"},
	} {
		b.do(chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		b.check(p.name)
	}
	if got := b.eval(`document.querySelector("#h-inbound").parentElement.textContent.includes("STOP")`); got != true {
		t.Error("monitoring: the STOP is not in the inbound stream")
	}
	if got := b.eval(`[!!document.getElementById("stuck-messages"), !!document.getElementById("left-imports")]`); fmt.Sprint(got) != "[true true]" {
		t.Errorf("monitoring: [stuck messages listed, imports left behind listed] = %v", got)
	}
}

// browserTools finds chromium and axe-core. Under scripts/test
// (ESE_BROWSER_TESTS=require) a missing one fails the test; otherwise the
// test is skipped, saying how to get them.
func browserTools(t *testing.T) (chromium, axe string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("ESE_BROWSER_TESTS") == "require" {
			t.Fatalf("%s is missing, though scripts/test installed it", what)
		}
		t.Skipf("%s is missing: run scripts/test, which installs chromium (apt) and axe-core (from the npm registry)", what)
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		missing("chromium")
	}
	axe = os.Getenv("ESE_AXE_JS")
	if axe == "" {
		axe = filepath.Join(".bin", "axe-core-4.11.0", "axe.min.js") // scripts/lib.sh's AXE_VERSION
	}
	src, err := os.ReadFile(axe)
	if err != nil {
		missing("axe-core (" + axe + ")")
	}
	return chromium, string(src)
}

// newBrowser starts headless chromium, stopped at the test's end.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

type browser struct {
	t     *testing.T
	ctx   context.Context
	axe   string
	shots string
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
		b.t.Fatalf("browser: %v\nat %s", err, url)
	}
}

// waitFor waits until js evaluates to a text containing want.
func (b *browser) waitFor(js, want string) {
	b.t.Helper()
	var got any
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got = b.eval(js); strings.Contains(fmt.Sprint(got), want) {
			return
		}
	}
	b.t.Fatalf("%s: %q, want it to contain %q", js, got, want)
}

func (b *browser) eval(js string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// checkOnly is check without a screenshot: for a page pictured already.
func (b *browser) checkOnly(name string) {
	b.t.Helper()
	shots := b.shots
	b.shots = ""
	defer func() { b.shots = shots }()
	b.check(name)
}

// check runs axe-core on the page and fails on any serious or critical
// violation; checks that the page fits a phone's width; and saves the
// screenshots when asked to.
func (b *browser) check(name string) {
	b.t.Helper()
	if b.eval(`typeof axe`) != "object" {
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](b.axe+";0")); err != nil {
			b.t.Fatalf("%s: injecting axe-core: %v", name, err)
		}
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            []string
	}
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: running axe-core: %v", name, err)
	}
	for _, v := range vs {
		b.t.Errorf("%s: accessibility (%s) %s: %s at %v", name, v.Impact, v.ID, v.Help, v.Nodes)
	}
	// What the page cost, as the browser saw it (logged with -v).
	b.t.Logf("%s: %v", name, b.eval(`(() => { const n = performance.getEntriesByType("navigation")[0];
		return n ? Math.round(n.responseEnd - n.requestStart) + " ms to the last byte, " + n.transferSize + " bytes" : "not a navigation" })()`))
	if b.shots != "" {
		b.screenshot(name, 1280, 900, "")
	}
	b.do(chromedp.EmulateViewport(390, 844))
	if got := b.eval(`document.documentElement.scrollWidth <= window.innerWidth`); got != true {
		b.t.Errorf("%s: wider than a phone (390 px): scrollWidth %v", name, b.eval(`document.documentElement.scrollWidth`))
	}
	if b.shots != "" && phoneShots[name] {
		b.screenshot(name, 390, 844, "-phone")
	}
	b.do(chromedp.EmulateViewport(1280, 900))
}

// phoneShots are the pages also pictured at a phone's width.
var phoneShots = map[string]bool{"dashboard": true, "campaign": true, "user": true}

func (b *browser) screenshot(name string, w, h int64, suffix string) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(w, h))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", name, err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+suffix+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
