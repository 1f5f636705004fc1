package browsertest

import (
	"context"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/handoff"
)

// TestInboxTransferClosesTheView (issue 11, item 3): Sam has a chat open
// in his inbox; it is transferred to support; his view closes with a
// notice and the chat leaves his list (the server stopped its live
// entries: TestLiveFeedIsRechecked).
func TestInboxTransferClosesTheView(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	bg := context.Background()
	if _, err := e.srv.App().Inbox().AddAgent(bg, handoff.NewAgent{Email: "sue@example.com", Name: "Sue", Teams: []string{"support"}, Role: handoff.RoleAgent, Password: inboxPassword}); err != nil {
		t.Fatal(err)
	}
	boss, err := e.srv.App().Inbox().AddAgent(bg, handoff.NewAgent{Email: "boss@example.com", Name: "Boss", Role: handoff.RoleAdmin, Password: inboxPassword})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := e.srv.App().Inbox().NewAPIToken(bg, boss.ID, "browser test", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 3*time.Minute)
	defer cancel()
	sam := browser(t, ctx)
	signInToInbox(t, sam, e, "sam@example.com")
	goOnline(t, sam)

	lena, say := wsVisitor(t, ctx, e, "Lena Fischer", "lena@initech.de", "Can we pay by invoice?")
	item := `document.querySelector('#conv-list .item[data-id=` + js(lena) + `]')`
	docClick(t, sam, "Lena's chat", item)
	docClick(t, sam, `"Assign to me"`, `document.querySelector('#conv-banner [data-action=assign-me]')`)
	waitFor(t, sam, "the chat assigned to Sam", `document.querySelector('[data-action=assignee] .assignee-label').textContent === 'You'`)
	say("Still there?")
	waitFor(t, sam, "the visitor's message live", `[...document.querySelectorAll('#timeline .msg .bubble')].some(b => b.textContent === 'Still there?')`)

	// An admin transfers the chat to support.
	req, _ := http.NewRequestWithContext(ctx, "POST", e.url+"/api/conversations/"+lena+"/transfer", strings.NewReader(`{"team":"support"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("transfer: %d", resp.StatusCode)
	}
	waitFor(t, sam, "the view closed, with a notice", `document.getElementById('conv').hidden && [...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('Conversation moved'))`)
	waitFor(t, sam, "the chat gone from Sam's list", `!`+item)
}
