package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/retry"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// agentDirectory adapts the inbox's agents to the CRM.
type agentDirectory struct{ st *handoff.Store }

func crmAgent(a *handoff.Agent) *crm.Agent {
	return &crm.Agent{ID: a.ID, Name: a.Name, Email: a.Email, Teams: a.Teams, Admin: a.Role == handoff.RoleAdmin}
}

func (d agentDirectory) Agent(ctx context.Context, id string) (*crm.Agent, error) {
	a, err := d.st.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	return crmAgent(a), nil
}

func (d agentDirectory) AgentByEmail(ctx context.Context, email string) (*crm.Agent, error) {
	a, err := d.st.AgentByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return crmAgent(a), nil
}

func (d agentDirectory) TeamAgents(ctx context.Context, team string) ([]*crm.Agent, error) {
	all, err := d.st.Agents(ctx)
	if err != nil {
		return nil, err
	}
	var out []*crm.Agent
	for _, a := range all {
		if slices.Contains(a.Teams, team) {
			out = append(out, crmAgent(a))
		}
	}
	return out, nil
}

func (d agentDirectory) OnlineAgents(ctx context.Context, team string) ([]string, error) {
	return d.st.OnlineAgents(ctx, team)
}

// openCRM opens the CRM on engine (its record events sent with its writes
// when it publishes on publisher): records owned by the inbox's agents,
// notes to them told in the inbox (NotifyCRM), on the service's clock.
func (s *Service) openCRM(engine store.CRMEngine, publisher Publisher) *crm.Store {
	o := crm.Options{Agents: Agents(s.inbox), Notify: s.NotifyCRM, Changed: s.RecordsChanged, Now: s.now, Metrics: s.m}
	if p, ok := engine.(store.CRMPublisher); ok && p.PublishesOn(publisher) {
		// A create's record event goes out with its last write.
		o.ChangedMessage = s.recordsMessage
	}
	return crm.New(engine, engine, o)
}

// CRM returns the CRM store, for tests and tools.
func (s *Service) CRM() *crm.Store { return s.crm }

// WebhookOptions configure the delivery of webhook events (retries,
// timeouts); zero values take package crm's defaults.
type WebhookOptions = crm.DeliveryOptions

// Webhooks returns the delivery of the CRM outbox's webhook events, for
// Run; o.Logger defaults to the service's.
func (s *Service) Webhooks(o WebhookOptions) *crm.Dispatcher {
	if o.Logger == nil {
		o.Logger = s.log
	}
	return s.crm.Dispatcher(o)
}

// crmRecords is the default Records: create cards go to the CRM.
type crmRecords struct{ s *Service }

func (r crmRecords) Create(ctx context.Context, conv string, rec engine.Record) error {
	return r.create(ctx, conv, nil, rec)
}

// create is Create with the session the turn left (nil: read it).
func (r crmRecords) create(ctx context.Context, conv string, sess *engine.Session, rec engine.Record) error {
	src := r.s.CRMSource(ctx, conv, nil, sess)
	var res *crm.Result
	err := retry.Do(ctx, retry.Policy{Tries: 3, Base: 100 * time.Millisecond}, func(ctx context.Context) error {
		var err error
		res, err = r.s.crm.Create(ctx, src, rec)
		if errors.Is(err, crm.ErrInvalid) {
			return retry.Permanent(err)
		}
		return err
	})
	if m, ok := ctx.Value(sourceMemoKey{}).(*sourceMemo); ok && sess != nil && m.conv == conv {
		m.created(res, err, src.Chat != nil)
	}
	return err
}

// CRMSource describes a conversation to the CRM: its team, what is known
// of the visitor (the pre-chat form, else the vars of type email and
// phone), and the chat for the person's feed. sess is the conversation's
// session when the caller has it (nil: it is read).
func (s *Service) CRMSource(ctx context.Context, conv string, agent *handoff.Agent, sess *engine.Session) crm.Source {
	if m, ok := ctx.Value(sourceMemoKey{}).(*sourceMemo); ok && agent == nil && sess != nil && m.conv == conv {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.src == nil {
			src := s.crmSource(ctx, conv, nil, sess, m.reads)
			if m.final && src.Chat.EndedAt == nil {
				// The turn ends the chat: its creates write it ended, as
				// the refresh after the turn would (refreshChat).
				now := s.now().UTC()
				src.Chat.EndedAt = &now
			}
			if r := m.reads; r != nil && r.Read && r.CRM && r.CRMErr == nil && len(r.CRMIDs) == len(r.CRMIndexes) {
				read := &crm.ConversationRead{Memory: r.CRMMemory, Indexes: make(map[string]string, len(r.CRMIndexes)), Records: r.CRMRecordsRead}
				for i, n := range r.CRMIndexes {
					read.Indexes[n] = r.CRMIDs[i]
				}
				src.Read = read
			}
			m.src = &src
		}
		src := m.src.Clone()
		// What was read with the turn serves the turn's first create
		// only: the records it makes change what a second one reads.
		m.src.Read = nil
		return src
	}
	return s.crmSource(ctx, conv, agent, sess, nil)
}

// sourceMemo keeps, for one turn, the conversation's crm.Source the bot's
// work made (a create card's record, then the chat in the person's feed):
// the inbox record is read once, not once for each, and not at all when
// it was read with the turn (reads). It also records what the turn's
// creates linked: when each of them wrote the chat in the feed of one
// person, the refresh after the turn has nothing to change (linkedBy).
type sourceMemo struct {
	conv  string
	reads *store.TurnReads
	final bool // the turn ends the chat (crmHears)
	mu    sync.Mutex
	src   *crm.Source
	// creates is the turn's create cards; linked counts those whose
	// create wrote the chat in person's feed (another person, or a create
	// that failed, found its key used or linked nobody: broken).
	creates, linked int
	person          string
	broken          bool
}

type sourceMemoKey struct{}

// withSourceMemo is ctx with a memo of conv's crm.Source, for a turn that
// creates records; reads are what the turn read with its write for them
// (nil: none); entries are what it stored.
func withSourceMemo(ctx context.Context, conv string, effs []engine.Effect, reads *store.TurnReads, entries []store.Entry) context.Context {
	n := 0
	for _, e := range effs {
		if e.Kind == engine.EffectCreate {
			n++
		}
	}
	if n == 0 {
		return ctx
	}
	_, final := crmHears(entries)
	return context.WithValue(ctx, sourceMemoKey{}, &sourceMemo{conv: conv, reads: reads, final: final, creates: n})
}

// created records a create of the turn: its result, its error, and
// whether its source had the chat.
func (m *sourceMemo) created(res *crm.Result, err error, chat bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case err != nil || res == nil || res.Duplicate || res.Person == nil || !chat:
		m.broken = true
	case m.person != "" && m.person != res.Person.ID:
		m.broken = true
	default:
		m.person = res.Person.ID
		m.linked++
	}
}

// linkedBy returns the person in whose feed the turn's creates wrote the
// chat, as the refresh after the turn would write it (ok false: they did
// not all, and the refresh runs).
func linkedBy(ctx context.Context, conv string) (person string, ok bool) {
	m, found := ctx.Value(sourceMemoKey{}).(*sourceMemo)
	if !found || m.conv != conv {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken || m.linked != m.creates || m.person == "" {
		return "", false
	}
	return m.person, true
}

// askCreateReads asks, on r, for what the turn's create cards (among
// effs) read first: the conversation's inbox record, the CRM's memory of
// it and the index entries of the visitor the session knows (the inbox
// record may name another, which the create then reads itself), and the
// records those name (a known domain's organization). Only for
// the CRM's records (Config.Records left to its default).
func (s *Service) askCreateReads(r *store.TurnReads, p *engine.Program, sess *engine.Session, effs []engine.Effect) {
	if r == nil {
		return
	}
	r.Reset()
	if _, ok := s.cfg.Records.(crmRecords); !ok {
		return
	}
	for _, e := range effs {
		if e.Kind != engine.EffectCreate || e.Record == nil {
			continue
		}
		if !r.CRM {
			r.Inbox, r.CRM, r.CRMRecords = true, true, true
		}
		for _, n := range crm.ReadNames(contactOf(p, sess), *e.Record) {
			if !slices.Contains(r.CRMIndexes, n) {
				r.CRMIndexes = append(r.CRMIndexes, n)
			}
		}
	}
}

// crmSource is CRMSource, read; pre is what the turn read with its write
// (nil: nothing).
func (s *Service) crmSource(ctx context.Context, conv string, agent *handoff.Agent, sess *engine.Session, pre *store.TurnReads) crm.Source {
	src := crm.Source{Conversation: conv}
	if agent != nil {
		src.Agent = crmAgent(agent)
	}
	chat := crm.Chat{Conversation: conv}
	var meta *handoff.Conversation
	var err error
	if pre != nil && pre.Read && pre.Inbox && (pre.InboxErr == nil || errors.Is(pre.InboxErr, store.ErrInboxNotFound)) {
		meta, err = pre.InboxRecord, pre.InboxErr
	} else {
		meta, err = s.inbox.Conversation(ctx, conv)
	}
	if err == nil {
		src.Team = meta.Team
		src.Visitor = crm.Contact{Name: meta.Visitor.Name, Email: meta.Visitor.Email}
		chat.StartedAt, chat.Agent, chat.Playbook = meta.StartedAt, meta.AssigneeName, meta.Playbook
		chat.EndedAt = meta.ResolvedAt
	}
	if sess == nil {
		sess, _, _ = s.store.Load(ctx, conv)
	}
	if sess != nil {
		if chat.StartedAt.IsZero() {
			chat.StartedAt = sess.StartedAt
		}
		chat.Outcome = sess.Outcome
		p, known := s.SessionContact(ctx, sess)
		if p != nil {
			src.BotName = p.Bot.Name
			if chat.Playbook == "" {
				chat.Playbook = p.ID
			}
		}
		for _, f := range []struct{ dst, src *string }{{&src.Visitor.Name, &known.Name}, {&src.Visitor.Email, &known.Email}, {&src.Visitor.Phone, &known.Phone}} {
			if *f.dst == "" {
				*f.dst = *f.src
			}
		}
	}
	if chat.StartedAt.IsZero() {
		chat.StartedAt = s.now().UTC()
	}
	if sess != nil {
		chat.FirstMessage = sess.FirstMessage
	}
	if chat.FirstMessage == "" {
		// A session from before the first message was kept on it (or one
		// where the visitor has said nothing yet): look in the transcript.
		if entries, err := s.store.Transcript(ctx, conv, "", 100); err == nil {
			for _, e := range entries {
				if e.From == "visitor" && e.Kind == "message" {
					chat.FirstMessage = e.Text
					break
				}
			}
		}
	}
	src.Chat, src.Playbook = &chat, chat.Playbook
	return src
}

// SessionContact is what a session knows of the visitor: the widget's name
// and email, else the first vars of type email and phone. It returns the
// session's program too (nil when that version is gone).
func (s *Service) SessionContact(ctx context.Context, sess *engine.Session) (*engine.Program, crm.Contact) {
	p, err := s.reg.Version(ctx, sess.Version)
	if err != nil {
		return nil, crm.Contact{Name: sess.Visitor.Name, Email: sess.Visitor.Email}
	}
	return p, contactOf(p, sess)
}

// contactOf is SessionContact on the session's program p.
func contactOf(p *engine.Program, sess *engine.Session) crm.Contact {
	c := crm.Contact{Name: sess.Visitor.Name, Email: sess.Visitor.Email}
	for _, v := range p.Vars {
		val, _ := sess.Vars[v.Name].(string)
		switch {
		case val == "":
		case v.Type == engine.TypeEmail && c.Email == "":
			c.Email = val
		case v.Type == engine.TypePhone && c.Phone == "":
			c.Phone = val
		}
	}
	return c
}

// crmAfterTurn tells the CRM and the webhooks what a turn changed: a
// handoff, an agent joining, a resolve, the bot's end. It refreshes the
// chat in the linked person's feed (and keeps its transcript when the chat
// is over). It runs in the background: the turn's answer does not
// wait for it. finish is called once it is over, with false when an event
// could not be added to the outbox (the turn's pending mark then stays, and
// the sweep emits it again: redoEvents).
// reads are what the turn read with its write (nil: nothing): the person
// look-up askPersonReads asked for, when it was read.
func (s *Service) crmAfterTurn(ctx context.Context, conv string, sess *engine.Session, entries []store.Entry, reads *store.TurnReads, finish func(ok bool)) {
	if !crmHearsAny(entries) {
		finish(true)
		return
	}
	events, final := crmHears(entries)
	s.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		person := s.refreshChat(ctx, conv, sess, final, reads)
		ok := true
		for _, e := range events {
			if err := s.emitConversation(ctx, eventOf(e.Kind), conv, person, e.ID); err != nil {
				s.log.Warn("webhook outbox: adding an event (the sweep adds it later)", "type", eventOf(e.Kind), "conversation", conv, "err", err)
				ok = false
			}
		}
		finish(ok)
	})
}

// crmHearsAny reports whether crmHears finds an event or the chat's end
// among entries (without making the list).
func crmHearsAny(entries []store.Entry) bool {
	return slices.ContainsFunc(entries, func(e store.Entry) bool {
		return eventOf(e.Kind) != "" || e.Kind == "resolved" || e.Kind == "end"
	})
}

// crmHears returns the entries among a turn's whose webhook events
// crmAfterTurn emits, and whether the turn ends the chat (the bot's end or
// an agent's resolve): the turns after which it refreshes the chat in its
// person's feed.
func crmHears(entries []store.Entry) (events []store.Entry, final bool) {
	for _, e := range entries {
		if eventOf(e.Kind) != "" {
			events = append(events, e)
		}
		final = final || e.Kind == "resolved" || e.Kind == "end"
	}
	return events, final
}

// askPersonReads asks, on r, for what refreshChat's look for the chat's
// person reads (crm.Store.PersonOf: the CRM's memory of the conversation
// and the index entry of the email the session knows), with the turn, for
// a turn the CRM hears of (crmHears) that creates no record: a create
// links its person after the turn, which a read with the turn would not
// see, so such a turn's look-up reads after it as before. Called after
// askCreateReads, on the step's entries; only for the CRM's records
// (Config.Records left to its default), as askCreateReads.
func (s *Service) askPersonReads(r *store.TurnReads, p *engine.Program, sess *engine.Session, effs []engine.Effect, entries []store.Entry) {
	if r == nil || r.CRM || sess == nil {
		return
	}
	if _, ok := s.cfg.Records.(crmRecords); !ok {
		return
	}
	if slices.ContainsFunc(effs, func(e engine.Effect) bool { return e.Kind == engine.EffectCreate }) {
		return
	}
	if events, final := crmHears(entries); len(events) == 0 && !final {
		return
	}
	r.CRM = true
	if n := crm.PersonIndex(contactOf(p, sess).Email); n != "" {
		r.CRMIndexes = append(r.CRMIndexes, n)
	}
}

// personRead is the person PersonOf would answer, from what the turn read
// with its write for askPersonReads (ok false: not read, read with an
// error, or read for a create; the caller reads it then).
func personRead(r *store.TurnReads, email string) (person string, ok bool) {
	if r == nil || !r.Read || !r.CRM || r.CRMErr != nil || r.CRMMemory == nil && r.CRMIDs == nil {
		return "", false
	}
	n := crm.PersonIndex(email)
	if n == "" && len(r.CRMIndexes) != 0 || n != "" && !slices.Equal(r.CRMIndexes, []string{n}) {
		return "", false // read for another email, or for a create
	}
	return crm.PersonFrom(r.CRMMemory, r.CRMIDs), true
}

// eventOf is the webhook event an entry of kind causes ("" for none).
func eventOf(kind string) string {
	switch kind {
	case "handoff":
		return crm.EventConversationHandoff
	case "joined":
		return crm.EventConversationAssigned
	case "resolved":
		return crm.EventConversationResolved
	}
	return ""
}

// conversationEventID is the id of a conversation's webhook event of type
// typ, caused by the transcript entry entry ("" for conversation.started):
// the same event emitted again gets the same id, and is not added twice.
func conversationEventID(conv, typ, entry string) string {
	id := "evt_" + conv + "_" + strings.TrimPrefix(typ, "conversation.")
	if entry != "" {
		id += "_" + entry
	}
	return id
}

// eventKeep is how long an emitted conversation event's id is remembered,
// so that the sweep never adds it twice: as long as the conversation's
// record (Config.Retention), and longer than its session.
func (s *Service) eventKeep() time.Duration { return max(s.cfg.Retention, 2*s.cfg.IdleTTL) }

// refreshChat puts the conversation in its person's feed, or updates it
// there, and returns the person's id ("" when none). When the chat is
// over it also keeps its transcript, which the feed links
// (store.Sessions.KeepTranscript). sess is the session the turn left
// (nil: it is read).
func (s *Service) refreshChat(ctx context.Context, conv string, sess *engine.Session, final bool, reads *store.TurnReads) string {
	if person, ok := linkedBy(ctx, conv); ok && sess != nil {
		// The turn's creates wrote the chat, from the same source (and
		// ended when the turn ends it): nothing to read or write again
		// but the transcript's keep.
		s.keepLinked(ctx, conv, person, final)
		return person
	}
	found, foundBy := "", ""
	if sess != nil {
		// Most chats have no person to go to (the visitor left no email,
		// or nobody has that email): one round trip finds out, before the
		// conversation and its transcript are read; none when the turn
		// read it with its write (askPersonReads).
		_, known := s.SessionContact(ctx, sess)
		person, ok := personRead(reads, known.Email)
		var err error
		if !ok {
			person, err = s.crm.PersonOf(ctx, conv, known.Email)
		}
		if err == nil && person == "" {
			return ""
		}
		if err == nil {
			found, foundBy = person, known.Email
		}
	}
	src := s.CRMSource(ctx, conv, nil, sess)
	chat := *src.Chat
	if final && chat.EndedAt == nil {
		now := s.now().UTC()
		chat.EndedAt = &now
	}
	if crm.NormalizeEmail(foundBy) != crm.NormalizeEmail(src.Visitor.Email) {
		found = "" // found by another email than the one linked by: read again
	}
	person, err := s.crm.LinkChatOf(ctx, chat, src.Team, src.Visitor.Email, found)
	if err != nil {
		s.log.Warn("crm: linking the chat to its person", "conversation", conv, "err", err)
		return ""
	}
	s.keepLinked(ctx, conv, person, final)
	return person
}

// keepLinked keeps the transcript of a chat that is over (final) and in
// person's feed ("" for none).
func (s *Service) keepLinked(ctx context.Context, conv, person string, final bool) {
	if person != "" && final {
		// The person's feed links the transcript (crm.TranscriptPath): it
		// is kept past the session's expiry, as long as the CRM is, and
		// neither read nor copied (issue 13).
		if err := s.store.KeepTranscript(ctx, conv); err != nil {
			s.log.Warn("crm: keeping the transcript the person's feed links", "conversation", conv, "err", err)
		}
	}
}

// transcriptLine is a message of a transcript in a webhook.
type transcriptLine struct {
	From   string    `json:"from"`
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// conversationEvent is the data of the conversation.* webhooks.
type conversationEvent struct {
	Conversation  *handoff.Conversation `json:"conversation"`
	Person        string                `json:"person,omitempty"`
	Outcome       string                `json:"outcome,omitempty"`
	TranscriptURL string                `json:"transcript_url"`
	Transcript    []transcriptLine      `json:"transcript,omitempty"`
}

// emitConversation adds a conversation event (caused by the transcript
// entry entry) to the webhook outbox, once.
func (s *Service) emitConversation(ctx context.Context, typ, conv, person, entry string) error {
	if !s.crm.Subscribed(ctx, typ) {
		return nil
	}
	meta, err := s.inbox.Conversation(ctx, conv)
	if errors.Is(err, handoff.ErrNotFound) {
		return nil // gone: nothing to tell
	}
	if err != nil {
		return err
	}
	data := conversationEvent{Conversation: meta, Person: person, TranscriptURL: crm.TranscriptPath(conv)}
	if sess, _, err := s.store.Load(ctx, conv); err == nil {
		data.Outcome = sess.Outcome
	}
	if typ == crm.EventConversationResolved {
		entries, err := s.store.Transcript(ctx, conv, "", 0)
		if err != nil {
			return err
		}
		data.Transcript = MessagesOf(entries, 500)
	}
	_, err = s.crm.EmitOnce(ctx, conversationEventID(conv, typ, entry), typ, data, s.eventKeep())
	return err
}

// MessagesOf keeps the messages the visitor and the agents saw (no notes,
// no deleted messages), at most n.
func MessagesOf(entries []store.Entry, n int) []transcriptLine {
	deleted := map[string]bool{}
	for _, e := range entries {
		if e.Kind == "deleted" {
			if t, ok := e.Data["target"].(string); ok {
				deleted[t] = true
			}
		}
	}
	out := []transcriptLine{}
	for _, e := range entries {
		if e.Kind != "message" || deleted[e.ID] || len(out) == n {
			continue
		}
		out = append(out, transcriptLine{From: e.From, Author: e.Author, Text: e.Text, At: e.At})
	}
	return out
}

// EmitStarted adds conversation.started to the webhook outbox, once.
func (s *Service) EmitStarted(ctx context.Context, c *handoff.Conversation) error {
	if !s.crm.Subscribed(ctx, crm.EventConversationStarted) {
		return nil
	}
	data := conversationEvent{Conversation: c, TranscriptURL: crm.TranscriptPath(c.ID)}
	_, err := s.crm.EmitOnce(ctx, conversationEventID(c.ID, crm.EventConversationStarted, ""), crm.EventConversationStarted, data, s.eventKeep())
	return err
}

// RecordsChanged tells the agents who may see them that CRM records were
// created or changed together (one inbox event of type record: one
// publish for a create's person, lead and task; every feed asks the
// access policy), so the CRM screens and the task count move without a
// reload.
func (s *Service) RecordsChanged(ctx context.Context, rs []*crm.Record) {
	s.PublishInbox(ctx, InboxEvent{Type: protocol.TypeRecord, Records: rs})
}

// recordsMessage is the inbox message RecordsChanged publishes for rs,
// for an engine that sends it with the create (crm.Options.ChangedMessage).
// js is rs's JSON array when the CRM made it from the records' stored JSON
// (nil: rs is marshalled): the event's JSON is then written around it, the
// same bytes as json.Marshal(InboxEvent{Type: record, Records: rs}).
func (s *Service) recordsMessage(rs []*crm.Record, js []byte) (store.Message, bool) {
	if len(rs) > 0 && len(js) > 2 {
		return store.Message{Channel: s.inbox.InboxChannel(), Payload: recordsEventHead + string(js) + "}"}, true
	}
	b, err := json.Marshal(InboxEvent{Type: protocol.TypeRecord, Records: rs})
	if err != nil {
		return store.Message{}, false
	}
	return store.Message{Channel: s.inbox.InboxChannel(), Payload: string(b)}, true
}

// recordsEventHead is the JSON of an InboxEvent of type record up to its
// records (the fields before them empty: omitted, Conversation null).
const recordsEventHead = `{"type":"` + protocol.TypeRecord + `","conversation":null,"records":`

// NotifyCRM tells an agent about a note for them (inbox notify event).
func (s *Service) NotifyCRM(ctx context.Context, n crm.Notice) {
	ev := InboxEvent{Type: "notify", Kind: n.Kind, To: n.To, Text: n.Text, Record: n.Record, Person: n.Person}
	if n.Conversation != "" {
		if c, err := s.inbox.Conversation(ctx, n.Conversation); err == nil {
			if a, err := s.inbox.Agent(ctx, n.To); err == nil && access.CanSee(a, c) {
				ev.Conversation = c
			}
		}
	}
	s.PublishInbox(ctx, ev)
}

// ReconcileRecords makes sure every record the transcript says the bot
// created is in the CRM (a process that died between a turn and its
// records leaves them only in the transcript, until the pending sweep).
// Create is idempotent, so records already made cost one read each.
func (s *Service) ReconcileRecords(ctx context.Context, conv string) {
	if _, ok := s.cfg.Records.(crmRecords); !ok {
		return
	}
	entries, err := s.store.Transcript(ctx, conv, "", 0)
	if err != nil {
		return
	}
	for _, rec := range RecordsIn(entries) {
		if err := s.CreateRecord(ctx, conv, nil, rec); err != nil && !errors.Is(err, crm.ErrInvalid) {
			s.log.Warn("crm: re-creating a record from the transcript", "conversation", conv, "err", err)
		}
	}
}

// CreateRecord hands a create card's record to cfg.Records; the default
// (the CRM) gets the session the turn left (nil: it reads it).
func (s *Service) CreateRecord(ctx context.Context, conv string, sess *engine.Session, rec engine.Record) error {
	switch r := s.cfg.Records.(type) {
	case crmRecords:
		return r.create(ctx, conv, sess, rec)
	default:
		return r.Create(ctx, conv, rec)
	}
}

// RecordsIn returns the records a transcript says the bot created.
func RecordsIn(entries []store.Entry) []engine.Record {
	var out []engine.Record
	for _, e := range entries {
		if e.Kind != "record" {
			continue
		}
		kind, _ := e.Data["kind"].(string)
		key, _ := e.Data["key"].(string)
		fields, _ := e.Data["fields"].(map[string]any)
		if kind != "" && key != "" {
			out = append(out, engine.Record{Kind: engine.RecordKind(kind), Key: key, Fields: fields})
		}
	}
	return out
}
