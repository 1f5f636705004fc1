package conversation

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
)

// The CRM as agents use it: the CRM API (people, organizations, leads,
// deals, tasks and their feeds), the details panel of a conversation, and
// the records an agent makes from a chat. Every read and action asks the
// access policy; answers are protocol types.

// DefaultCRMFields are the fields the inbox's details panel shows of each
// kind, when Config.CRMFields does not say otherwise.
var DefaultCRMFields = map[string][]string{
	"person":       {"name", "email", "phone", "organization", "owner"},
	"organization": {"name", "domain", "owner"},
	"lead":         {"title", "value", "currency", "owner", "labels", "source"},
	"deal":         {"title", "value", "currency", "pipeline", "stage", "owner", "expected_close"},
}

// Record kinds of the CRM API and of records made from a chat.
const (
	KindPerson       = string(crm.KindPerson)
	KindOrganization = string(crm.KindOrganization)
	KindLead         = string(crm.KindLead)
	KindDeal         = string(crm.KindDeal)
	KindTask         = string(crm.KindTask)
	KindNote         = string(crm.KindNote)
)

// panelLimit is how many leads and how many deals the panel lists.
const panelLimit = 10

// crmFields lists the panel's fields of kind: Config.CRMFields', else
// DefaultCRMFields'.
func (s *Service) crmFields(kind crm.Kind) []string {
	if f, ok := s.cfg.CRMFields[string(kind)]; ok {
		return f
	}
	return DefaultCRMFields[string(kind)]
}

// RecordQuery is a search of the CRM API (GET /api/people ...).
type RecordQuery struct {
	Kind string
	// Q matches names, emails, phones, titles and subjects; cut to 200
	// characters.
	Q string
	// Owner keeps records owned by this agent id; "me" is the asking agent.
	Owner string
	// Person keeps records linked to this person.
	Person string
	// Stage keeps leads and deals in this stage; Playbook records made in
	// conversations of this playbook (the source playbook).
	Stage, Playbook string
	// Status keeps tasks "open" or "done"; "": all.
	Status string
	// DueBefore keeps tasks due before it (My tasks: overdue and due
	// today); zero: any.
	DueBefore time.Time
	// Limit caps the answer; 0: the CRM's default (50), at most 500.
	Limit int
	// Before pages back: only records created before this time.
	Before time.Time
}

// Records lists the records of a query that agent a may see, newest first.
func (s *Service) Records(ctx context.Context, a *handoff.Agent, q RecordQuery) ([]*protocol.Record, error) {
	if a == nil {
		return nil, access.ErrSignedOut
	}
	if q.Limit < 0 {
		return nil, refuse(ErrInvalid, "limit is a number from 1 to 500")
	}
	cq := crm.Query{Kind: crm.Kind(q.Kind), Q: truncate(q.Q, 200), Person: q.Person, Owner: q.Owner, Limit: q.Limit, Before: q.Before,
		Stage: truncate(q.Stage, 100), Playbook: truncate(q.Playbook, 100), Status: q.Status, DueBefore: q.DueBefore}
	if cq.Owner == "me" {
		cq.Owner = a.ID
	}
	list, err := s.crm.List(ctx, access.Viewer(a), cq)
	if err != nil {
		return nil, err
	}
	return WireRecords(list), nil
}

// record loads a record of kind that agent a may see: crm.ErrNotFound for
// none of that kind, a refusal (access.ErrForbidden) for another team's.
func (s *Service) record(ctx context.Context, a *handoff.Agent, kind crm.Kind, id string) (*crm.Record, error) {
	if a == nil {
		return nil, access.ErrSignedOut
	}
	r, err := s.crm.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Kind != kind {
		return nil, crm.ErrNotFound
	}
	if err := access.Record(a, r); err != nil {
		return nil, refuse(access.ErrForbidden, "this "+string(kind)+" belongs to another team")
	}
	return r, nil
}

// Record is a record of kind that agent a may see, with the records it
// links to that a may see; for a person also their leads, deals and
// tasks, for an organization its people, leads and deals.
func (s *Service) Record(ctx context.Context, a *handoff.Agent, kind, id string) (*protocol.RecordDetails, error) {
	k := crm.Kind(kind)
	r, err := s.record(ctx, a, k, id)
	if err != nil {
		return nil, err
	}
	v := access.Viewer(a)
	out := &protocol.RecordDetails{Record: WireRecord(r)}
	for _, rel := range []struct {
		id  string
		dst **protocol.Record
	}{{r.PersonID, &out.Person}, {r.OrganizationID, &out.Organization}, {r.LeadID, &out.Lead}, {r.DealID, &out.Deal}} {
		if rel.id == "" {
			continue
		}
		if got, err := s.crm.Get(ctx, rel.id); err == nil && v.CanSee(got) {
			*rel.dst = WireRecord(got)
		}
	}
	if k != crm.KindPerson && k != crm.KindOrganization {
		return out, nil
	}
	linked, err := s.crm.LinkedRecords(ctx, v, r.ID)
	if err != nil {
		return nil, err
	}
	list := func(k crm.Kind) []*protocol.Record {
		if l := WireRecords(linked[k]); l != nil {
			return l
		}
		return []*protocol.Record{}
	}
	out.Leads, out.Deals = list(crm.KindLead), list(crm.KindDeal)
	if k == crm.KindPerson {
		out.Tasks = list(crm.KindTask)
	} else {
		out.People = list(crm.KindPerson)
	}
	return out, nil
}

// Feed is the feed of a record of kind that agent a may see (typ: chats,
// notes, records or "" for all; limit 0: the CRM's default): records a may
// not see are left out, and chats by their conversation's rule, not the
// person's: one a may not open is left out.
func (s *Service) Feed(ctx context.Context, a *handoff.Agent, kind, id, typ string, limit int) ([]protocol.FeedItem, error) {
	r, err := s.record(ctx, a, crm.Kind(kind), id)
	if err != nil {
		return nil, err
	}
	items, err := s.crm.Feed(ctx, r.ID, typ, limit)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.FeedItem, 0, len(items))
	for _, it := range items {
		switch {
		case it.Record != nil:
			if access.Record(a, it.Record) != nil {
				continue
			}
		case it.Chat != nil:
			conv, err := s.inbox.Conversation(ctx, it.Chat.Conversation)
			if err != nil && a.Role != handoff.RoleAdmin || err == nil && !access.CanSee(a, conv) {
				continue
			}
		}
		out = append(out, WireFeedItem(it))
	}
	return out, nil
}

// CompleteTask marks task id done (done false: open again) when agent a
// may (access.CompleteTask), and returns it.
func (s *Service) CompleteTask(ctx context.Context, a *handoff.Agent, id string, done bool) (*protocol.Record, error) {
	r, err := s.record(ctx, a, crm.KindTask, id)
	if err != nil {
		return nil, err
	}
	if err := access.CompleteTask(a, r); err != nil {
		return nil, err
	}
	r, err = s.crm.CompleteTask(ctx, r.ID, done)
	if err != nil {
		return nil, err
	}
	return WireRecord(r), nil
}

// UpdatePerson changes a person's name or phone (nil: keep, "": clear),
// when agent a may see them.
func (s *Service) UpdatePerson(ctx context.Context, a *handoff.Agent, id string, name, phone *string) (*protocol.Record, error) {
	r, err := s.record(ctx, a, crm.KindPerson, id)
	if err != nil {
		return nil, err
	}
	p, err := s.crm.UpdatePerson(ctx, r.ID, name, phone)
	if err != nil {
		return nil, err
	}
	return WireRecord(p), nil
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
// field list of its kind; fields it lacks are left out; an organization is
// shown by its name.
func (s *Service) panelFields(ctx context.Context, r *crm.Record) []protocol.PanelField {
	out := []protocol.PanelField{}
	for _, key := range s.crmFields(r.Kind) {
		v, ok := r.Field(key)
		if !ok {
			continue
		}
		if key == "organization" {
			if o, err := s.crm.Get(ctx, r.OrganizationID); err == nil {
				v = o.Name
			}
		}
		out = append(out, protocol.PanelField{Key: key, Label: labelOf(key), Value: v})
	}
	return out
}

func (s *Service) panelRecord(ctx context.Context, r *crm.Record) *protocol.PanelRecord {
	return &protocol.PanelRecord{Record: WireRecord(r), Fields: s.panelFields(ctx, r)}
}

// Panel is the CRM part of the details panel of conversation conv, for an
// agent a who may see it. Records the transcript says the bot made are
// made first if missing (a process died before its sweep).
func (s *Service) Panel(ctx context.Context, a *handoff.Agent, conv string) (*protocol.Panel, error) {
	c, err := s.Conversation(ctx, a, conv)
	if err != nil {
		return nil, err
	}
	s.ReconcileRecords(ctx, c.ID)
	p, _, err := s.panel(ctx, c.ID, a, s.CRMSource(ctx, c.ID, a, nil))
	return p, err
}

// panel builds the panel of conv for agent a, who may see conv, from
// what the conversation knows of the visitor (src, its CRMSource), and
// returns the person it matched (nil: none).
//
// The person is the one a record made in this conversation links
// (match "conversation"), else the one with the visitor's email ("email"),
// else with their phone ("phone"). An agent who may see the conversation
// sees whom it is with, even a person of another team; the person's leads
// and deals only by the usual rule. Actions: create_lead and create_deal
// when no person matched; else notify_sales (the person has an owner),
// create_deal, and edit_phone when a may see the person.
func (s *Service) panel(ctx context.Context, conv string, a *handoff.Agent, src crm.Source) (*protocol.Panel, *crm.Record, error) {
	p := &protocol.Panel{Match: "none", Email: crm.NormalizeEmail(src.Visitor.Email), Phone: src.Visitor.Phone, Name: src.Visitor.Name,
		Leads: []protocol.PanelRecord{}, Deals: []protocol.PanelRecord{}, Results: []*protocol.Record{}}
	v := access.Viewer(a)
	var person *crm.Record
	if id, err := s.crm.Linked(ctx, conv); err == nil && id != "" {
		if r, err := s.crm.Get(ctx, id); err == nil {
			person, p.Match = r, "conversation"
		}
	}
	if person == nil && p.Email != "" {
		if r, err := s.crm.PersonByEmail(ctx, p.Email); err == nil {
			person, p.Match = r, "email"
		}
	}
	if person == nil && src.Visitor.Phone != "" {
		if r, err := s.crm.PersonByPhone(ctx, src.Visitor.Phone); err == nil {
			person, p.Match = r, "phone"
		}
	}
	if person != nil {
		p.Person = s.panelRecord(ctx, person)
		if person.OrganizationID != "" {
			if o, err := s.crm.Get(ctx, person.OrganizationID); err == nil {
				p.Organization = s.panelRecord(ctx, o)
			}
		}
		linked, err := s.crm.LinkedRecords(ctx, v, person.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range linked[crm.KindLead][:min(panelLimit, len(linked[crm.KindLead]))] {
			p.Leads = append(p.Leads, *s.panelRecord(ctx, r))
		}
		for _, r := range linked[crm.KindDeal][:min(panelLimit, len(linked[crm.KindDeal]))] {
			p.Deals = append(p.Deals, *s.panelRecord(ctx, r))
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
	res, err := s.crm.Results(ctx, conv)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range res {
		p.Results = append(p.Results, WireRecord(r))
	}
	p.Prefill = s.prefill(ctx, conv)
	return p, person, nil
}

// prefill is what the panel's create forms start with (protocol.Panel's
// Prefill): the lead and deal fields of the conversation's playbook's
// create cards, evaluated over the session's vars now
// (engine.PreviewCreates). Nil when the session or its version is gone.
func (s *Service) prefill(ctx context.Context, conv string) map[string]*protocol.RecordRequest {
	sess, _, err := s.store.Load(ctx, conv)
	if err != nil || sess == nil {
		return nil
	}
	prog, err := s.reg.Version(ctx, sess.Version)
	if err != nil {
		return nil
	}
	out := map[string]*protocol.RecordRequest{}
	for kind, f := range engine.PreviewCreates(prog, sess, s.now()) {
		r := &protocol.RecordRequest{}
		text := func(key string) string {
			switch v := f[key].(type) {
			case string:
				return truncate(strings.TrimSpace(v), 500)
			case time.Time:
				return v.Format("2006-01-02")
			}
			return ""
		}
		r.Title, r.Currency, r.Pipeline, r.Stage = text("title"), text("currency"), text("pipeline"), text("stage")
		r.ExpectedClose, r.Note, r.Source = text("expected_close"), text("note"), text("source")
		switch v := f["value"].(type) {
		case float64:
			r.Value = &v
		case int:
			x := float64(v)
			r.Value = &x
		case int64:
			x := float64(v)
			r.Value = &x
		}
		out[string(kind)] = r
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// CreateFromChat makes a record of kind (lead, deal, or note: notify
// sales) from conversation conv, as agent a asks, and returns it with the
// refreshed panel. The same req.ClientID creates once.
//
// What the record is filled with: a lead or deal names the person req
// names (name, email, phone), a lead with nobody named the visitor (their
// email, and their name); a missing title is "Chat with …" (lead) or
// "Deal with …" (deal) after the first of the named person, the visitor's
// name or email, or "a visitor"; a lead's source is req.Source, else
// "inbox". A note goes
// to the owner of the person the panel matches (none: ErrConflict), its
// text req.Text or req.Note. A lead or deal may attach to an existing
// person only as the access policy allows (access.LinkPerson).
func (s *Service) CreateFromChat(ctx context.Context, a *handoff.Agent, conv, kind string, req protocol.RecordRequest) (*protocol.RecordResult, error) {
	k := crm.Kind(kind)
	if k != crm.KindLead && k != crm.KindDeal && k != crm.KindNote {
		return nil, refuse(ErrInvalid, "an agent makes a lead, a deal or a note from a chat")
	}
	c, err := s.Conversation(ctx, a, conv)
	if err != nil {
		return nil, err
	}
	if len(req.ClientID) > 100 {
		return nil, refuse(ErrInvalid, "client_id is at most 100 characters")
	}
	// What the chat knows of the visitor, read once: a record does not
	// change it, so the refreshed panel uses it too.
	src := s.CRMSource(ctx, c.ID, a, nil)
	text := firstOf(req.Text, req.Note)
	if k == crm.KindNote {
		_, person, err := s.panel(ctx, c.ID, a, src)
		if err != nil {
			return nil, err
		}
		if person == nil {
			return nil, refuse(ErrConflict, "no person matches this conversation: create a lead first")
		}
		if text == "" {
			return nil, refuse(ErrInvalid, "text is the note for the owner")
		}
	}
	if k != crm.KindNote {
		if err := s.mayLinkPerson(ctx, a, c, src, req.Email, req.Phone); err != nil {
			return nil, err
		}
	}
	fields := recordFields(k, req, src.Visitor)
	id := req.ClientID
	if id == "" {
		id = NewID()
	}
	key := crm.Key(c.ID, a.ID, kind, id)
	res, err := s.crm.Create(ctx, src, engine.Record{Kind: engine.RecordKind(k), Key: key, Fields: fields})
	if err != nil {
		return nil, err
	}
	p, _, err := s.panel(ctx, c.ID, a, src)
	if err != nil {
		return nil, err
	}
	out := &protocol.RecordResult{Record: WireRecord(res.Record), Duplicate: res.Duplicate, CRM: p}
	if k == crm.KindNote {
		out.Notified = res.Record.OwnerName
	}
	return out, nil
}

// recordFields are the fields of the record of kind an agent's request
// makes, for a chat with visitor (see CreateFromChat).
func recordFields(k crm.Kind, req protocol.RecordRequest, visitor crm.Contact) map[string]any {
	who := map[string]any{}
	for key, v := range map[string]string{"name": req.Name, "email": req.Email, "phone": req.Phone} {
		if v = strings.TrimSpace(v); v != "" {
			who[key] = v
		}
	}
	fields := map[string]any{}
	set := func(key, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fields[key] = v
		}
	}
	title := func(prefix string) string {
		if req.Title != "" {
			return req.Title
		}
		return prefix + firstOf(req.Name, req.Email, visitor.Name, visitor.Email, "a visitor")
	}
	switch k {
	case crm.KindLead:
		if len(who) == 0 && visitor.Email != "" {
			who["email"] = visitor.Email
			if visitor.Name != "" {
				who["name"] = visitor.Name
			}
		}
		set("title", title("Chat with "))
		set("currency", req.Currency)
		set("note", req.Note)
		fields["source"] = firstOf(req.Source, "inbox")
	case crm.KindDeal:
		set("title", title("Deal with "))
		set("currency", req.Currency)
		set("pipeline", req.Pipeline)
		set("stage", req.Stage)
		set("expected_close", req.ExpectedClose)
		set("note", req.Note)
	case crm.KindNote:
		set("content", firstOf(req.Text, req.Note))
		fields["about"] = "owner"
		return fields
	}
	if req.Value != nil {
		fields["value"] = *req.Value
	}
	set("owner", req.Owner)
	if len(who) > 0 {
		fields["person"] = who
	}
	return fields
}

// mayLinkPerson asks the access policy whether a record agent a makes from
// conversation c, naming email and phone, may attach to the person they
// match. The person is the chat's own when the conversation is linked to
// them or the visitor gave that email or phone in it.
func (s *Service) mayLinkPerson(ctx context.Context, a *handoff.Agent, c *handoff.Conversation, src crm.Source, email, phone string) error {
	email, phone = crm.NormalizeEmail(email), crm.NormalizePhone(phone)
	var p *crm.Record
	var err error
	switch {
	case email != "":
		p, err = s.crm.PersonByEmail(ctx, email)
	case phone != "":
		p, err = s.crm.PersonByPhone(ctx, phone)
	default:
		return access.LinkPerson(a, c, nil, true) // the chat's own person
	}
	if errors.Is(err, crm.ErrNotFound) {
		return access.LinkPerson(a, c, nil, false)
	}
	if err != nil {
		return err
	}
	own := email != "" && email == crm.NormalizeEmail(src.Visitor.Email) ||
		email == "" && phone != "" && phone == crm.NormalizePhone(src.Visitor.Phone)
	if !own {
		if linked, err := s.crm.Linked(ctx, c.ID); err == nil && linked == p.ID {
			own = true
		}
	}
	return access.LinkPerson(a, c, p, own)
}

// firstOf is the first of vals that is not blank, trimmed.
func firstOf(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
