package browsertest

import (
	"context"
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"testing"
	"time"
)

// salesAgain answers the sales playbook as a hot lead, in a widget that is
// already open and greeting, up to the handoff.
func salesAgain(t *testing.T, ctx context.Context) {
	t.Helper()
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	clickButton(t, ctx, `the "201+" button`, "201+")
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "2500")
	waitFor(t, ctx, "the timeline question", botSaid("When would you like to get started? (a date like 2026-03-01)"))
	typeAndSend(t, ctx, time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
}

// prevListed is true once the open conversation's details list exactly
// these previous conversations (by id, in any order).
func prevListed(ids ...string) string {
	cond := fmt.Sprintf(`document.querySelectorAll('#details .prev li').length === %d`, len(ids))
	for _, id := range ids {
		cond += ` && [...document.querySelectorAll('#details .prev a')].some(a => a.getAttribute('href').endsWith('/' + ` + js(id) + `))`
	}
	return cond
}

// Previous conversations with the real widget (issue 11, item 16): after
// an agent resolved a chat, "Start a new conversation" links the new one
// to it; and a visitor who comes back on another device, matched by email
// to a person, shows the person's earlier chats.
func TestInboxPreviousConversations(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	maria := signInAgent(t, e, "Maria", "sales") // a teammate, through the API
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)
	signInToInbox(t, agent, e, "sam@example.com")
	goOnline(t, agent)

	// The first chat: handed off, taken by Maria, resolved.
	first := salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)
	maria.call("POST", "/api/conversations/"+first+"/assign", map[string]any{})
	maria.call("POST", "/api/conversations/"+first+"/resolve", nil)
	waitFor(t, visitor, `"Conversation closed"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation closed')`)

	// The visitor starts a new conversation from the widget.
	click(t, visitor, `"Start a new conversation"`, sr+`.querySelector('.pb-endbar .pb-restart')`)
	waitFor(t, visitor, "a new greeting", botSaid("Hi there! What brings you here?")+` && `+sr+`.querySelectorAll('.pb-visitor').length === 0`)
	salesAgain(t, visitor)
	waitFor(t, visitor, "the waiting state again", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)
	second := storedConversation(t, visitor, e).Conversation
	if second == first || second == "" {
		t.Fatalf("the new conversation is %q (the first was %q)", second, first)
	}

	// Sam opens it: the first chat is listed as a previous conversation.
	item := func(id string) string { return `document.querySelector('#conv-list .item[data-id=` + js(id) + `]')` }
	waitFor(t, agent, "the second chat in Unassigned", item(second))
	docClick(t, agent, "the second chat", item(second))
	waitFor(t, agent, "the details", `!document.getElementById('conv').hidden && document.getElementById('d-prev')`)
	waitFor(t, agent, "the first chat under Previous conversations", prevListed(first))

	// Maria makes the visitor a lead from the second chat: a person with
	// ana@acme.io, whose feed holds it.
	maria.call("POST", "/api/conversations/"+second+"/assign", map[string]any{})
	maria.call("POST", "/api/conversations/"+second+"/lead", map[string]any{"title": "Chat with ana@acme.io"})
	maria.call("POST", "/api/conversations/"+second+"/resolve", nil)

	// Ana comes back on another device (no token of the earlier chats) and
	// gives the same email: matched to the person, her earlier chat shows.
	phone := browser(t, ctx)
	third := salesToHandoff(t, phone, e)
	waitFor(t, phone, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)
	if third == first || third == second {
		t.Fatalf("the third conversation is %q", third)
	}
	waitFor(t, agent, "the third chat in Unassigned", item(third))
	docClick(t, agent, "the third chat", item(third))
	waitFor(t, agent, "the third chat open", `document.querySelector('#conv-list .item[aria-current=true]') === `+item(third))
	waitFor(t, agent, "the person's earlier chat under Previous conversations", `[...document.querySelectorAll('#details .prev a')].some(a => a.getAttribute('href').endsWith('/' + `+js(second)+`))`)
}
