package crm

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/store"
)

// Errors of the package, for the server to map to status codes.
var (
	ErrNotFound  = errors.New("not found")
	ErrInvalid   = errors.New("invalid")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("not allowed")
	// errStale is what a commit answers when something it read changed.
	errStale = errors.New("stale read")
)

// Agent is what the CRM knows of an agent, from the inbox's directory.
type Agent struct {
	ID    string
	Name  string
	Email string
	Teams []string
	Admin bool
}

// Directory finds agents, for owners and round robin. The inbox's agent
// store provides it (the server adapts it).
type Directory interface {
	// Agent returns the agent with id, or an error.
	Agent(ctx context.Context, id string) (*Agent, error)
	// AgentByEmail returns the agent with email, or an error.
	AgentByEmail(ctx context.Context, email string) (*Agent, error)
	// TeamAgents returns the agents who are members of team.
	TeamAgents(ctx context.Context, team string) ([]*Agent, error)
	// OnlineAgents returns the ids of the team's agents online now.
	OnlineAgents(ctx context.Context, team string) ([]string, error)
}

// Notice is a notification for one agent: a note for the owner, or a
// record assigned to them.
type Notice struct {
	To           string  // agent id
	Kind         string  // "sales_note"
	Text         string  // one line for the notification
	Record       *Record // the note or record it is about
	Person       *Record // the person, if any
	Conversation string  // the conversation it came from, if any
}

// Options configure a Store.
type Options struct {
	// Agents finds owners; nil: owners must be agent ids, and round robin
	// assigns nobody.
	Agents Directory
	// Notify is called after a note about the owner is created; nil: no
	// notifications.
	Notify func(ctx context.Context, n Notice)
	// Changed is called after records were created or changed: the
	// records a Create made, a task done or open again, a person
	// updated. Nil: nobody is told.
	Changed func(ctx context.Context, rs []*Record)
	// ChangedMessage, when set, is the bus message Changed would send for
	// the records a Create made: an engine that can (store.CRMPublisher)
	// sends it with the create's last write instead, a round trip fewer,
	// and Changed is not called for them. js is json.Marshal(rs)'s bytes,
	// made from the records' stored JSON (nil when they could not be: the
	// function marshals rs then).
	ChangedMessage func(rs []*Record, js []byte) (store.Message, bool)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Metrics counts the records created and the webhook deliveries; nil:
	// none.
	Metrics *metrics.Metrics
}

// Store is the CRM over a storage engine: st keeps the records and
// indexes, ob the webhook outbox. It is safe for concurrent use.
type Store struct {
	st      store.CRM
	ob      store.Outbox
	agents  Directory
	notify  func(context.Context, Notice)
	changed func(context.Context, []*Record)
	now     func() time.Time
	m       *metrics.Metrics // nil: none

	subMu      sync.Mutex
	subAt      time.Time // when subs was read; zero: read again before answering
	subs       []*Subscription
	subGen     uint64 // moves on when this process changes a subscription
	subReading bool   // a background read is under way
	// changedMsg is Options.ChangedMessage when the engine sends it with
	// a change (nil: Changed is called after).
	changedMsg func(rs []*Record, js []byte) (store.Message, bool)
}

// New returns a Store on an engine's CRM records and outbox.
func New(st store.CRM, ob store.Outbox, o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	st2 := &Store{st: st, ob: ob, agents: o.Agents, notify: o.Notify, changed: o.Changed, now: o.Now, m: o.Metrics}
	if _, ok := st.(store.CRMPublisher); ok {
		st2.changedMsg = o.ChangedMessage
	}
	return st2
}

// Index names of people and organizations.
func emailIndex(email string) string { return store.IndexKey("email", email) }
func phoneIndex(phone string) string { return store.IndexKey("phone", phone) }
func domainIndex(dom string) string  { return store.IndexKey("domain", dom) }
func orgNameIndex(name string) string {
	return store.IndexKey("orgname", strings.ToLower(name))
}

// idemTTL is how long an idempotency key is remembered.
const idemTTL = 30 * 24 * time.Hour

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random id with the kind's prefix (80 random bits).
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + idEnc.EncodeToString(b)
}

// change is a store.CRMChange being planned. Its lists start in room
// kept in the change itself, enough for a lead's create (a new
// organization, person and lead, and the chat in the person's feed), so
// that planning one allocates them once, with the change, instead of
// growing each list append by append; a longer list grows past its room
// as append does, and a list nothing is added to stays nil.
type change struct {
	c       store.CRMChange
	records [3]store.CAS
	indexes [3]store.CAS
	listed  [3]store.Listed
	convs   [4]store.ConvField
	results [3]store.ConvResult
	feeds   [4]store.FeedAdd
}

func newChange() *change { return &change{} }

// roomy is list, or its room when list is still nil.
func roomy[T any](list []T, room []T) []T {
	if list == nil {
		return room[:0]
	}
	return list
}

// record writes a record's JSON, which must still be old ("" = new).
func (c *change) record(id, old, json string) {
	c.c.Records = append(roomy(c.c.Records, c.records[:]), store.CAS{Name: id, Old: old, New: json})
}

// index points an index entry at id ("" deletes it), if it still holds
// old ("" = absent).
func (c *change) index(name, old, id string) {
	c.c.Indexes = append(roomy(c.c.Indexes, c.indexes[:]), store.CAS{Name: name, Old: old, New: id})
}

// list puts a new record in its kind's list, at ms.
func (c *change) list(r *Record, ms int64) {
	c.c.Listed = append(roomy(c.c.Listed, c.listed[:]), store.Listed{Kind: string(r.Kind), ID: r.ID, Ms: ms})
}

// result adds a record to a conversation's results, with score.
func (c *change) result(conv, id string, score int64) {
	c.c.Results = append(roomy(c.c.Results, c.results[:]), store.ConvResult{Conv: conv, ID: id, Score: score})
}

// commit applies the change. It returns the value of the idempotency key
// when another change used it, or errStale.
func (s *Store) commit(ctx context.Context, c *change) (dup string, err error) {
	dup, err = s.st.Apply(ctx, &c.c)
	if errors.Is(err, store.ErrStale) {
		return "", errStale
	}
	return dup, err
}

// raw is a record as stored, with the exact JSON, for compare-and-set.
type raw struct {
	rec  *Record
	json string
	// pending is when the change that is writing this new record was
	// planned (Unix ms), while it is under way; rec is nil then.
	pending int64
}

// load returns records by id; missing ones are nil.
func (s *Store) load(ctx context.Context, ids ...string) ([]raw, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := s.st.Records(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]raw, len(ids))
	for i, v := range vals {
		if v == "" {
			continue
		}
		if ms, ok := store.PendingRecord(v); ok {
			out[i] = raw{pending: ms}
			continue
		}
		var r Record
		if decodeRecord(ids[i], v, &r) == nil {
			out[i] = raw{rec: &r, json: v}
		}
	}
	return out, nil
}

// Get returns one record.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	rs, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rs[0].rec == nil {
		return nil, ErrNotFound
	}
	return rs[0].rec, nil
}

// records returns the records with ids that exist, in order.
func (s *Store) records(ctx context.Context, ids []string) ([]*Record, error) {
	rs, err := s.load(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(rs))
	for _, r := range rs {
		if r.rec != nil {
			out = append(out, r.rec)
		}
	}
	return out, nil
}

// PersonByEmail returns the person with that email (normalized first).
func (s *Store) PersonByEmail(ctx context.Context, email string) (*Record, error) {
	e := NormalizeEmail(email)
	if e == "" {
		return nil, ErrNotFound
	}
	id, err := s.st.Lookup(ctx, emailIndex(e))
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, ErrNotFound
	}
	return s.Get(ctx, id)
}

// PersonByPhone returns the person with that phone number.
func (s *Store) PersonByPhone(ctx context.Context, phone string) (*Record, error) {
	p := NormalizePhone(phone)
	if p == "" {
		return nil, ErrNotFound
	}
	id, err := s.st.Lookup(ctx, phoneIndex(p))
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, ErrNotFound
	}
	return s.Get(ctx, id)
}

// Viewer is who is asking, for visibility: an agent, or an admin.
type Viewer struct {
	ID    string
	Teams []string
	Admin bool
}

// CanSee reports whether v may see r: admins see everything; agents what
// they own and what shares a team with them.
func (v Viewer) CanSee(r *Record) bool {
	if r == nil {
		return false
	}
	if v.Admin || (r.Owner != "" && r.Owner == v.ID) {
		return true
	}
	for _, t := range r.Teams {
		if slices.Contains(v.Teams, t) {
			return true
		}
	}
	return false
}

// Query selects records for List.
type Query struct {
	Kind Kind
	// Q matches names, emails, phones, titles and subjects (case-insensitive
	// substring); an email finds its person at once.
	Q string
	// Owner keeps records owned by this agent id.
	Owner string
	// Person keeps records linked to this person.
	Person string
	// Stage keeps leads and deals in this stage (case-insensitive).
	Stage string
	// Playbook keeps records made in conversations of this playbook.
	Playbook string
	// Status keeps tasks that are "open" (not done) or "done"; "": all.
	Status string
	// DueBefore keeps tasks due before this time (overdue and due today,
	// for "My tasks"); zero: any.
	DueBefore time.Time
	// Limit caps the answer; default 50, at most 500.
	Limit int
	// Before pages back: only records created before this time.
	Before time.Time
}

// scanLimit bounds how many of the newest records of a kind a search
// looks through.
const scanLimit = 5000

// Count is how many records of a kind there are, of every team.
func (s *Store) Count(ctx context.Context, k Kind) (int64, error) {
	if !validKind(k) {
		return 0, fmt.Errorf("%w: kind %q", ErrInvalid, k)
	}
	return s.st.Count(ctx, string(k))
}

// List returns the records of a kind that v may see and that match q,
// newest first. A text search looks through the newest 5,000 records of
// the kind.
func (s *Store) List(ctx context.Context, v Viewer, q Query) ([]*Record, error) {
	if !validKind(q.Kind) {
		return nil, fmt.Errorf("%w: kind %q", ErrInvalid, q.Kind)
	}
	switch q.Status {
	case "", "open", "done":
	default:
		return nil, fmt.Errorf("%w: status is open or done", ErrInvalid)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	needle := strings.ToLower(strings.TrimSpace(q.Q))
	if q.Kind == KindPerson && NormalizeEmail(needle) != "" {
		p, err := s.PersonByEmail(ctx, needle)
		if errors.Is(err, ErrNotFound) || (err == nil && !v.CanSee(p)) {
			return []*Record{}, nil
		}
		if err != nil {
			return nil, err
		}
		return []*Record{p}, nil
	}
	var before int64
	if !q.Before.IsZero() {
		before = q.Before.UnixMilli()
	}
	out := []*Record{}
	for offset := 0; offset < scanLimit && len(out) < q.Limit; offset += 500 {
		ids, err := s.st.List(ctx, string(q.Kind), before, offset, 500)
		if err != nil {
			return nil, err
		}
		recs, err := s.records(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if !v.CanSee(r) || !q.keeps(r) {
				continue
			}
			if needle != "" && !matches(r, needle) {
				continue
			}
			out = append(out, r)
			if len(out) == q.Limit {
				break
			}
		}
		if len(ids) < 500 {
			break
		}
	}
	return out, nil
}

// keeps reports whether r passes q's filters other than the text search.
func (q Query) keeps(r *Record) bool {
	switch {
	case q.Owner != "" && r.Owner != q.Owner,
		q.Person != "" && r.PersonID != q.Person,
		q.Stage != "" && !strings.EqualFold(r.Stage, q.Stage),
		q.Playbook != "" && r.Playbook != q.Playbook,
		q.Status == "open" && r.DoneAt != nil,
		q.Status == "done" && r.DoneAt == nil,
		!q.DueBefore.IsZero() && (r.Due == nil || !r.Due.Before(q.DueBefore)):
		return false
	}
	return true
}

func matches(r *Record, needle string) bool {
	for _, s := range []string{r.Name, r.Email, r.Phone, r.Title, r.Subject, r.Domain, r.Content, r.OwnerName} {
		if s != "" && strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	if p := NormalizePhone(needle); p != "" && strings.Contains(r.Phone, strings.TrimPrefix(p, "+")) {
		return true
	}
	return false
}

// ConversationContext is what the CRM remembers of a conversation: the
// person and organization it is linked to, the latest lead and deal made
// from it, and the owner its round robins picked, per team.
type ConversationContext struct {
	Person       string
	Organization string
	Lead         string
	Deal         string
	Owners       map[string]string // team → agent id
}

// Context returns what the CRM knows of a conversation.
func (s *Store) Context(ctx context.Context, conv string) (ConversationContext, error) {
	m, _, err := s.st.Conversation(ctx, conv)
	if err != nil {
		return ConversationContext{}, err
	}
	return contextOf(m), nil
}

func contextOf(m map[string]string) ConversationContext {
	c := ConversationContext{Person: m["person"], Organization: m["organization"], Lead: m["lead"], Deal: m["deal"], Owners: map[string]string{}}
	for k, v := range m {
		if team, ok := strings.CutPrefix(k, "owner:"); ok {
			c.Owners[team] = v
		}
	}
	return c
}

// Results returns every record made from a conversation, by the bot or an
// agent, oldest first.
func (s *Store) Results(ctx context.Context, conv string) ([]*Record, error) {
	ids, err := s.st.Results(ctx, conv, 500)
	if err != nil {
		return nil, err
	}
	return s.records(ctx, ids)
}

// conv sets a field of a conversation's memory.
func (c *change) conv(conv, field, value string) {
	c.c.Conv = append(roomy(c.c.Conv, c.convs[:]), store.ConvField{Conv: conv, Field: field, Value: value})
}

// newMember is feed's nx for a record new in the change: no feed holds
// it yet, so NX adds it as a plain add would.
const newMember = true

// feed adds member to the feed of record owner at ms (nx: keep an
// existing member's score).
func (c *change) feed(owner, member string, ms int64, nx bool) {
	c.c.Feeds = append(roomy(c.c.Feeds, c.feeds[:]), store.FeedAdd{Owner: owner, Member: member, Ms: ms, NX: nx})
}

// event adds an event to the outbox with the change.
func (c *change) event(ev store.OutboxEvent) { c.c.Events = append(c.c.Events, ev) }

// CompleteTask marks a task done (done true: DoneAt is now) or open again
// (false: DoneAt cleared). Marking a done task done again keeps its first
// DoneAt and writes nothing. It adds a record.updated event to the outbox
// when a webhook wants those.
func (s *Store) CompleteTask(ctx context.Context, id string, done bool) (*Record, error) {
	for try := 0; try < maxTries; try++ {
		rs, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if rs[0].rec == nil || rs[0].rec.Kind != KindTask {
			return nil, ErrNotFound
		}
		r := rs[0].rec
		if (r.DoneAt != nil) == done {
			return r, nil
		}
		now := s.now().UTC()
		r.DoneAt = nil
		if done {
			r.DoneAt = &now
		}
		r.UpdatedAt = now
		b, err := encodeRecord(r)
		if err != nil {
			return nil, err
		}
		ch := newChange()
		ch.record(id, rs[0].json, string(b))
		if err := s.addRecordEvent(ctx, ch, EventRecordUpdated, r, nil, nil, now); err != nil {
			return nil, err
		}
		if _, err := s.commit(ctx, ch); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return nil, err
		}
		s.tellChanged(ctx, r)
		return r, nil
	}
	return nil, fmt.Errorf("%w: the task kept changing", ErrConflict)
}

// tellChanged calls Options.Changed with rs, when set and rs not empty.
func (s *Store) tellChanged(ctx context.Context, rs ...*Record) {
	if s.changed != nil && len(rs) > 0 {
		s.changed(ctx, rs)
	}
}
