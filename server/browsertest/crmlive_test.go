package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/servertest"
)

// TestInboxCRMScreensFollowTheFeed: the CRM screens and the task count
// move without a reload. Sam has My tasks open when a visitor (another
// Chromium) leaves a hot lead on the offline path: the call-back task
// appears; a task due today (made through the CRM, as a script would)
// lights the count on "My tasks"; done elsewhere, it goes out. On Leads,
// a new lead appears while the list is shown.
func TestInboxCRMScreensFollowTheFeed(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)
	signInToInbox(t, agent, e, "sam@example.com")
	st := e.srv.Service().CRM()
	badge := `document.querySelector('#crm-tasks .count')`

	docClick(t, agent, `"My tasks"`, `document.getElementById('crm-tasks')`)
	waitFor(t, agent, "My tasks, empty", `document.querySelector('#screen .screen-empty')`)
	if eval[bool](t, agent, `!!(`+badge+`) && !`+badge+`.hidden`) {
		t.Fatal("a task count with no task")
	}

	// The offline path's call-back (due tomorrow) appears in the list shown.
	salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the offline path", botSaid("Our team is away right now. We'll email ana@acme.io within one business day."))
	waitFor(t, agent, "the call-back, live", `[...document.querySelectorAll('#screen .task .crm-title')].some(n => n.textContent === 'Call back ana@acme.io')`)
	if eval[bool](t, agent, `!!(`+badge+`) && !`+badge+`.hidden`) {
		t.Errorf("the count shows %q for a task due tomorrow", eval[string](t, agent, badge+`.textContent`))
	}

	// A task due today: the count says 1, the list has it under Due today.
	due := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	res, err := st.Create(ctx, crm.Source{}, engine.Record{Kind: "task", Key: "live-test-1", Fields: map[string]any{"subject": "Call Ana back today", "due": due, "assignee": "sam@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, agent, "the count on My tasks", `!`+badge+`.hidden && `+badge+`.textContent === '1' && document.getElementById('crm-tasks').textContent.replace(/\s+/g, ' ').trim() === 'My tasks1 due today or overdue'`)
	waitFor(t, agent, "the task due today, live", `[...document.querySelectorAll('#screen .task .crm-title')].some(n => n.textContent === 'Call Ana back today')`)
	axeClean(t, agent, "My tasks with the count")
	noToasts(t, agent)
	screenshot(t, agent, "inbox-tasks-count.png")
	phoneView(t, agent, "My tasks with the count")
	axeClean(t, agent, "My tasks with the count on a phone")
	screenshot(t, agent, "inbox-tasks-count-phone.png")
	desktopView(t, agent)

	// Done elsewhere (another tab, a script): the count goes out.
	if _, err := st.CompleteTask(ctx, res.Record.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agent, "the count gone", badge+`.hidden`)

	// Leads: a new lead appears while the list is shown.
	docClick(t, agent, `"Leads"`, `document.getElementById('crm-leads')`)
	waitFor(t, agent, "the captured lead", `[...document.querySelectorAll('#screen .crm-row .crm-title')].some(n => n.textContent === 'ana@acme.io (201+)')`)
	if _, err := st.Create(ctx, crm.Source{}, engine.Record{Kind: "lead", Key: "live-test-2", Fields: map[string]any{"title": "Globex rollout", "owner": "sam@example.com"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agent, "the new lead, live", `[...document.querySelectorAll('#screen .crm-row .crm-title')].some(n => n.textContent === 'Globex rollout')`)
}
