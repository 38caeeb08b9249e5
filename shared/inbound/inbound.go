// Package inbound acts on a person's own messages: every one records when
// they last wrote to us (their 24-hour window for free text runs from it),
// their opt-out word sets STOP, their START lifts it, and both go into
// their consent history with the message's id. The Webhooks function reads
// the provider's callbacks into Messages.
package inbound

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/erasure"
	"github.com/eventstreamengine/ese/shared/errs"
	"github.com/eventstreamengine/ese/shared/logging"
	"github.com/eventstreamengine/ese/shared/phone"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/suppression"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/webhook"
)

// Message is a person's message to us.
type Message struct {
	// ProviderSID is the provider's id of the message (Twilio's
	// MessageSid): the reference of any consent change it makes.
	ProviderSID string
	// From is the sender's id as received (E.164, with or without the
	// whatsapp: channel): for some WhatsApp senders not the number we
	// store (see FindSender), and kept as it came for audit.
	From       string
	Body       string
	ReceivedAt time.Time
	// StopApplied: its STOP was applied with its record (Record), so
	// Handle applies it no more (after an erasure it would bring the
	// person back).
	StopApplied bool
}

// Classification names an inbound message for people reading a monitor.
func Classification(body string) string {
	switch consent.Classify(body) {
	case consent.IntentOptOut:
		return "STOP Command"
	case consent.IntentOptIn:
		return "START Command"
	case consent.IntentHelp:
		return "HELP Request"
	}
	return "Text Reply"
}

// Users is what finding a sender reads.
type Users interface {
	GetUsers(ctx context.Context, phones []string) (map[string]user.User, error)
}

// Sender is who sent a message: the numbers their sender id maps to (the
// id kept as the alias) and the people stored under them.
type Sender struct {
	phone.WhatsAppSender
	// Users are the people stored under the sender's numbers, in the
	// numbers' order: usually one, none for an unknown sender.
	Users []user.User
}

// FindSender maps from (phone.FromWhatsApp: WhatsApp's ids for Mexican,
// Brazilian and Argentine numbers are not always the number we store) and
// looks up who is stored under its numbers. The error is the mapping's
// (Invalid; the Sender still has its ID when the id is + and digits) or
// the store's.
func FindSender(ctx context.Context, users Users, from string) (Sender, error) {
	w, err := phone.FromWhatsApp(from)
	s := Sender{WhatsAppSender: w}
	if err != nil {
		return s, err
	}
	found, err := users.GetUsers(ctx, w.Numbers())
	if err != nil {
		return s, fmt.Errorf("inbound.FindSender: %w", err)
	}
	for _, n := range w.Numbers() {
		if u, ok := found[n]; ok {
			s.Users = append(s.Users, u)
		}
	}
	return s, nil
}

// UnknownStopReason is the reason of the suppression a STOP from an
// unknown sender leaves, and SuppressedBy who it names as adding it.
const (
	UnknownStopReason = "STOP from an unknown sender"
	SuppressedBy      = "inbound"
)

// Handler applies inbound messages.
type Handler struct {
	Store store.Store
}

// Handle applies one inbound message. The sender is found by FindSender,
// so a WhatsApp id that is not the dialled number still reaches the
// person. A STOP or START is decided in one store transaction against the
// person's state and their latest keyword, so that redeliveries and
// keywords processed out of order (Pub/Sub keeps none) leave their last
// word standing. A STOP Record applied with its webhook record
// (m.StopApplied) is not applied again: after an erasure that would
// bring the person back.
//
// A STOP is never dropped: what it does is StopWrites'. Then, whatever
// the message says, it is recorded as the person's latest (the latest of
// any order stands); a number without a user has nothing to record it on.
func (h *Handler) Handle(ctx context.Context, m Message) error {
	intent := consent.Classify(m.Body)
	log := logging.FromContext(ctx).With("message_sid", m.ProviderSID)
	s, err := FindSender(ctx, h.Store, m.From)
	if err != nil && !errs.Is(err, errs.Invalid) {
		return fmt.Errorf("inbound.Handle: %w", err)
	}
	if s.ID != "" && s.Alias() {
		// Masked: the alias is audited on the stored webhook, whole.
		log = log.With("sender_id", phone.Mask(s.ID))
	}
	if intent == consent.IntentOptOut && s.ID != "" && !m.StopApplied {
		if err := h.stop(ctx, s, m); err != nil {
			return err
		}
	}
	if s.Number == "" {
		switch {
		case intent == consent.IntentOptOut && s.ID != "":
			log.Warn("STOP from a sender id that maps to no number kept as a suppression of the id")
			return nil
		case intent == consent.IntentOptOut || intent == consent.IntentOptIn:
			return errs.Wrap(errs.Permanent, err, "inbound.Handle: From")
		}
		log.Warn("inbound message from an unreadable number not recorded")
		return nil
	}
	numbers := make([]string, 0, len(s.Users))
	for _, u := range s.Users {
		numbers = append(numbers, u.Phone)
	}
	if len(numbers) == 0 && intent == consent.IntentOptOut {
		numbers = append(numbers, s.Number) // the STOP made a STOP user here
	}
	// Nobody else to record it on: an unknown sender's message writes
	// nothing (no transaction to find that out).
	for _, n := range numbers {
		if intent == consent.IntentOptIn {
			u, changed, err := h.Store.ApplyKeyword(ctx, consent.Keyword{Phone: n, Intent: intent, Ref: m.ProviderSID, At: m.ReceivedAt})
			if err != nil {
				return fmt.Errorf("inbound.Handle: %w", err)
			}
			if changed {
				log.Info("consent changed by keyword", "phone", phone.Mask(n), "to", u.Consent)
			}
		}
		if err := h.Store.RecordInbound(ctx, n, m.ReceivedAt); err != nil {
			return fmt.Errorf("inbound.Handle: %w", err)
		}
	}
	return nil
}

// stop applies a STOP from s, one write at a time (each idempotent).
func (h *Handler) stop(ctx context.Context, s Sender, m Message) error {
	read := store.StopRead{Users: make(map[string]user.User, len(s.Users)), Suppressed: map[string]bool{}}
	for _, u := range s.Users {
		read.Users[u.Phone] = u
	}
	if len(s.Users) == 0 {
		key := suppressionKey(s.WhatsAppSender)
		already, err := h.Store.Suppressed(ctx, []string{key})
		if err != nil {
			return fmt.Errorf("inbound.Handle: suppressed: %w", err)
		}
		read.Suppressed = already
	}
	w := StopWrites(s.WhatsAppSender, read, m)
	log := logging.FromContext(ctx).With("message_sid", m.ProviderSID)
	if e := w.Suppress; e != nil {
		if _, err := h.Store.Suppress(ctx, *e); err != nil {
			return fmt.Errorf("inbound.Handle: suppress: %w", err)
		}
		log.Info("STOP from an unknown sender kept as a suppression", "phone", phone.Mask(e.Phone))
	}
	for _, k := range w.Keywords {
		u, changed, err := h.Store.ApplyKeyword(ctx, k)
		if err != nil {
			return fmt.Errorf("inbound.Handle: %w", err)
		}
		if changed {
			log.Info("consent changed by keyword", "phone", phone.Mask(k.Phone), "to", u.Consent)
		}
	}
	return nil
}

// StopWrites is what a STOP (m) from the sender w does to the people it
// names, decided on read: the people stored under w's numbers, and
// whether the number that would be suppressed is. Each of those people
// moves to STOP (a keyword older than their latest changes nothing). A
// STOP that names nobody is never dropped: it is kept as a suppression
// against the number the id maps to (or the id itself when it maps to
// none), which every send honours, unless that is suppressed already (an
// admin's reason stands), and, when the number is valid, as a STOP user,
// so that no later import can opt them in. An id that is not even + and
// digits writes nothing.
func StopWrites(w phone.WhatsAppSender, read store.StopRead, m Message) store.StopWrites {
	var out store.StopWrites
	keyword := func(n string) {
		out.Keywords = append(out.Keywords, consent.Keyword{Phone: n, Intent: consent.IntentOptOut, Ref: m.ProviderSID, At: m.ReceivedAt})
	}
	for _, n := range w.Numbers() {
		if _, ok := read.Users[n]; ok {
			keyword(n)
		}
	}
	if len(out.Keywords) > 0 || w.ID == "" {
		return out
	}
	if key := suppressionKey(w); !read.Suppressed[key] {
		reason := UnknownStopReason
		if sid := m.ProviderSID; sid != "" && len(sid) <= 64 {
			reason += ", MessageSid " + sid
		}
		out.Suppress = &suppression.Entry{Phone: key, Reason: reason, By: SuppressedBy, CreatedAt: m.ReceivedAt}
	}
	if w.Number != "" {
		keyword(w.Number)
	}
	return out
}

// suppressionKey is where a STOP from an unknown sender is suppressed:
// the number its id maps to, or the id when it maps to none.
func suppressionKey(w phone.WhatsAppSender) string {
	if w.Number != "" {
		return w.Number
	}
	return w.ID
}

// Record stores e, the provider's callback that carried m, once
// (store.Webhooks.RecordWebhook). A STOP is applied in the same store
// transaction (RecordWebhookStop, with StopWrites), so once it is stored
// no send can start to the people it names, and a replay changes
// nothing. Handle, given m later, then finds it applied.
//
// With h (the erasure key's Hasher; nil where m was received just now),
// that transaction also reads the sender's erased record: a message the
// person sent before they were erased, stored only after it (handed on
// unstored, or redelivered), brings nothing of theirs back (ErasedWrites).
func Record(ctx context.Context, st store.Webhooks, h *erasure.Hasher, e webhook.Event, m Message) (webhook.Event, bool, error) {
	stop := consent.Classify(m.Body) == consent.IntentOptOut
	if !stop && h == nil {
		// No erased record to read (the Webhooks function stores what
		// arrived just now): nothing to decide, no number to read.
		return st.RecordWebhook(ctx, e)
	}
	w, _ := phone.FromWhatsApp(m.From)
	if w.ID == "" {
		return st.RecordWebhook(ctx, e) // unreadable: Handle logs it
	}
	lookup := store.StopLookup{Numbers: w.Numbers(), ErasureKeys: erasureKeys(h, w)}
	if !stop && len(lookup.ErasureKeys) == 0 {
		return st.RecordWebhook(ctx, e)
	}
	if !slices.Contains(lookup.Numbers, w.ID) {
		lookup.Numbers = append(lookup.Numbers, w.ID)
	}
	e.StopApplied = stop // stored only with its STOP
	return st.RecordWebhookStop(ctx, e, lookup, func(read store.StopRead) (store.StopWrites, error) {
		if rec, ok := ErasedBefore(read, m.ReceivedAt); ok {
			return ErasedWrites(rec, stop), nil
		}
		if !stop {
			return store.StopWrites{}, nil
		}
		return StopWrites(w, read, m), nil
	})
}

// erasureKeys are the keys of the erased records of w's numbers (none
// without h).
func erasureKeys(h *erasure.Hasher, w phone.WhatsAppSender) []string {
	if h == nil {
		return nil
	}
	var keys []string
	for _, n := range w.Numbers() {
		if k := h.Of(n); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// ErasedBefore returns the erased record of a sender whose message,
// received at, predates their erasure (erasure.Record.Before), as read:
// no one is stored under their numbers (a person imported again since
// is back, and their messages with them) and a record read says they
// were erased after at.
func ErasedBefore(read store.StopRead, at time.Time) (erasure.Record, bool) {
	if len(read.Users) > 0 {
		return erasure.Record{}, false
	}
	for _, r := range read.Erased {
		if r.Before(at) {
			return r, true
		}
	}
	return erasure.Record{}, false
}

// ErasedWrites is what a message from a person erased after sending it
// writes: its record without its form (nothing that names them comes
// back: no number, body, user or suppression) and, for a STOP, the
// opt-out in their erased record r, so that they come back opted out.
func ErasedWrites(r erasure.Record, stop bool) store.StopWrites {
	out := store.StopWrites{Scrub: true}
	if stopped, ok := r.Stopped(); stop && ok {
		out.Erased = &stopped
	}
	return out
}
