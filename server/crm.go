package server

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/playbook-dev/playbook/store"
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
)

// DefaultCRMFields are the fields the inbox's details panel shows of each
// kind, when Config.CRMFields does not say otherwise.
var DefaultCRMFields = map[string][]string{
	"person":       {"name", "email", "phone", "organization", "owner"},
	"organization": {"name", "domain", "owner"},
	"lead":         {"title", "value", "currency", "owner", "labels", "source"},
	"deal":         {"title", "value", "currency", "pipeline", "stage", "owner", "expected_close"},
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
	r, err := s.crm.Get(c.Request().Context(), c.Param("id"))
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
		list, err := s.crm.List(c.Request().Context(), viewerOf(agentOf(c)), q)
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
			if rel, err := s.crm.Get(ctx, id); err == nil && v.CanSee(rel) {
				resp[key] = rel
			}
		}
		if kind == crm.KindPerson || kind == crm.KindOrganization {
			linked, err := s.crm.LinkedRecords(ctx, v, r.ID)
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
		items, err := s.crm.Feed(c.Request().Context(), r.ID, c.QueryParam("type"), limit)
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
	p, err := s.crm.UpdatePerson(c.Request().Context(), r.ID, req.Name, req.Phone)
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
	for _, key := range s.crmFields[string(r.Kind)] {
		v, ok := r.Field(key)
		if !ok {
			continue
		}
		if key == "organization" {
			if o, err := s.crm.Get(ctx, r.OrganizationID); err == nil {
				v = o.Name
			}
		}
		out = append(out, panelField{Key: key, Label: labelOf(key), Value: v})
	}
	return out
}

// panel builds the details panel of a conversation for agent a.
func (s *Server) panel(ctx context.Context, conv string, a *handoff.Agent) (*crmPanel, error) {
	src := s.svc.CRMSource(ctx, conv, a, nil)
	p := &crmPanel{Match: "none", Email: crm.NormalizeEmail(src.Visitor.Email), Phone: src.Visitor.Phone, Name: src.Visitor.Name, Leads: []panelRecord{}, Deals: []panelRecord{}, Results: []*crm.Record{}}
	v := viewerOf(a)
	st := s.crm
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

// getCRMPanel answers GET /api/conversations/{id}/crm.
func (s *Server) getCRMPanel(c *echo.Context) error {
	conv, err := s.conversationFor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.svc.ReconcileRecords(ctx, conv.ID)
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
		src := s.svc.CRMSource(ctx, conv.ID, me, nil)
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
		res, err := s.crm.Create(ctx, src, engine.Record{Kind: engine.RecordKind(kind), Key: key, Fields: fields})
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
		p, err = s.crm.PersonByEmail(ctx, email)
	case phone != "":
		p, err = s.crm.PersonByPhone(ctx, phone)
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
		if linked, err := s.crm.Linked(ctx, conv.ID); err == nil && linked == p.ID {
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
func (s *Server) archivedTranscript(ctx context.Context, conv, after string) ([]store.Entry, bool) {
	b, err := s.crm.ArchivedTranscript(ctx, conv)
	if err != nil {
		return nil, false
	}
	var entries []store.Entry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, false
	}
	if after != "" && after != "0" {
		a := parseStreamID(after)
		entries = slices.DeleteFunc(entries, func(e store.Entry) bool { return !a.less(parseStreamID(e.ID)) })
	}
	return entries, true
}
