package cloudtasks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/grpckind"
	"github.com/eventstreamengine/ese/shared/health"
	"github.com/eventstreamengine/ese/shared/logging"
)

// ProblemKind names a misconfiguration Cloud Tasks reported.
type ProblemKind string

const (
	// ProblemPermission: the caller lacks a Cloud Tasks role on the queue.
	ProblemPermission ProblemKind = "permission_denied"
	// ProblemActAs: the caller may not act as TASKS_SERVICE_ACCOUNT, whose
	// OIDC token each task carries.
	ProblemActAs ProblemKind = "act_as"
	// ProblemNotFound: the location, or a queue that was ensured, is not
	// there.
	ProblemNotFound ProblemKind = "not_found"
	// ProblemPrecondition: the location or queue is not usable as it is.
	ProblemPrecondition ProblemKind = "failed_precondition"
	// ProblemUnauthenticated: the caller's own credentials were refused.
	ProblemUnauthenticated ProblemKind = "unauthenticated"
)

// ProblemWindow is how long Ready reports a misconfiguration after it was
// last seen: as long as /health reports a recorded one.
const ProblemWindow = health.Window

// logEvery spaces the ERROR logs of one kind of problem: a batch can meet
// the same one a hundred times.
const logEvery = time.Minute

// Problem is a misconfiguration Cloud Tasks reported: what it is, what to
// check, and when it was seen.
type Problem struct {
	Kind ProblemKind
	Hint string // what to check
	Op   string // the call and resource refused
	Err  error
	At   time.Time
}

func (p *Problem) Error() string {
	return fmt.Sprintf("cloud tasks misconfigured (%s): %s: %s: %v", p.Kind, p.Hint, p.Op, p.Err)
}

func (p *Problem) Unwrap() error { return p.Err }

// misconfiguration tells whether err means the deployment is
// misconfigured, and what to check then.
func (c Config) misconfiguration(err error) (ProblemKind, string) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.PermissionDenied:
		if strings.Contains(st.Message(), "actAs") {
			return ProblemActAs, fmt.Sprintf("grant the function's service account roles/iam.serviceAccountUser on TASKS_SERVICE_ACCOUNT %q", c.ServiceAccount)
		}
		return ProblemPermission, fmt.Sprintf("grant the function's service account roles/cloudtasks.queueAdmin and roles/cloudtasks.enqueuer on queues named campaign-* in projects/%s/locations/%s", c.Project, c.Location)
	case codes.NotFound:
		return ProblemNotFound, fmt.Sprintf("check that TASKS_LOCATION %q is a Cloud Tasks location of project %q and that no one deleted a running campaign's queue", c.Location, c.Project)
	case codes.FailedPrecondition:
		return ProblemPrecondition, fmt.Sprintf("check that the Cloud Tasks API is enabled in project %q, location %q, and that the campaign's queue was not deleted", c.Project, c.Location)
	case codes.Unauthenticated:
		return ProblemUnauthenticated, "check the function's service account and its credentials"
	}
	return "", ""
}

// classify gives err from call op its kind: a misconfiguration is
// transient, logged, and remembered; anything else as grpckind says.
func (q *Queue) classify(ctx context.Context, op string, err error) error {
	kind, hint := q.cfg.misconfiguration(err)
	if kind == "" {
		return errs.Wrap(grpckind.Of(err), err, "cloudtasks."+op)
	}
	p := &Problem{Kind: kind, Hint: hint, Op: op, Err: err, At: q.now()}
	q.mu.Lock()
	q.problem = p
	last, seen := q.logged[kind]
	loud := !seen || p.At.Sub(last) >= logEvery
	if loud {
		if q.logged == nil {
			q.logged = make(map[ProblemKind]time.Time)
		}
		q.logged[kind] = p.At
	}
	q.mu.Unlock()
	if loud {
		logging.FromContext(ctx).Error("cloud tasks misconfigured", "problem", string(kind), "hint", hint, "op", op, "error", err)
		if q.report != nil {
			q.report(ctx, p)
		}
	}
	return errs.Wrap(errs.Transient, p, "cloudtasks."+op)
}

// LastProblem returns the last misconfiguration seen, nil if none.
func (q *Queue) LastProblem() *Problem {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.problem == nil {
		return nil
	}
	p := *q.problem
	return &p
}
