package crm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Event types a webhook subscription can ask for.
const (
	EventRecordCreated        = "record.created"
	EventRecordUpdated        = "record.updated"
	EventConversationStarted  = "conversation.started"
	EventConversationHandoff  = "conversation.handed_off"
	EventConversationAssigned = "conversation.assigned"
	EventConversationResolved = "conversation.resolved"
)

// EventTypes lists every event type, in the order docs/webhooks.md has them.
var EventTypes = []string{
	EventRecordCreated, EventRecordUpdated, EventConversationStarted, EventConversationHandoff,
	EventConversationAssigned, EventConversationResolved,
}

// Event is what a webhook receives: the body of the POST.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      any       `json:"data"`
}

// RecordData is the data of record.created and record.updated.
type RecordData struct {
	Record       *Record          `json:"record"`
	Person       *Record          `json:"person,omitempty"`
	Organization *Record          `json:"organization,omitempty"`
	Conversation *ConversationRef `json:"conversation,omitempty"`
}

// ConversationRef names a conversation and its transcript.
type ConversationRef struct {
	ID         string `json:"id"`
	Transcript string `json:"transcript"`
}

func newEventID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// recordEvent is a record event for the outbox.
func (s *Store) recordEvent(typ string, r *Record, p, o *slot, now time.Time) (store.OutboxEvent, error) {
	d := RecordData{Record: r}
	if p != nil && p.rec != r {
		d.Person = p.rec
	}
	if o != nil && o.rec != r {
		d.Organization = o.rec
	}
	if r.Conversation != "" {
		d.Conversation = &ConversationRef{ID: r.Conversation, Transcript: TranscriptPath(r.Conversation)}
	}
	id := newEventID()
	b, err := json.Marshal(Event{ID: id, Type: typ, CreatedAt: now, Data: d})
	return store.OutboxEvent{ID: id, Type: typ, Body: string(b)}, err
}

// addRecordEvent adds a record event of type typ to a change, for the
// outbox, when a webhook wants events of that type: as for conversation
// events (EmitOnce's callers), an event nobody subscribed to is not
// written, read and acknowledged for nothing (docs/webhooks.md: events are
// sent from a subscription on, earlier ones are not).
func (s *Store) addRecordEvent(ctx context.Context, ch *change, typ string, r *Record, p, o *slot, now time.Time) error {
	if !s.Subscribed(ctx, typ) {
		return nil
	}
	ev, err := s.recordEvent(typ, r, p, o, now)
	if err != nil {
		return err
	}
	ch.event(ev)
	return nil
}

// Emit adds an event to the webhook outbox. Record events are added by the
// store itself, atomically with the record; Emit is for the server's
// conversation events.
func (s *Store) Emit(ctx context.Context, typ string, data any) error {
	if !slices.Contains(EventTypes, typ) {
		return fmt.Errorf("%w: event type %q", ErrInvalid, typ)
	}
	id := newEventID()
	b, err := json.Marshal(Event{ID: id, Type: typ, CreatedAt: s.now().UTC(), Data: data})
	if err != nil {
		return err
	}
	return s.ob.Emit(ctx, store.OutboxEvent{ID: id, Type: typ, Body: string(b)})
}

// EmitOnce adds an event with the given id to the webhook outbox, once:
// the id is marked atomically with the event, and emitting the same id
// again (a sweep redoing a turn's work after an error) adds nothing while
// the mark lasts (keep). It reports whether the event was added.
func (s *Store) EmitOnce(ctx context.Context, id, typ string, data any, keep time.Duration) (bool, error) {
	if !slices.Contains(EventTypes, typ) {
		return false, fmt.Errorf("%w: event type %q", ErrInvalid, typ)
	}
	if id == "" || keep <= 0 {
		return false, fmt.Errorf("%w: an event needs an id and a keep time", ErrInvalid)
	}
	b, err := json.Marshal(Event{ID: id, Type: typ, CreatedAt: s.now().UTC(), Data: data})
	if err != nil {
		return false, err
	}
	return s.ob.EmitOnce(ctx, store.OutboxEvent{ID: id, Type: typ, Body: string(b)}, keep)
}

// Subscription is a webhook: where events of some types are POSTed, and
// the secret their signature is made with.
type Subscription struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// Wants reports whether the subscription asked for events of type typ
// ("*" asks for all).
func (sub *Subscription) Wants(typ string) bool {
	return slices.Contains(sub.Events, typ) || slices.Contains(sub.Events, "*")
}

// AddSubscription stores a new webhook. The URL must be http or https with
// a host; events are event types (or "*"); an empty secret is generated.
func (s *Store) AddSubscription(ctx context.Context, rawURL string, events []string, secret string) (*Subscription, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: the URL must be http:// or https:// with a host (and no user:password)", ErrInvalid)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: name the events, such as %s", ErrInvalid, strings.Join(EventTypes[:3], ","))
	}
	for _, e := range events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			return nil, fmt.Errorf("%w: unknown event %q (known: %s)", ErrInvalid, e, strings.Join(EventTypes, ", "))
		}
	}
	if secret == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("%w: a secret needs at least 16 characters", ErrInvalid)
	}
	sub := &Subscription{ID: newID("sub_"), URL: u.String(), Events: slices.Compact(slices.Sorted(slices.Values(events))), Secret: secret, CreatedAt: s.now().UTC()}
	b, _ := json.Marshal(sub)
	if err := s.ob.PutSubscription(ctx, sub.ID, string(b)); err != nil {
		return nil, err
	}
	s.forgetSubscriptions()
	return sub, nil
}

// subsFresh is how long Subscribed trusts the subscriptions it read.
const subsFresh = 2 * time.Second

// Subscribed reports whether any webhook wants events of type typ. The
// first question reads the subscriptions; after that they are read again
// in the background once they are 2 seconds old, and the question is
// answered from the list read before, so a turn never waits for that read
// (a subscription added by another process, the CLI, gets conversation
// events a moment later). One this process adds or removes is seen by the
// next question. On an error of the first read it answers true: better an
// event nobody wants than one lost.
func (s *Store) Subscribed(ctx context.Context, typ string) bool {
	s.subMu.Lock()
	subs, at, gen := s.subs, s.subAt, s.subGen
	if !at.IsZero() && s.now().Sub(at) >= subsFresh && !s.subReading {
		s.subReading = true
		go s.readSubscriptions(context.WithoutCancel(ctx), gen, true)
	}
	s.subMu.Unlock()
	if at.IsZero() {
		var ok bool
		if subs, ok = s.readSubscriptions(ctx, gen, false); !ok {
			return true
		}
	}
	for _, sub := range subs {
		if sub.Wants(typ) {
			return true
		}
	}
	return false
}

// readSubscriptions reads the subscriptions and keeps them unless this
// process changed them meanwhile (gen moved on); background marks the
// refresh Subscribed started as over.
func (s *Store) readSubscriptions(ctx context.Context, gen uint64, background bool) ([]*Subscription, bool) {
	if background {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	subs, err := s.Subscriptions(ctx)
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if background {
		s.subReading = false
	}
	if err != nil {
		return nil, false
	}
	if s.subGen == gen {
		s.subs, s.subAt = subs, s.now()
	}
	return subs, true
}

func (s *Store) forgetSubscriptions() {
	s.subMu.Lock()
	s.subAt = time.Time{}
	s.subGen++
	s.subMu.Unlock()
}

// Subscriptions lists the webhooks, oldest first.
func (s *Store) Subscriptions(ctx context.Context) ([]*Subscription, error) {
	m, err := s.ob.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Subscription, 0, len(m))
	for _, v := range m {
		var sub Subscription
		if json.Unmarshal([]byte(v), &sub) == nil {
			out = append(out, &sub)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// subscription returns one webhook.
func (s *Store) subscription(ctx context.Context, id string) (*Subscription, error) {
	v, err := s.ob.Subscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, ErrNotFound
	}
	var sub Subscription
	if err := json.Unmarshal([]byte(v), &sub); err != nil {
		return nil, err
	}
	return &sub, nil
}

// RemoveSubscription deletes a webhook; its pending deliveries are
// dropped when they come due.
func (s *Store) RemoveSubscription(ctx context.Context, id string) error {
	found, err := s.ob.DeleteSubscription(ctx, id)
	if err != nil {
		return err
	}
	s.forgetSubscriptions()
	if !found {
		return ErrNotFound
	}
	return nil
}
