package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/retry"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// DefaultCRMFields are the fields the inbox's details panel shows of each
// kind, when Config.CRMFields does not say otherwise.
var DefaultCRMFields = map[string][]string{
	"person":       {"name", "email", "phone", "organization", "owner"},
	"organization": {"name", "domain", "owner"},
	"lead":         {"title", "value", "currency", "owner", "labels", "source"},
	"deal":         {"title", "value", "currency", "pipeline", "stage", "owner", "expected_close"},
}

// crmService is the server's part of the CRM: the store, the webhook
// dispatcher and the panel's field lists.
type crmService struct {
	store  *crm.Store
	hooks  *crm.Dispatcher
	fields map[string][]string
}

// initCRM builds the CRM on the server's Redis and, when cfg.Records is
// nil, makes it where create cards' records go.
func (s *Server) initCRM(cfg *Config) {
	st := crm.New(cfg.Redis, crm.Options{Prefix: cfg.Prefix, Agents: agentDirectory{s.inbox}, Notify: s.notifyCRM, Now: cfg.Now})
	if cfg.Records == nil {
		cfg.Records = crmRecords{s}
	}
	wh := cfg.Webhooks
	if wh.Logger == nil {
		wh.Logger = s.log
	}
	fields := map[string][]string{}
	for k, v := range DefaultCRMFields {
		fields[k] = v
	}
	for k, v := range cfg.CRMFields {
		fields[k] = v
	}
	s.crm = &crmService{store: st, hooks: st.Dispatcher(wh), fields: fields}
}

// CRM returns the CRM store, for tests and tools.
func (s *Server) CRM() *crm.Store { return s.crm.store }

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

// crmRecords is the default Records: create cards go to the CRM.
type crmRecords struct{ s *Server }

func (r crmRecords) Create(ctx context.Context, conv string, rec engine.Record) error {
	return r.create(ctx, conv, nil, rec)
}

// create is Create with the session the turn left (nil: read it).
func (r crmRecords) create(ctx context.Context, conv string, sess *engine.Session, rec engine.Record) error {
	src := r.s.crmSource(ctx, conv, nil, sess)
	return retry.Do(ctx, retry.Policy{Tries: 3, Base: 100 * time.Millisecond}, func(ctx context.Context) error {
		_, err := r.s.crm.store.Create(ctx, src, rec)
		if errors.Is(err, crm.ErrInvalid) {
			return retry.Permanent(err)
		}
		return err
	})
}

// crmSource describes a conversation to the CRM: its team, what is known
// of the visitor (the pre-chat form, else the vars of type email and
// phone), and the chat for the person's feed. sess is the conversation's
// session when the caller has it (nil: it is read).
func (s *Server) crmSource(ctx context.Context, conv string, agent *handoff.Agent, sess *engine.Session) crm.Source {
	src := crm.Source{Conversation: conv}
	if agent != nil {
		src.Agent = crmAgent(agent)
	}
	chat := crm.Chat{Conversation: conv}
	if meta, err := s.inbox.Conversation(ctx, conv); err == nil {
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
		p, known := s.sessionContact(ctx, sess)
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
	if entries, err := s.store.Transcript(ctx, conv, "", 100); err == nil {
		for _, e := range entries {
			if e.From == "visitor" && e.Kind == "message" {
				chat.FirstMessage = e.Text
				break
			}
		}
	}
	src.Chat = &chat
	return src
}

// sessionContact is what a session knows of the visitor: the widget's name
// and email, else the first vars of type email and phone. It returns the
// session's program too (nil when that version is gone).
func (s *Server) sessionContact(ctx context.Context, sess *engine.Session) (*engine.Program, crm.Contact) {
	c := crm.Contact{Name: sess.Visitor.Name, Email: sess.Visitor.Email}
	p, err := s.reg.Version(ctx, sess.Version)
	if err != nil {
		return nil, c
	}
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
	return p, c
}

// crmAfterTurn tells the CRM and the webhooks what a turn changed: a
// handoff, an agent joining, a resolve, the bot's end. It refreshes the
// chat in the linked person's feed (and archives its transcript when the
// chat is over). It runs in the background: the turn's answer does not
// wait for it. finish is called once it is over, with false when an event
// could not be added to the outbox (the turn's pending mark then stays, and
// the sweep emits it again: redoEvents).
func (s *Server) crmAfterTurn(ctx context.Context, conv string, sess *engine.Session, entries []redisstore.Entry, finish func(ok bool)) {
	var events []redisstore.Entry
	final := false
	for _, e := range entries {
		if eventOf(e.Kind) != "" {
			events = append(events, e)
		}
		final = final || e.Kind == "resolved" || e.Kind == "end"
	}
	if len(events) == 0 && !final {
		finish(true)
		return
	}
	s.goBackground(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		person := s.refreshChat(ctx, conv, sess, final)
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
func (s *Server) eventKeep() time.Duration { return max(s.cfg.Retention, 2*s.cfg.IdleTTL) }

// refreshChat puts the conversation in its person's feed, or updates it
// there, and returns the person's id ("" when none). When the chat is
// over it also archives its transcript. sess is the session the turn left
// (nil: it is read).
func (s *Server) refreshChat(ctx context.Context, conv string, sess *engine.Session, final bool) string {
	if sess != nil {
		// Most chats have no person to go to (the visitor left no email,
		// or nobody has that email): one round trip finds out, before the
		// conversation and its transcript are read.
		_, known := s.sessionContact(ctx, sess)
		if person, err := s.crm.store.PersonOf(ctx, conv, known.Email); err == nil && person == "" {
			return ""
		}
	}
	src := s.crmSource(ctx, conv, nil, sess)
	chat := *src.Chat
	if final && chat.EndedAt == nil {
		now := s.now().UTC()
		chat.EndedAt = &now
	}
	person, err := s.crm.store.LinkChat(ctx, chat, src.Team, src.Visitor.Email)
	if err != nil {
		s.log.Warn("crm: linking the chat to its person", "conversation", conv, "err", err)
		return ""
	}
	if person != "" && final {
		if entries, err := s.store.Transcript(ctx, conv, "", 0); err == nil && len(entries) > 0 {
			if b, err := json.Marshal(entries); err == nil {
				if err := s.crm.store.ArchiveTranscript(ctx, conv, b); err != nil {
					s.log.Warn("crm: archiving the transcript", "conversation", conv, "err", err)
				}
			}
		}
	}
	return person
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
func (s *Server) emitConversation(ctx context.Context, typ, conv, person, entry string) error {
	if !s.crm.store.Subscribed(ctx, typ) {
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
		data.Transcript = messagesOf(entries, 500)
	}
	_, err = s.crm.store.EmitOnce(ctx, conversationEventID(conv, typ, entry), typ, data, s.eventKeep())
	return err
}

// messagesOf keeps the messages the visitor and the agents saw (no notes,
// no deleted messages), at most n.
func messagesOf(entries []redisstore.Entry, n int) []transcriptLine {
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

// emitStarted adds conversation.started to the webhook outbox, once.
func (s *Server) emitStarted(ctx context.Context, c *handoff.Conversation) error {
	if !s.crm.store.Subscribed(ctx, crm.EventConversationStarted) {
		return nil
	}
	data := conversationEvent{Conversation: c, TranscriptURL: crm.TranscriptPath(c.ID)}
	_, err := s.crm.store.EmitOnce(ctx, conversationEventID(c.ID, crm.EventConversationStarted, ""), crm.EventConversationStarted, data, s.eventKeep())
	return err
}

// notifyCRM tells an agent about a note for them (inbox notify event).
func (s *Server) notifyCRM(ctx context.Context, n crm.Notice) {
	ev := inboxEvent{Type: "notify", Kind: n.Kind, To: n.To, Text: n.Text, Record: n.Record, Person: n.Person}
	if n.Conversation != "" {
		if c, err := s.inbox.Conversation(ctx, n.Conversation); err == nil {
			if a, err := s.inbox.Agent(ctx, n.To); err == nil && access.CanSee(a, c) {
				ev.Conversation = c
			}
		}
	}
	s.publishInbox(ctx, ev)
}

// crmError maps the crm package's errors to HTTP.
func crmError(err error) error {
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	case errors.Is(err, crm.ErrInvalid):
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case errors.Is(err, crm.ErrConflict):
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	case errors.Is(err, crm.ErrForbidden):
		return echo.NewHTTPError(http.StatusForbidden, err.Error())
	}
	return err
}

func viewerOf(a *handoff.Agent) crm.Viewer { return access.Viewer(a) }

// recordFor loads a record of a kind the signed-in agent may see.
func (s *Server) recordFor(c *echo.Context, kind crm.Kind) (*crm.Record, error) {
	r, err := s.crm.store.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return nil, crmError(err)
	}
	if r.Kind != kind {
		return nil, echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	if err := access.Record(agentOf(c), r); err != nil {
		return nil, echo.NewHTTPError(http.StatusForbidden, "this "+string(kind)+" belongs to another team")
	}
	return r, nil
}

// listRecords answers GET /api/people, /leads, /deals, /tasks,
// /organizations: ?q= searches, ?owner=me|ID, ?person=ID, ?limit=,
// ?before= (RFC 3339) pages back.
func (s *Server) listRecords(kind crm.Kind) echo.HandlerFunc {
	return func(c *echo.Context) error {
		q := crm.Query{Kind: kind, Q: truncate(c.QueryParam("q"), 200), Person: c.QueryParam("person"), Owner: c.QueryParam("owner")}
		if q.Owner == "me" {
			q.Owner = agentOf(c).ID
		}
		if l := c.QueryParam("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				return echo.NewHTTPError(http.StatusBadRequest, "limit is a number from 1 to 500")
			}
			q.Limit = n
		}
		if b := c.QueryParam("before"); b != "" {
			t, err := time.Parse(time.RFC3339Nano, b)
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "before is a time (RFC 3339)")
			}
			q.Before = t
		}
		list, err := s.crm.store.List(c.Request().Context(), viewerOf(agentOf(c)), q)
		if err != nil {
			return crmError(err)
		}
		return c.JSON(http.StatusOK, list)
	}
}

// getRecord answers GET /api/{kind}/{id}: the record, its person and
// organization, and for a person or organization the leads, deals and
// tasks linked to it.
func (s *Server) getRecord(kind crm.Kind) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r, err := s.recordFor(c, kind)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		v := viewerOf(agentOf(c))
		resp := map[string]any{"record": r}
		for key, id := range map[string]string{"person": r.PersonID, "organization": r.OrganizationID, "lead": r.LeadID, "deal": r.DealID} {
			if id == "" {
				continue
			}
			if rel, err := s.crm.store.Get(ctx, id); err == nil && v.CanSee(rel) {
				resp[key] = rel
			}
		}
		if kind == crm.KindPerson || kind == crm.KindOrganization {
			linked, err := s.crm.store.LinkedRecords(ctx, v, r.ID)
			if err != nil {
				return crmError(err)
			}
			for key, k := range map[string]crm.Kind{"people": crm.KindPerson, "leads": crm.KindLead, "deals": crm.KindDeal, "tasks": crm.KindTask} {
				if kind == crm.KindPerson && k == crm.KindPerson || kind == crm.KindOrganization && k == crm.KindTask {
					continue
				}
				list := linked[k]
				if list == nil {
					list = []*crm.Record{}
				}
				resp[key] = list
			}
		}
		return c.JSON(http.StatusOK, resp)
	}
}

// getFeed answers GET /api/{kind}/{id}/feed?type=chats|notes|records.
func (s *Server) getFeed(kind crm.Kind) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r, err := s.recordFor(c, kind)
		if err != nil {
			return err
		}
		limit := 0
		if l := c.QueryParam("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
		}
		items, err := s.crm.store.Feed(c.Request().Context(), r.ID, c.QueryParam("type"), limit)
		if err != nil {
			return crmError(err)
		}
		a := agentOf(c)
		out := make([]crm.FeedItem, 0, len(items))
		for _, it := range items {
			switch {
			case it.Record != nil:
				if access.Record(a, it.Record) != nil {
					continue
				}
			case it.Chat != nil:
				// A chat is shown by its conversation's rule, not the
				// person's: one the agent may not open is left out.
				conv, err := s.inbox.Conversation(c.Request().Context(), it.Chat.Conversation)
				if err != nil && a.Role != handoff.RoleAdmin || err == nil && !access.CanSee(a, conv) {
					continue
				}
			}
			out = append(out, it)
		}
		return c.JSON(http.StatusOK, out)
	}
}

type personUpdate struct {
	Name  *string `json:"name"`
	Phone *string `json:"phone"`
}

// updatePerson answers PUT /api/people/{id}: {name, phone}.
func (s *Server) updatePerson(c *echo.Context) error {
	r, err := s.recordFor(c, crm.KindPerson)
	if err != nil {
		return err
	}
	var req personUpdate
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	p, err := s.crm.store.UpdatePerson(c.Request().Context(), r.ID, req.Name, req.Phone)
	if err != nil {
		return crmError(err)
	}
	return c.JSON(http.StatusOK, p)
}

// panelField is one line of the details panel.
type panelField struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value any    `json:"value"`
}

// panelRecord is a record with the fields the panel shows of it.
type panelRecord struct {
	Record *crm.Record  `json:"record"`
	Fields []panelField `json:"fields"`
}

// crmPanel is what the inbox's details panel shows of a conversation.
type crmPanel struct {
	// Match says how the person was found: "conversation" (a record made
	// in this conversation links it), "email" (the visitor's email), or
	// "none".
	Match        string        `json:"match"`
	Email        string        `json:"email,omitempty"`
	Phone        string        `json:"phone,omitempty"`
	Name         string        `json:"name,omitempty"`
	Person       *panelRecord  `json:"person"`
	Organization *panelRecord  `json:"organization"`
	Leads        []panelRecord `json:"leads"`
	Deals        []panelRecord `json:"deals"`
	// Results lists every record made from this conversation, by the bot
	// or an agent, oldest first.
	Results []*crm.Record `json:"results"`
	// Actions are what the panel may offer: create_lead (no person
	// matched), notify_sales (a person with an owner), create_deal,
	// edit_phone.
	Actions []string `json:"actions"`
}

func labelOf(key string) string {
	if c, ok := strings.CutPrefix(key, "custom."); ok {
		key = c
	}
	key = strings.ReplaceAll(key, "_", " ")
	if key == "" {
		return key
	}
	return strings.ToUpper(key[:1]) + key[1:]
}

// panelFields lists a record's fields for the panel, per the configured
// field list of its kind; fields it lacks are left out.
func (s *Server) panelFields(ctx context.Context, r *crm.Record) []panelField {
	out := []panelField{}
	for _, key := range s.crm.fields[string(r.Kind)] {
		v, ok := r.Field(key)
		if !ok {
			continue
		}
		if key == "organization" {
			if o, err := s.crm.store.Get(ctx, r.OrganizationID); err == nil {
				v = o.Name
			}
		}
		out = append(out, panelField{Key: key, Label: labelOf(key), Value: v})
	}
	return out
}

// panel builds the details panel of a conversation for agent a.
func (s *Server) panel(ctx context.Context, conv string, a *handoff.Agent) (*crmPanel, error) {
	src := s.crmSource(ctx, conv, a, nil)
	p := &crmPanel{Match: "none", Email: crm.NormalizeEmail(src.Visitor.Email), Phone: src.Visitor.Phone, Name: src.Visitor.Name, Leads: []panelRecord{}, Deals: []panelRecord{}, Results: []*crm.Record{}}
	v := viewerOf(a)
	st := s.crm.store
	var person *crm.Record
	if id, err := st.Linked(ctx, conv); err == nil && id != "" {
		if r, err := st.Get(ctx, id); err == nil {
			person, p.Match = r, "conversation"
		}
	}
	if person == nil && p.Email != "" {
		if r, err := st.PersonByEmail(ctx, p.Email); err == nil {
			person, p.Match = r, "email"
		}
	}
	if person == nil && src.Visitor.Phone != "" {
		if r, err := st.PersonByPhone(ctx, src.Visitor.Phone); err == nil {
			person, p.Match = r, "phone"
		}
	}
	// An agent who may see the conversation sees whom it is with, even a
	// person of another team; the person's leads and deals only by the
	// usual rule.
	if person != nil {
		p.Person = &panelRecord{Record: person, Fields: s.panelFields(ctx, person)}
		if person.OrganizationID != "" {
			if o, err := st.Get(ctx, person.OrganizationID); err == nil {
				p.Organization = &panelRecord{Record: o, Fields: s.panelFields(ctx, o)}
			}
		}
		linked, err := st.LinkedRecords(ctx, v, person.ID)
		if err != nil {
			return nil, err
		}
		for i, r := range linked[crm.KindLead] {
			if i < 10 {
				p.Leads = append(p.Leads, panelRecord{Record: r, Fields: s.panelFields(ctx, r)})
			}
		}
		for i, r := range linked[crm.KindDeal] {
			if i < 10 {
				p.Deals = append(p.Deals, panelRecord{Record: r, Fields: s.panelFields(ctx, r)})
			}
		}
		if person.Owner != "" {
			p.Actions = append(p.Actions, "notify_sales")
		}
		p.Actions = append(p.Actions, "create_deal")
		if v.CanSee(person) {
			p.Actions = append(p.Actions, "edit_phone")
		}
	} else {
		p.Actions = []string{"create_lead", "create_deal"}
	}
	res, err := st.Results(ctx, conv)
	if err != nil {
		return nil, err
	}
	p.Results = append(p.Results, res...)
	return p, nil
}

// reconcileRecords makes sure every record the transcript says the bot
// created is in the CRM (a process that died between a turn and its
// records leaves them only in the transcript, until the pending sweep).
// Create is idempotent, so records already made cost one read each.
func (s *Server) reconcileRecords(ctx context.Context, conv string) {
	if _, ok := s.cfg.Records.(crmRecords); !ok {
		return
	}
	entries, err := s.store.Transcript(ctx, conv, "", 0)
	if err != nil {
		return
	}
	for _, rec := range recordsIn(entries) {
		if err := s.createRecord(ctx, conv, nil, rec); err != nil && !errors.Is(err, crm.ErrInvalid) {
			s.log.Warn("crm: re-creating a record from the transcript", "conversation", conv, "err", err)
		}
	}
}

// createRecord hands a create card's record to cfg.Records; the default
// (the CRM) gets the session the turn left (nil: it reads it).
func (s *Server) createRecord(ctx context.Context, conv string, sess *engine.Session, rec engine.Record) error {
	switch r := s.cfg.Records.(type) {
	case crmRecords:
		return r.create(ctx, conv, sess, rec)
	default:
		return r.Create(ctx, conv, rec)
	}
}

// recordsIn returns the records a transcript says the bot created.
func recordsIn(entries []redisstore.Entry) []engine.Record {
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

// getCRMPanel answers GET /api/conversations/{id}/crm.
func (s *Server) getCRMPanel(c *echo.Context) error {
	conv, err := s.conversationFor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.reconcileRecords(ctx, conv.ID)
	p, err := s.panel(ctx, conv.ID, agentOf(c))
	if err != nil {
		return crmError(err)
	}
	return c.JSON(http.StatusOK, p)
}

// agentCreate is the body of POST /api/conversations/{id}/lead, /deal and
// /notify-sales.
type agentCreate struct {
	Title         string   `json:"title"`
	Value         *float64 `json:"value"`
	Currency      string   `json:"currency"`
	Pipeline      string   `json:"pipeline"`
	Stage         string   `json:"stage"`
	ExpectedClose string   `json:"expected_close"`
	Note          string   `json:"note"`
	Text          string   `json:"text"`
	Name          string   `json:"name"`
	Email         string   `json:"email"`
	Phone         string   `json:"phone"`
	Owner         string   `json:"owner"`
	ClientID      string   `json:"client_id"`
}

// createFromConversation answers POST /api/conversations/{id}/lead,
// /deal and /notify-sales: the record, and the refreshed panel.
func (s *Server) createFromConversation(kind crm.Kind) echo.HandlerFunc {
	return func(c *echo.Context) error {
		conv, err := s.conversationFor(c)
		if err != nil {
			return err
		}
		var req agentCreate
		if err := decodeJSON(c, &req, 16<<10); err != nil {
			return err
		}
		if len(req.ClientID) > 100 {
			return echo.NewHTTPError(http.StatusBadRequest, "client_id is at most 100 characters")
		}
		ctx := c.Request().Context()
		me := agentOf(c)
		if kind == crm.KindNote {
			p, err := s.panel(ctx, conv.ID, me)
			if err != nil {
				return crmError(err)
			}
			if p.Person == nil {
				return echo.NewHTTPError(http.StatusConflict, "no person matches this conversation: create a lead first")
			}
		}
		src := s.crmSource(ctx, conv.ID, me, nil)
		if kind != crm.KindNote {
			if err := s.mayLinkPerson(ctx, me, conv, src, req.Email, req.Phone); err != nil {
				return err
			}
		}
		who := map[string]any{}
		for k, v := range map[string]string{"name": req.Name, "email": req.Email, "phone": req.Phone} {
			if v = strings.TrimSpace(v); v != "" {
				who[k] = v
			}
		}
		fields := map[string]any{}
		set := func(k, v string) {
			if v = strings.TrimSpace(v); v != "" {
				fields[k] = v
			}
		}
		switch kind {
		case crm.KindLead:
			if len(who) == 0 && src.Visitor.Email != "" {
				who["email"] = src.Visitor.Email
				if src.Visitor.Name != "" {
					who["name"] = src.Visitor.Name
				}
			}
			title := req.Title
			if title == "" {
				title = "Chat with " + firstOf(req.Name, req.Email, src.Visitor.Name, src.Visitor.Email, "a visitor")
			}
			set("title", title)
			set("currency", req.Currency)
			set("note", req.Note)
			fields["source"] = "inbox"
		case crm.KindDeal:
			title := req.Title
			if title == "" {
				title = "Deal with " + firstOf(req.Name, req.Email, src.Visitor.Name, src.Visitor.Email, "a visitor")
			}
			set("title", title)
			set("currency", req.Currency)
			set("pipeline", req.Pipeline)
			set("stage", req.Stage)
			set("expected_close", req.ExpectedClose)
			set("note", req.Note)
		case crm.KindNote:
			text := firstOf(req.Text, req.Note)
			if strings.TrimSpace(text) == "" {
				return echo.NewHTTPError(http.StatusBadRequest, "text is the note for the owner")
			}
			set("content", text)
			fields["about"] = "owner"
		}
		if kind != crm.KindNote {
			if req.Value != nil {
				fields["value"] = *req.Value
			}
			set("owner", req.Owner)
			if len(who) > 0 {
				fields["person"] = who
			}
		}
		key := crm.Key(conv.ID, me.ID, string(kind), newID())
		if req.ClientID != "" {
			key = crm.Key(conv.ID, me.ID, string(kind), req.ClientID)
		}
		res, err := s.crm.store.Create(ctx, src, engine.Record{Kind: engine.RecordKind(kind), Key: key, Fields: fields})
		if err != nil {
			return crmError(err)
		}
		p, err := s.panel(ctx, conv.ID, me)
		if err != nil {
			return crmError(err)
		}
		resp := map[string]any{"record": res.Record, "duplicate": res.Duplicate, "crm": p}
		if kind == crm.KindNote {
			resp["notified"] = res.Record.OwnerName
		}
		return c.JSON(http.StatusOK, resp)
	}
}

// mayLinkPerson asks the access policy whether a record agent a makes from
// conversation conv, naming email and phone, may attach to the person they
// match. The person is the chat's own when the conversation is linked to
// them or the visitor gave that email or phone in it.
func (s *Server) mayLinkPerson(ctx context.Context, a *handoff.Agent, conv *handoff.Conversation, src crm.Source, email, phone string) error {
	email, phone = crm.NormalizeEmail(email), crm.NormalizePhone(phone)
	var p *crm.Record
	var err error
	switch {
	case email != "":
		p, err = s.crm.store.PersonByEmail(ctx, email)
	case phone != "":
		p, err = s.crm.store.PersonByPhone(ctx, phone)
	default:
		return accessError(access.LinkPerson(a, conv, nil, true)) // the chat's own person
	}
	if errors.Is(err, crm.ErrNotFound) {
		return accessError(access.LinkPerson(a, conv, nil, false))
	}
	if err != nil {
		return crmError(err)
	}
	own := email != "" && email == crm.NormalizeEmail(src.Visitor.Email) ||
		email == "" && phone != "" && phone == crm.NormalizePhone(src.Visitor.Phone)
	if !own {
		if linked, err := s.crm.store.Linked(ctx, conv.ID); err == nil && linked == p.ID {
			own = true
		}
	}
	return accessError(access.LinkPerson(a, conv, p, own))
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// archivedTranscript returns the archived copy of an expired
// conversation's transcript, entries after `after`.
func (s *Server) archivedTranscript(ctx context.Context, conv, after string) ([]redisstore.Entry, bool) {
	b, err := s.crm.store.ArchivedTranscript(ctx, conv)
	if err != nil {
		return nil, false
	}
	var entries []redisstore.Entry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, false
	}
	if after != "" && after != "0" {
		a := parseStreamID(after)
		entries = slices.DeleteFunc(entries, func(e redisstore.Entry) bool { return !a.less(parseStreamID(e.ID)) })
	}
	return entries, true
}
