package console

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// localeRow is one locale variant in the template form: a row of
// language code, content and content SID, posted as the parallel fields
// locale_code, locale_content and locale_content_sid.
type localeRow struct {
	N                         int // from 1: the row's ids and legend
	Code, Content, ContentSID string
	// Error is what the console or the API said of the row.
	Error string
}

// typedLocales are the rows the form posted, less those left empty (an
// empty row is how a variant is removed without script).
func typedLocales(form url.Values) []localeRow {
	codes, contents, sids := form["locale_code"], form["locale_content"], form["locale_content_sid"]
	at := func(vs []string, i int) string {
		if i < len(vs) {
			return vs[i]
		}
		return ""
	}
	var rows []localeRow
	for i := range max(len(codes), len(contents), len(sids)) {
		r := localeRow{Code: strings.TrimSpace(at(codes, i)), Content: at(contents, i), ContentSID: strings.TrimSpace(at(sids, i))}
		if r.Code == "" && strings.TrimSpace(r.Content) == "" && r.ContentSID == "" {
			continue
		}
		r.N = len(rows) + 1
		rows = append(rows, r)
	}
	return rows
}

// rowErrorKey names the console's own error of row n (a missing or
// repeated code), which the API never sees.
func rowErrorKey(n int) string { return fmt.Sprintf("locale_row_%d", n) }

// localesBody is the API's "locales" from the rows, or the console's
// errors by row.
func localesBody(rows []localeRow) (map[string]map[string]string, map[string]string) {
	out, bad := map[string]map[string]string{}, map[string]string{}
	for _, r := range rows {
		switch _, seen := out[r.Code]; {
		case r.Code == "":
			bad[rowErrorKey(r.N)] = "needs a language code"
		case seen:
			bad[rowErrorKey(r.N)] = fmt.Sprintf("repeats the language code %q of another row", r.Code)
		default:
			l := map[string]string{"content": r.Content}
			if r.ContentSID != "" {
				l["content_sid"] = r.ContentSID
			}
			out[r.Code] = l
		}
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return out, nil
}

// localeFieldNames says the API's fields of a variant in the form's words.
var localeFieldNames = map[string]string{"content": "Content", "content_sid": "Content SID"}

// localeRows are the form's rows as typed, each with its errors (the
// console's, and the API's locales.<code>…), then an empty row for one
// more variant.
func localeRows(form url.Values, errs map[string]string) []localeRow {
	rows := typedLocales(form)
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, r := range rows {
		var msgs []string
		if m := errs[rowErrorKey(r.N)]; m != "" {
			msgs = append(msgs, m)
		}
		if r.Code != "" {
			prefix := "locales." + r.Code
			for _, k := range keys {
				if k == prefix {
					msgs = append(msgs, errs[k])
				} else if f, ok := strings.CutPrefix(k, prefix+"."); ok {
					if name, ok := localeFieldNames[f]; ok {
						f = name
					}
					msgs = append(msgs, f+" "+errs[k])
				}
			}
		}
		rows[i].Error = strings.Join(msgs, "; ")
	}
	return append(rows, localeRow{N: len(rows) + 1})
}

// localeValues are a stored template's variants as the form's fields,
// by language code.
func localeValues(v url.Values, locales map[string]any) {
	codes := make([]string, 0, len(locales))
	for c := range locales {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		l, _ := locales[c].(map[string]any)
		content, _ := l["content"].(string)
		sid, _ := l["content_sid"].(string)
		v.Add("locale_code", c)
		v.Add("locale_content", content)
		v.Add("locale_content_sid", sid)
	}
}
