package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/store/internal/records"
)

// RecordProblem implements store.Problems.
func (s *Store) RecordProblem(_ context.Context, p health.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problems == nil {
		s.problems = map[string]health.Problem{}
	}
	p.At = records.Time(p.At)
	s.problems[p.ID()] = p
	return nil
}

// ListProblems implements store.Problems.
func (s *Store) ListProblems(_ context.Context, since time.Time) ([]health.Problem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []health.Problem
	for _, p := range s.problems {
		if !p.At.Before(since) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b health.Problem) int { return b.At.Compare(a.At) })
	return out, nil
}
