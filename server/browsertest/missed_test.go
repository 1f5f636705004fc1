package browsertest

import (
	"context"
	"github.com/playbook-dev/playbook/internal/servertest"
	"sync"
	"testing"
	"time"
)

// clock is a server clock the test moves forward (a handoff's wait runs
// out when the test says so, not after minutes).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// A chat nobody takes within the handoff's wait runs the bot's offline
// path (issue 11, item 17): it must stay visible, in a Missed folder with
// the records the offline path created, and the agents who were online get
// told.
func TestInboxMissedChatStaysVisible(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	e := startServer(t, func(c *servertest.Config) {
		c.Hours = allOpen{}
		c.Now = clk.now
		c.PresenceTimeout = time.Hour // the online agent stays online across the jump
	})
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)

	signInToInbox(t, agent, e, "sam@example.com")
	goOnline(t, agent)

	conv := salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)
	item := `document.querySelector('#conv-list .item[data-id=` + js(conv) + `]')`
	waitFor(t, agent, "the new chat in Unassigned", item)

	// Nobody takes it: the sales playbook's wait (2m) runs out.
	clk.advance(3 * time.Minute)
	waitFor(t, visitor, "the offline path", botSaid("Our team is away right now. We'll email ana@acme.io within one business day."))

	// The online agent is told, and the chat is in Missed, not gone.
	waitFor(t, agent, "the missed toast", `document.querySelector('.toast[data-kind=missed][data-conversation=`+js(conv)+`]')`)
	waitFor(t, agent, "the count on Missed", `document.querySelector('#folder-missed .count').textContent === '1'`)
	docClick(t, agent, `the "Missed" folder`, `document.getElementById('folder-missed')`)
	waitFor(t, agent, "the missed chat listed", item)
	docClick(t, agent, "the missed chat", item)
	waitFor(t, agent, "the conversation open, marked missed", `!document.getElementById('conv').hidden && document.querySelector('#conv-sub .status-pill').textContent === 'Missed'`)

	// With the records the offline path created.
	waitFor(t, agent, "the lead the bot created", `[...document.querySelectorAll('#timeline .sys-record')].some(n => n.textContent.includes('lead'))`)
	c, err := e.srv.App().Inbox().Conversation(ctx, conv)
	if err != nil || c.Status != "missed" {
		t.Fatalf("the conversation's inbox record: %+v, %v; want status missed", c, err)
	}
	axeClean(t, agent, "a missed chat")
	noToasts(t, agent)
	screenshot(t, agent, "inbox-missed.png")
	phoneView(t, agent, "a missed chat")
	axeClean(t, agent, "a missed chat on a phone")
	screenshot(t, agent, "inbox-missed-phone.png")
	desktopView(t, agent)

	// Resolving it clears it from Missed into Closed.
	docClick(t, agent, "Resolve", `document.querySelector('[data-action=resolve]')`)
	waitFor(t, agent, "the chat resolved", `document.querySelector('#conv-sub .status-pill').textContent === 'Resolved' && document.querySelector('#folder-closed .count').textContent === '1' && document.querySelector('#folder-missed .count').hidden`)
}
