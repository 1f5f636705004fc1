package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/servertest"
)

// A team's reopen policy (issue 14, item 2), in the widget and the inbox.
// Under reopen (Chatwoot) the resolved chat keeps the widget's message
// box: the visitor's next message opens the same chat again, with the
// agent who had it; once resolved again, the inbox's Reopen button does
// it. Under never (LeadBooster, the default) the widget offers a new
// conversation instead, and the inbox has no Reopen.
func TestInboxReopenPolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []handoff.ReopenPolicy{handoff.ReopenAllowed, handoff.ReopenNever} {
		t.Run(string(policy), func(t *testing.T) {
			e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
			if err := e.srv.App().Inbox().SetTeamConfig(context.Background(), "sales", handoff.TeamConfig{Routing: handoff.Manual, Reopen: policy}); err != nil {
				t.Fatal(err)
			}
			addInboxAgent(t, e, "sam@example.com", "Sam Lee")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			agent := browser(t, ctx)
			visitor := browser(t, ctx)
			signInToInbox(t, agent, e, "sam@example.com")
			goOnline(t, agent)

			conv := salesToHandoff(t, visitor, e)
			item := `document.querySelector('#conv-list .item[data-id=` + js(conv) + `]')`
			waitFor(t, agent, "the new chat in Unassigned", item)
			docClick(t, agent, "the chat", item)
			waitFor(t, agent, "the conversation open", `!document.getElementById('conv').hidden`)
			docClick(t, agent, `"Assign to me"`, `document.querySelector('#conv-banner [data-action=assign-me]')`)
			waitFor(t, visitor, "Sam joined", sr+`.querySelector('.pb-sub').textContent !== 'Waiting for a teammate…'`)
			docClick(t, agent, "Resolve", `document.querySelector('[data-action=resolve]')`)
			waitFor(t, agent, "the resolved state", `document.querySelector('#conv-sub .status-pill').textContent === 'Resolved'`)
			waitFor(t, visitor, "the rating card", sr+`.querySelector('.pb-rate .pb-star')`)
			reopenBtn := `document.querySelector('#conv-banner [data-action=reopen]')`

			if policy == handoff.ReopenNever {
				waitFor(t, visitor, "a new conversation offered, no message box", sr+`.querySelector('.pb-composer').hidden && !`+sr+`.querySelector('.pb-endbar').hidden`)
				waitFor(t, agent, "the details of the resolved chat", `document.getElementById('conv-banner').className.includes('done')`)
				if shown := eval[bool](t, agent, `!`+reopenBtn+`.hidden`); shown {
					t.Error("the inbox offers Reopen under the never policy")
				}
				return
			}

			// The visitor writes again: the same chat, back with Sam.
			waitFor(t, visitor, "the message box kept", `!`+sr+`.querySelector('.pb-composer').hidden`)
			axeClean(t, visitor, "the widget after a reopenable resolve")
			focusComposer(t, visitor)
			keys(t, visitor, "One more thing\r")
			waitFor(t, visitor, "the chat reopened", `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation reopened')`)
			waitFor(t, agent, "the chat open again in the inbox", `document.querySelector('#conv-sub .status-pill').textContent === 'Open' && [...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'One more thing')`)
			if c, err := e.srv.App().Inbox().Conversation(ctx, conv); err != nil || c.ID != conv || c.Status != handoff.StatusOpen || c.AssigneeName != "Sam Lee" {
				t.Fatalf("after the visitor wrote: %+v, %v", c, err)
			}

			// Resolved again; Sam clicks Reopen.
			docClick(t, agent, "Resolve", `document.querySelector('[data-action=resolve]')`)
			waitFor(t, agent, "Reopen offered", `document.querySelector('#conv-sub .status-pill').textContent === 'Resolved' && !`+reopenBtn+`.hidden`)
			axeClean(t, agent, "the inbox with Reopen")
			screenshot(t, agent, "inbox-reopen.png")
			docClick(t, agent, "Reopen", reopenBtn)
			waitFor(t, agent, "open again", `document.querySelector('#conv-sub .status-pill').textContent === 'Open' && `+reopenBtn+`.hidden`)
			waitFor(t, visitor, "reopened twice in the widget", `[...`+sr+`.querySelectorAll('.pb-sys')].filter(n => n.textContent === 'Conversation reopened').length === 2 && !`+sr+`.querySelector('.pb-composer').hidden`)
			screenshot(t, visitor, "widget-reopened.png")

			// At 375 px: nothing scrolls sideways, and the screenshots.
			phoneView(t, agent, "the reopened chat")
			screenshot(t, agent, "inbox-reopen-phone.png")
			if err := chromedp.Do(visitor, chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(visitor, chromedp.Reload()); err != nil { // the widget lays out for the phone on load
				t.Fatal(err)
			}
			waitFor(t, visitor, "the chat again, on the phone", `[...`+sr+`.querySelectorAll('.pb-sys')].filter(n => n.textContent === 'Conversation reopened').length === 2`)
			if w := eval[[]float64](t, visitor, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
				t.Errorf("the widget at 375 px: scrollWidth, innerWidth = %v", w)
			}
			screenshot(t, visitor, "widget-reopened-phone.png")
		})
	}
}
