package gcpfirestore

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// problemDoc is a health.Problem as stored in problems/{dependency-kind}.
type problemDoc struct {
	Dependency string    `firestore:"dependency"`
	Kind       string    `firestore:"kind"`
	Hint       string    `firestore:"hint"`
	Reporter   string    `firestore:"reporter"`
	At         time.Time `firestore:"at"`
}

// RecordProblem implements store.Problems. One document per dependency
// and kind, written at most once a minute per process by its reporter:
// never a hot document.
func (s *Store) RecordProblem(ctx context.Context, p health.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	d := problemDoc{Dependency: p.Dependency, Kind: p.Kind, Hint: p.Hint, Reporter: p.Reporter, At: records.Time(p.At)}
	_, err := s.c.Collection(colProblems).Doc(p.ID()).Set(ctx, d)
	return classify("RecordProblem", err)
}

// ListProblems implements store.Problems: a range on "at", the collection
// holding a handful of documents.
func (s *Store) ListProblems(ctx context.Context, since time.Time) ([]health.Problem, error) {
	snaps, err := s.c.Collection(colProblems).Where("at", ">=", records.Time(since)).
		OrderBy("at", firestore.Desc).Documents(ctx).GetAll()
	if err != nil {
		return nil, classify("ListProblems", err)
	}
	out := make([]health.Problem, 0, len(snaps))
	for _, snap := range snaps {
		var d problemDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, classify("ListProblems", err)
		}
		out = append(out, health.Problem{Dependency: d.Dependency, Kind: d.Kind, Hint: d.Hint, Reporter: d.Reporter, At: records.Time(d.At)})
	}
	return out, nil
}
