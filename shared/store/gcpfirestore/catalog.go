package gcpfirestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/segment"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
	"github.com/eventstreamengine/ese/shared/template"
)

// get reads collection/id into a doc struct, NotExist when missing.
func get[D any](ctx context.Context, s *Store, op, collection, id string) (D, error) {
	var d D
	if !records.ValidID(id) {
		return d, notExist(op, collection+"/"+id)
	}
	snap, err := s.c.Collection(collection).Doc(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return d, notExist(op, collection+"/"+id)
	}
	if err != nil {
		return d, classify(op, err)
	}
	if err := snap.DataTo(&d); err != nil {
		return d, fmt.Errorf("gcpfirestore.%s: decode %s: %w", op, id, err)
	}
	return d, nil
}

// listNewest reads one page of collection, newest first, with the total.
// Offset paging reads (and bills) the skipped documents: fine for lists
// of hundreds; bigger lists will want keyset paging on created_at.
func listNewest[D any, T any](ctx context.Context, s *Store, op, collection string, p store.Page, decode func(id string, d D) (T, error)) ([]T, int, error) {
	if err := records.CheckPage(p); err != nil {
		return nil, 0, fmt.Errorf("gcpfirestore.%s: %w", op, err)
	}
	col := s.c.Collection(collection)
	total, err := count(ctx, col.Query)
	if err != nil {
		return nil, 0, classify(op, err)
	}
	snaps, err := col.OrderBy("created_at", firestore.Desc).Offset(p.Offset()).Limit(p.PerPage).Documents(ctx).GetAll()
	if err != nil {
		return nil, 0, classify(op, err)
	}
	out := make([]T, 0, len(snaps))
	for _, snap := range snaps {
		var d D
		if err := snap.DataTo(&d); err != nil {
			return nil, 0, fmt.Errorf("gcpfirestore.%s: decode %s: %w", op, snap.Ref.ID, err)
		}
		v, err := decode(snap.Ref.ID, d)
		if err != nil {
			return nil, 0, fmt.Errorf("gcpfirestore.%s: %w", op, err)
		}
		out = append(out, v)
	}
	return out, total, nil
}

// stamp sets the creation times a create leaves unset.
func stamp(created, updated *time.Time) {
	*created = records.Or(*created, time.Now())
	*updated = records.Or(*updated, *created)
}

// CreateSegment implements store.Segments.
func (s *Store) CreateSegment(ctx context.Context, seg segment.Segment) (segment.Segment, error) {
	ref := s.c.Collection(colSegments).NewDoc()
	stamp(&seg.CreatedAt, &seg.UpdatedAt)
	d, err := toSegmentDoc(seg)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("gcpfirestore.CreateSegment: %w", err)
	}
	if _, err := ref.Create(ctx, d); err != nil {
		return segment.Segment{}, classify("CreateSegment", err)
	}
	out, err := d.segment(ref.ID)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("gcpfirestore.CreateSegment: %w", err)
	}
	return out, nil
}

// GetSegment implements store.Segments.
func (s *Store) GetSegment(ctx context.Context, id string) (segment.Segment, error) {
	d, err := get[segmentDoc](ctx, s, "GetSegment", colSegments, id)
	if err != nil {
		return segment.Segment{}, err
	}
	out, err := d.segment(id)
	if err != nil {
		return segment.Segment{}, fmt.Errorf("gcpfirestore.GetSegment: %w", err)
	}
	return out, nil
}

// UpdateSegment implements store.Segments. fn may run more than once
// (a contended transaction is retried), so it must only change seg.
func (s *Store) UpdateSegment(ctx context.Context, id string, fn func(*segment.Segment) error) (segment.Segment, error) {
	if !records.ValidID(id) {
		return segment.Segment{}, notExist("UpdateSegment", colSegments+"/"+id)
	}
	ref := s.c.Collection(colSegments).Doc(id)
	var (
		out   segment.Segment
		fnErr error
	)
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		fnErr = nil
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return notExist("UpdateSegment", colSegments+"/"+id)
		}
		if err != nil {
			return err
		}
		var d segmentDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode %s: %w", id, err)
		}
		cur, err := d.segment(id)
		if err != nil {
			return err
		}
		next, _ := d.segment(id) // a second copy: fn may change it and then refuse
		if err := fn(&next); err != nil {
			if errors.Is(err, store.Unchanged) {
				out = cur
				return nil
			}
			fnErr = err
			return err
		}
		next.ID = id
		enc, err := toSegmentDoc(next)
		if err != nil {
			return err
		}
		if out, err = enc.segment(id); err != nil {
			return err
		}
		return tx.Set(ref, enc)
	}, firestore.MaxAttempts(txAttempts))
	if fnErr != nil && errors.Is(err, fnErr) {
		return segment.Segment{}, fnErr
	}
	if err != nil {
		return segment.Segment{}, classify("UpdateSegment", err)
	}
	return out, nil
}

// ListSegments implements store.Segments.
func (s *Store) ListSegments(ctx context.Context, p store.Page) ([]segment.Segment, int, error) {
	return listNewest(ctx, s, "ListSegments", colSegments, p, func(id string, d segmentDoc) (segment.Segment, error) {
		return d.segment(id)
	})
}

// CreateTemplate implements store.Templates.
func (s *Store) CreateTemplate(ctx context.Context, t template.Template) (template.Template, error) {
	ref := s.c.Collection(colTemplates).NewDoc()
	stamp(&t.CreatedAt, &t.UpdatedAt)
	d := toTemplateDoc(t)
	if _, err := ref.Create(ctx, d); err != nil {
		return template.Template{}, classify("CreateTemplate", err)
	}
	return d.template(ref.ID), nil
}

// GetTemplate implements store.Templates.
func (s *Store) GetTemplate(ctx context.Context, id string) (template.Template, error) {
	d, err := get[templateDoc](ctx, s, "GetTemplate", colTemplates, id)
	if err != nil {
		return template.Template{}, err
	}
	return d.template(id), nil
}

// UpdateTemplate implements store.Templates.
func (s *Store) UpdateTemplate(ctx context.Context, id string, fn func(*template.Template) error) (template.Template, error) {
	if !records.ValidID(id) {
		return template.Template{}, notExist("UpdateTemplate", "templates/"+id)
	}
	return runUpdate(ctx, s, "UpdateTemplate", s.c.Collection(colTemplates).Doc(id),
		templateDoc.template, func(_ templateDoc, t template.Template) templateDoc { return toTemplateDoc(t) },
		func(t *template.Template) { t.ID = id }, fn)
}

// ListTemplates implements store.Templates.
func (s *Store) ListTemplates(ctx context.Context, p store.Page) ([]template.Template, int, error) {
	return listNewest(ctx, s, "ListTemplates", colTemplates, p, func(id string, d templateDoc) (template.Template, error) {
		return d.template(id), nil
	})
}
