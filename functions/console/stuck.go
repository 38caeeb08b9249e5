package console

import (
	"context"
	"fmt"
	"time"

	"github.com/eventstreamengine/ese/shared/phone"
)

// stuckShown is how many stuck messages, and imports left behind,
// monitoring lists.
const stuckShown = 50

// stuckMessage is one message the dashboard counts as stuck, as
// monitoring lists it: its number masked, as everywhere in the console.
type stuckMessage struct {
	CampaignID, Topic, Phone, Status string
	Since, For                       string
}

// stuckMessages lists the messages the dashboard's stuck count counts
// (campaignrun's StrandedMessages), at most n.
func (s *Server) stuckMessages(ctx context.Context, n int) ([]stuckMessage, error) {
	if s.API == nil || s.API.Runner == nil {
		return nil, nil
	}
	ms, err := s.API.Runner.StrandedMessages(ctx, n)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]stuckMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, stuckMessage{CampaignID: m.Campaign.ID, Topic: m.Campaign.Topic, Phone: phone.Mask(m.Message.Phone),
			Status: string(m.Message.Status), Since: when(m.Since), For: ago(now.Sub(m.Since))})
	}
	return out, nil
}

// leftImport is an import not finished and not moving, with a link to
// its report.
type leftImport struct {
	ID, Filename, State string
	Since, For          string
	Batches, Applied    int
}

// leftImports lists the import jobs the import sweep would look at now
// (importrun's LeftBehind), at most n.
func (s *Server) leftImports(ctx context.Context, n int) ([]leftImport, error) {
	if s.API == nil || s.API.Imports == nil {
		return nil, nil
	}
	jobs, err := s.API.Imports.LeftBehind(ctx, n)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]leftImport, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, leftImport{ID: j.ID, Filename: j.Filename, State: string(j.State), Since: when(j.UpdatedAt),
			For: ago(now.Sub(j.UpdatedAt)), Batches: j.Batches, Applied: j.Applied})
	}
	return out, nil
}

// ago says how long d is, to the minute: "42 min", "3 h 5 min", "2 d 4 h".
func ago(d time.Duration) string {
	m := int(d.Minutes())
	switch {
	case m < 1:
		return "under a minute"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m < 24*60:
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	}
	return fmt.Sprintf("%d d %d h", m/(24*60), m%(24*60)/60)
}
