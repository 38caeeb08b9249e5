package gcpfirestore

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/user"
)

// userField is where a filter's attribute lives in a user document.
func userField(attr string) firestore.FieldPath {
	if records.StoredField(attr) {
		return firestore.FieldPath{attr}
	}
	return firestore.FieldPath{"attributes", attr}
}

// inIDs narrows q to the users whose phone is in r.
func (s *Store) inIDs(q firestore.Query, r segment.Range) firestore.Query {
	col := s.c.Collection(colUsers)
	if r.From != "" {
		q = q.Where(firestore.DocumentID, ">=", col.Doc(r.From))
	}
	if r.To != "" {
		q = q.Where(firestore.DocumentID, "<", col.Doc(r.To))
	}
	return q
}

// indexedUserField reports whether queries may filter a user field
// through its single-field index: not created_at, which every import
// writes rising and so is exempt from indexing (Firestore keeps an index
// of a rising field to about 500 writes/s).
func indexedUserField(attr string) bool { return attr != segment.AttrCreatedAt }

// ScanUsersWhere implements store.Users. Filters on indexed fields go into
// the query: consent_state's and attributes' equalities are served by
// merging single-field indexes, a last_inbound_at range (with
// consent_state beside it) by a composite index (Indexes), the id range by
// the document name every index ends with. The rest (created_at; beside a
// range, attributes, whose composites cannot all be declared) are checked
// on the documents read, so a page may hold fewer than Limit users before
// the last. One more document than a page is read, so the last page says
// it is the last.
func (s *Store) ScanUsersWhere(ctx context.Context, q store.UserScan) ([]user.User, string, error) {
	if _, err := records.CheckScan(q); err != nil {
		return nil, "", fmt.Errorf("gcpfirestore.ScanUsersWhere: %w", err)
	}
	pushed, checked, rangeField := splitFilters(q.Filters)
	query := s.inIDs(s.c.Collection(colUsers).Query, q.IDs)
	for _, f := range pushed {
		query = query.WherePath(userField(f.Attribute), string(f.Op), f.Value)
	}
	if rangeField != "" {
		query = query.OrderByPath(userField(rangeField), firestore.Asc)
	}
	query = query.OrderBy(firestore.DocumentID, firestore.Asc)
	if q.After != "" {
		key, phone, err := records.DecodeCursor(q.After, rangeField != "")
		if err != nil {
			return nil, "", fmt.Errorf("gcpfirestore.ScanUsersWhere: %w", err)
		}
		if rangeField != "" {
			query = query.StartAfter(key, phone)
		} else {
			query = query.StartAfter(phone)
		}
	}
	read, err := s.users(ctx, query.Limit(q.Limit+1))
	if err != nil {
		return nil, "", classify("ScanUsersWhere", err)
	}
	next := ""
	if len(read) > q.Limit {
		read = read[:q.Limit]
		last := read[len(read)-1]
		var key any
		if rangeField != "" {
			key, _ = records.FieldValue(last, rangeField)
		}
		next = records.EncodeCursor(key, last.Phone)
	}
	out := read[:0]
	for _, u := range read {
		if records.PassesAll(u, checked) {
			out = append(out, u)
		}
	}
	return out, next, nil
}

// splitFilters picks the filters the query takes, and the field its
// range is on: with a range on an indexed field, only consent_state's
// filters beside it (the composites Indexes declares); else every
// filter on an indexed field.
func splitFilters(fs []segment.Filter) (pushed, checked []segment.Filter, rangeField string) {
	for _, f := range fs {
		if (f.Op == segment.FilterGte || f.Op == segment.FilterLte) && indexedUserField(f.Attribute) {
			rangeField = f.Attribute
		}
	}
	for _, f := range fs {
		switch {
		case !indexedUserField(f.Attribute):
			checked = append(checked, f)
		case rangeField == "" || f.Attribute == rangeField || f.Attribute == segment.AttrConsent:
			pushed = append(pushed, f)
		default:
			checked = append(checked, f)
		}
	}
	return pushed, checked, rangeField
}
