package pubsubevents

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/events"
	"github.com/eventstreamengine/ese/shared/grpckind"
)

var _ events.DeadLetters = (*DeadLetters)(nil)

// Attributes Pub/Sub adds to a message it dead-letters. They describe the
// failure, so they are read into DeadLetter's fields and never replayed.
const (
	deadLetterAttrPrefix     = "CloudPubSubDeadLetter"
	deadLetterDeliveryCount  = "CloudPubSubDeadLetterSourceDeliveryCount"
	deadLetterTopicPublished = "CloudPubSubDeadLetterSourceTopicPublishTime"
)

const (
	// pullWait bounds one pull: a pull on a subscription with nothing
	// left waits for messages, so its deadline is how "empty" is seen.
	pullWait = 2 * time.Second
	// maxReplayScan bounds how many dead letters Replay looks through for
	// the one it is asked for.
	maxReplayScan = 10000
	// maxListScan bounds how many of a topic's dead letters List reads to
	// find the oldest: past it, "oldest first" holds among those read.
	maxListScan = 1000
	// releaseWait bounds giving back what was pulled, which happens even
	// when the caller's context has ended.
	releaseWait = 10 * time.Second
)

// DeadLetters reads the dead letters of the topics it serves from their
// pull subscriptions (events.DeadLetterSubscription). Reading leases
// messages, so List and Replay give back what they pulled and did not
// take (a deadline of 0): a dead letter stays until it is replayed or its
// retention ends. Two reads at once each see only what the other has not
// leased.
type DeadLetters struct {
	client *pubsub.Client
	topics []string
}

// NewDeadLetters returns DeadLetters for topics on client's project.
func NewDeadLetters(client *pubsub.Client, topics []string) *DeadLetters {
	return &DeadLetters{client: client, topics: slices.Clone(topics)}
}

// List returns up to limit dead letters of topic (of every topic when
// empty), oldest first, and gives them all back.
func (d *DeadLetters) List(ctx context.Context, topic string, limit int) ([]events.DeadLetter, error) {
	topics := d.topics
	if topic != "" {
		if !slices.Contains(d.topics, topic) {
			return nil, errs.E(errs.Invalid, "pubsubevents.DeadLetters: no dead letters for topic %q", topic)
		}
		topics = []string{topic}
	}
	if limit < 1 {
		return nil, errs.E(errs.Invalid, "pubsubevents.DeadLetters: limit %d is below 1", limit)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   []events.DeadLetter
		first error
	)
	for _, t := range topics {
		wg.Go(func() {
			sub := fullName(d.client, "subscriptions", events.DeadLetterSubscription(t))
			// A subscription hands out messages in no order: read up to
			// maxListScan, so that the oldest are among them.
			got, err := d.pull(ctx, sub, max(limit, maxListScan), nil)
			d.release(ctx, sub, got)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			seen := make(map[string]bool)
			for _, m := range got {
				if id := m.GetMessage().GetMessageId(); !seen[id] {
					seen[id] = true
					out = append(out, deadLetter(t, m))
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	slices.SortStableFunc(out, func(a, b events.DeadLetter) int {
		if c := a.PublishTime.Compare(b.PublishTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(limit, len(out))], nil
}

// Replay publishes dead letter id of topic to topic, then acks it.
func (d *DeadLetters) Replay(ctx context.Context, topic, id string) error {
	return d.take(ctx, "Replay", topic, id, true)
}

// Discard acks dead letter id of topic without publishing it.
func (d *DeadLetters) Discard(ctx context.Context, topic, id string) error {
	return d.take(ctx, "Discard", topic, id, false)
}

// take finds dead letter id of topic, publishes it to topic again when
// replay says so, then acks it; whatever it leased and did not take is
// given back.
func (d *DeadLetters) take(ctx context.Context, op, topic, id string, replay bool) error {
	if !slices.Contains(d.topics, topic) {
		return errs.E(errs.NotExist, "no dead letters for topic %q", topic)
	}
	sub := fullName(d.client, "subscriptions", events.DeadLetterSubscription(topic))
	found, rest, err := d.find(ctx, sub, id)
	defer d.release(ctx, sub, rest)
	if found == nil {
		if err != nil {
			return err
		}
		return errs.E(errs.NotExist, "no dead letter %q of topic %q", id, topic)
	}
	if replay {
		m := found.GetMessage()
		_, err := d.client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{
			Topic:    fullName(d.client, "topics", topic),
			Messages: []*pubsubpb.PubsubMessage{{Data: m.GetData(), Attributes: ownAttributes(m.GetAttributes())}},
		})
		if err != nil {
			d.release(ctx, sub, []*pubsubpb.ReceivedMessage{found})
			return errs.Wrap(kindOf(err), err, "pubsubevents."+op+": publish to "+topic)
		}
	}
	err = d.client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: []string{found.GetAckId()}})
	switch {
	case err != nil && replay:
		// Published already: replaying it again later is harmless.
		return errs.Wrap(errs.Transient, err, "pubsubevents.Replay: republished, but the dead letter stays: ack "+id)
	case err != nil:
		d.release(ctx, sub, []*pubsubpb.ReceivedMessage{found})
		return errs.Wrap(kindOf(err), err, "pubsubevents."+op+": ack "+id)
	}
	return nil
}

// Bury publishes m to topic's dead-letter topic, marked with reason and
// its first publication.
func (d *DeadLetters) Bury(ctx context.Context, topic string, m events.Message, published time.Time, reason string) error {
	if !slices.Contains(d.topics, topic) {
		return errs.E(errs.Invalid, "no dead letters for topic %q", topic)
	}
	attrs := maps.Clone(m.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[events.AttrGaveUp] = reason
	if m.ID != "" {
		attrs[events.AttrOriginalID] = m.ID
	}
	if !published.IsZero() {
		attrs[events.AttrFirstPublished] = published.UTC().Format(time.RFC3339Nano)
	}
	_, err := d.client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{
		Topic:    fullName(d.client, "topics", events.DeadLetterTopic(topic)),
		Messages: []*pubsubpb.PubsubMessage{{Data: m.Data, Attributes: attrs}},
	})
	if err != nil {
		return errs.Wrap(kindOf(err), err, "pubsubevents.Bury: publish to "+events.DeadLetterTopic(topic))
	}
	return nil
}

// find pulls sub until it finds dead letter id: it returns that one and
// the others it leased, which the caller gives back.
func (d *DeadLetters) find(ctx context.Context, sub, id string) (*pubsubpb.ReceivedMessage, []*pubsubpb.ReceivedMessage, error) {
	got, err := d.pull(ctx, sub, maxReplayScan, func(m *pubsubpb.ReceivedMessage) bool { return m.GetMessage().GetMessageId() == id })
	i := slices.IndexFunc(got, func(m *pubsubpb.ReceivedMessage) bool { return m.GetMessage().GetMessageId() == id })
	if i < 0 {
		return nil, got, err
	}
	found := got[i]
	return found, slices.Delete(got, i, i+1), nil
}

// pull leases up to max messages of sub until sub has no more, or until
// stop says it has found what it looks for. A message whose lease ran out
// while pulling comes twice: every lease is returned, to be given back.
func (d *DeadLetters) pull(ctx context.Context, sub string, max int, stop func(*pubsubpb.ReceivedMessage) bool) ([]*pubsubpb.ReceivedMessage, error) {
	var out []*pubsubpb.ReceivedMessage
	for len(out) < max {
		pctx, cancel := context.WithTimeout(ctx, pullWait)
		resp, err := d.client.SubscriptionAdminClient.Pull(pctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: int32(min(max-len(out), 1000))})
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && status.Code(err) == codes.DeadlineExceeded:
			return out, nil // nothing more within pullWait
		case err != nil:
			return out, errs.Wrap(kindOf(err), err, "pubsubevents.DeadLetters: pull "+sub)
		case len(resp.GetReceivedMessages()) == 0:
			return out, nil
		}
		// Keep the whole batch, found or not, so that all of it is given back.
		out = append(out, resp.GetReceivedMessages()...)
		if stop != nil && slices.ContainsFunc(resp.GetReceivedMessages(), stop) {
			return out, nil
		}
	}
	return out, nil
}

// release gives back leased messages at once, on a context that outlives
// the caller's, so that a cancelled request does not hide them for an ack
// deadline.
func (d *DeadLetters) release(ctx context.Context, sub string, ms []*pubsubpb.ReceivedMessage) {
	if len(ms) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseWait)
	defer cancel()
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.GetAckId()
	}
	for chunk := range slices.Chunk(ids, 500) {
		// A failure only leaves them leased until their deadline passes.
		_ = d.client.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
			Subscription: sub, AckIds: chunk, AckDeadlineSeconds: 0,
		})
	}
}

// deadLetter reads a pulled dead letter of topic.
func deadLetter(topic string, rm *pubsubpb.ReceivedMessage) events.DeadLetter {
	m := rm.GetMessage()
	attrs := m.GetAttributes()
	dl := events.DeadLetter{
		Topic: topic, ID: m.GetMessageId(), Data: m.GetData(), Attributes: ownAttributes(attrs),
		PublishTime: m.GetPublishTime().AsTime(),
	}
	if t, err := time.Parse(time.RFC3339Nano, attrs[deadLetterTopicPublished]); err == nil {
		dl.PublishTime = t
	}
	if n, err := strconv.Atoi(attrs[deadLetterDeliveryCount]); err == nil {
		dl.DeliveryAttempts = n
	}
	if t, err := time.Parse(time.RFC3339Nano, attrs[events.AttrFirstPublished]); err == nil {
		dl.PublishTime = t
	}
	dl.Reason, dl.OriginalID = attrs[events.AttrGaveUp], attrs[events.AttrOriginalID]
	return dl
}

// ownAttributes drops the attributes Pub/Sub added when dead-lettering;
// nil when none remain.
func ownAttributes(attrs map[string]string) map[string]string {
	var out map[string]string
	for k, v := range attrs {
		if strings.HasPrefix(k, deadLetterAttrPrefix) || k == events.AttrGaveUp || k == events.AttrFirstPublished || k == events.AttrOriginalID {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = v
	}
	return out
}

// kindOf classifies a Pub/Sub failure. A missing subscription or topic is
// the deployment's fault, not a wrong id from the caller, so it is not
// NotExist (which an API would answer with 404).
func kindOf(err error) errs.Kind {
	switch k := grpckind.Of(err); k {
	case errs.NotExist, errs.Other:
		return errs.Transient
	default:
		return k
	}
}
