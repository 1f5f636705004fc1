package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/servertest"
)

// TestInboxFunnelForAMarketer: 60 bench conversations run; a marketer signs
// in and lands on the funnel (no conversation folders, no CRM), which
// draws qualify's cards in the playbook's order with the numbers the API
// gives, links the CSV export, and is axe-core clean at 1280 and 375 px.
func TestInboxFunnelForAMarketer(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Presence = bench.SimulatedPresence{}; c.ConnectsPerMinute = -1 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Options{URLs: []string{e.url}, Visitors: 4, Conversations: 60})
	if err != nil || res.Errors != 0 {
		t.Fatalf("bench: %v, %d errors %v", err, res.Errors, res.ErrorSamples)
	}
	if _, err := e.srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "mia@example.com", Name: "Mia Marketer", Role: handoff.RoleMarketer, Password: inboxPassword}); err != nil {
		t.Fatal(err)
	}
	// Every turn's fold is done once no turn is left pending.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := e.srv.App().Sessions().PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d turns still pending", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := e.srv.Service().Funnel(ctx, conversation.StatsQuery{Playbook: "qualify"})
	if err != nil || len(st.Versions) != 1 || st.Versions[0].Started != 60 {
		t.Fatalf("the funnel: %+v, %v", st, err)
	}
	v := st.Versions[0]

	agent := browser(t, ctx)
	signInToInbox(t, agent, e, "mia@example.com")
	version := `document.querySelector('#screen .funnel-version[data-playbook=qualify]')`
	waitFor(t, agent, "the funnel, where a marketer lands", `location.hash === '#/funnel' && `+version)
	waitFor(t, agent, "no conversation folders, no CRM", `getComputedStyle(document.getElementById('folder-list')).display === 'none' && getComputedStyle(document.getElementById('crm-nav')).display === 'none' && document.getElementById('stats-funnel').getAttribute('aria-current') === 'page'`)
	if got := eval[string](t, agent, version+`.querySelector('.funnel-started').textContent`); got != "60 conversations" {
		t.Errorf("started: %q", got)
	}
	var names []string
	for _, c := range v.Cards {
		names = append(names, c.Card)
	}
	if got := eval[string](t, agent, `[...`+version+`.querySelectorAll('.funnel-card')].map(li => li.dataset.card).join(' ')`); got != strings.Join(names, " ") {
		t.Errorf("cards drawn %q, want the playbook's order %q", got, strings.Join(names, " "))
	}
	for _, c := range v.Cards {
		row := version + `.querySelector('.funnel-card[data-card=` + js(c.Card) + `]')`
		if got := eval[string](t, agent, row+`.querySelector('.funnel-reach strong').textContent`); got != fmt.Sprint(c.Reached) {
			t.Errorf("%s: reached %s on screen, %d in the API", c.Card, got, c.Reached)
		}
		if c.Asked > 0 {
			facts := eval[string](t, agent, row+`.querySelector('.funnel-facts').textContent`)
			if !strings.Contains(facts, fmt.Sprintf("%d answered", c.Answered)) || !strings.Contains(facts, fmt.Sprintf("%d dropped", c.Dropped)) || !strings.Contains(facts, "median answer ≤") {
				t.Errorf("%s: %q, want %d answered, %d dropped and a median", c.Card, facts, c.Answered, c.Dropped)
			}
		}
	}
	if href := eval[string](t, agent, `document.getElementById('funnel-csv').getAttribute('href')`); href != "/api/stats?format=csv" {
		t.Errorf("the CSV link: %q", href)
	}
	axeClean(t, agent, "the funnel")
	noToasts(t, agent)
	screenshot(t, agent, "inbox-funnel.png")
	phoneView(t, agent, "the funnel")
	axeClean(t, agent, "the funnel on a phone")
	screenshot(t, agent, "inbox-funnel-phone.png")
	desktopView(t, agent)
	// The marketer's landing drew the funnel once: drawn again after the
	// inbox loaded, the second drawing wiped the first while it was read
	// (a CI failure: the version box gone between two reads).
	if n := eval[float64](t, agent, `performance.getEntriesByType("resource").filter(e => e.name.includes("/api/stats")).length`); n != 1 {
		t.Errorf("the funnel was fetched %v times on sign-in, want once", n)
	}
}
