package conversation

import (
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// The conversions between the services' types and the frames of package
// protocol. Each one copies every field, so that a frame encodes to the
// bytes the service's own type would (TestWireMatchesServiceTypes).

// WireEntry is e as frames carry it.
func WireEntry(e store.Entry) protocol.Entry {
	out := protocol.Entry{
		ID: e.ID, From: e.From, Kind: e.Kind, Text: e.Text, Input: string(e.Input), Image: e.Image,
		Author: e.Author, ClientID: e.ClientID, Card: e.Card, Data: e.Data, At: e.At,
	}
	if e.Buttons != nil {
		out.Buttons = make([]protocol.Button, len(e.Buttons))
		for i, b := range e.Buttons {
			out.Buttons[i] = protocol.Button{Label: b.Label, Value: b.Value}
		}
	}
	if e.Links != nil {
		out.Links = make([]protocol.Link, len(e.Links))
		for i, l := range e.Links {
			out.Links[i] = protocol.Link{Label: l.Label, URL: l.URL}
		}
	}
	return out
}

// WireConversation is c as the inbox API and the agent feed carry it.
func WireConversation(c *handoff.Conversation) *protocol.Conversation {
	if c == nil {
		return nil
	}
	out := &protocol.Conversation{
		ID: c.ID, Status: string(c.Status), Team: c.Team, Assignee: c.Assignee, AssigneeName: c.AssigneeName,
		Playbook: c.Playbook, Card: c.Card, Priority: c.Priority,
		Visitor: protocol.ConversationVisitor{ID: c.Visitor.ID, Name: c.Visitor.Name, Email: c.Visitor.Email, Page: c.Visitor.Page},
		Labels:  c.Labels, StartedAt: c.StartedAt, UpdatedAt: c.UpdatedAt, SnoozedUntil: c.SnoozedUntil,
		UntilReply: c.UntilReply, ResolvedAt: c.ResolvedAt, QueuedAt: c.QueuedAt, Previous: c.Previous,
	}
	if c.Last != nil {
		out.Last = &protocol.Last{From: c.Last.From, Agent: c.Last.Agent, Author: c.Last.Author, Text: c.Last.Text, At: c.Last.At}
	}
	if c.CSAT != nil {
		out.CSAT = &protocol.CSAT{Score: c.CSAT.Score, Comment: c.CSAT.Comment, At: c.CSAT.At, First: c.CSAT.First}
	}
	return out
}

// WireAgent is a as frames carry it.
func WireAgent(a *handoff.Agent) *protocol.Agent {
	if a == nil {
		return nil
	}
	return &protocol.Agent{ID: a.ID, Email: a.Email, Name: a.Name, Teams: a.Teams, Role: string(a.Role), Disabled: a.Disabled}
}

// WireRecord is r as frames carry it.
func WireRecord(r *crm.Record) *protocol.Record {
	if r == nil {
		return nil
	}
	return &protocol.Record{
		ID: r.ID, Kind: string(r.Kind), Name: r.Name, Email: r.Email, Phone: r.Phone, Domain: r.Domain,
		Title: r.Title, Value: r.Value, Currency: r.Currency, Pipeline: r.Pipeline, Stage: r.Stage,
		ExpectedClose: r.ExpectedClose, Labels: r.Labels, Source: r.Source, Subject: r.Subject, Due: r.Due,
		Type: r.Type, Content: r.Content, About: r.About, AboutID: r.AboutID, Note: r.Note, Custom: r.Custom,
		Person: r.PersonID, Organization: r.OrganizationID, Lead: r.LeadID, Deal: r.DealID,
		Owner: r.Owner, OwnerName: r.OwnerName, Teams: r.Teams, Conversation: r.Conversation,
		Playbook: r.Playbook, DoneAt: r.DoneAt,
		CreatedBy: r.CreatedBy, CreatedByName: r.CreatedByName, Key: r.Key, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// EngineVisitor is the visitor of a start frame for the engine.
func EngineVisitor(v *protocol.Visitor) engine.Visitor {
	if v == nil {
		return engine.Visitor{}
	}
	return engine.Visitor{
		ID: v.ID, Name: v.Name, Email: v.Email, Page: v.Page, Referrer: v.Referrer, Language: v.Language,
		Country: v.Country, Returning: v.Returning, Visits: v.Visits, UTM: v.UTM,
	}
}

// WireRecords is list as frames carry it (nil stays nil).
func WireRecords(list []*crm.Record) []*protocol.Record {
	if list == nil {
		return nil
	}
	out := make([]*protocol.Record, len(list))
	for i, r := range list {
		out[i] = WireRecord(r)
	}
	return out
}

// WireFeedItem is an item of a CRM feed as the agent API carries it.
func WireFeedItem(it crm.FeedItem) protocol.FeedItem {
	out := protocol.FeedItem{Type: it.Type, At: it.At, Record: WireRecord(it.Record)}
	if c := it.Chat; c != nil {
		out.Chat = &protocol.Chat{Conversation: c.Conversation, Playbook: c.Playbook, StartedAt: c.StartedAt, EndedAt: c.EndedAt,
			Agent: c.Agent, FirstMessage: c.FirstMessage, Outcome: c.Outcome, Transcript: c.Transcript}
	}
	return out
}
