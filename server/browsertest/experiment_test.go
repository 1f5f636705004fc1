package browsertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// TestInboxFunnelComparesVariants: the funnel of an A/B playbook holds
// conversations of two variants (folded into the store's rollup as turns
// would fold them); the funnel screen compares them above the funnels, per
// outcome, with the API's counts, rates and 95 % intervals and the best
// variant marked, and is axe-core clean at 1280 and 375 px.
func TestInboxFunnelComparesVariants(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	funnels := e.srv.App().Engine().Funnels()
	day := time.Now().UTC()
	fold := func(i int, variant string, subscribed bool) {
		key := store.FunnelKey{Day: day.Format(time.DateOnly), Playbook: "newsletter-ab", Version: "0123456789abcdef", Variant: "newsletter-opener=" + variant}
		facts := []store.FunnelFact{
			{Name: "started", Counter: "started", At: day},
			{Name: "variant|newsletter-opener", Counter: "variant|newsletter-opener", At: day},
		}
		outcome := "declined"
		if subscribed {
			outcome = "subscribed"
		}
		facts = append(facts, store.FunnelFact{Name: "outcome|" + outcome, Counter: "outcome|" + outcome, At: day})
		if err := funnels.Fold(ctx, fmt.Sprintf("ab%d", i), key, facts, time.Hour, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 { // direct: 20 of 100 subscribe, friendly: 40 of 100
		if i%2 == 0 {
			fold(i, "direct", i%10 == 0)
		} else {
			fold(i, "friendly", i%20 < 9)
		}
	}
	if _, err := e.srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "mia@example.com", Name: "Mia Marketer", Role: handoff.RoleMarketer, Password: inboxPassword}); err != nil {
		t.Fatal(err)
	}
	st, err := e.srv.Service().Funnel(ctx, conversation.StatsQuery{Playbook: "newsletter-ab"})
	if err != nil || len(st.Experiments) != 1 {
		t.Fatalf("the funnel's experiments: %+v, %v", st, err)
	}
	x := st.Experiments[0]

	agent := browser(t, ctx)
	signInToInbox(t, agent, e, "mia@example.com")
	box := `document.querySelector('#screen .funnel-experiment[data-experiment="newsletter-opener"]')`
	waitFor(t, agent, "the A/B comparison", `location.hash === '#/funnel' && `+box)
	if got := eval[string](t, agent, box+`.querySelector('h3').textContent`); got != "A/B test newsletter-opener newsletter-ab" {
		t.Errorf("heading %q", got)
	}
	best := 0
	for _, g := range x.Goals {
		for _, r := range g.Variants {
			row := box + `.querySelector('table[data-goal=` + js(g.Goal) + `] tr[data-variant=` + js(r.Variant) + `]')`
			want := fmt.Sprintf("%d of %d|%.1f%%|%.1f%% – %.1f%%|%v", r.Reached, r.Conversations, 100*r.Rate, 100*r.Low, 100*r.High, r.Best)
			got := eval[string](t, agent, `[`+row+`.querySelector('.funnel-ab-reached').textContent, `+row+`.querySelector('.funnel-ab-rate').textContent, `+row+`.querySelector('.funnel-ab-ci').textContent, !!`+row+`.querySelector('.tag-live')].join('|')`)
			if got != want {
				t.Errorf("%s, %s: %q on screen, %q from the API", g.Goal, r.Variant, got, want)
			}
			if r.Best {
				best++
			}
		}
	}
	if best != 2 { // friendly for subscribed, direct for declined
		t.Errorf("%d best variants, want one per outcome: %+v", best, x.Goals)
	}
	axeClean(t, agent, "the A/B comparison")
	noToasts(t, agent)
	screenshot(t, agent, "inbox-ab.png")
	phoneView(t, agent, "the A/B comparison")
	axeClean(t, agent, "the A/B comparison on a phone")
	screenshot(t, agent, "inbox-ab-phone.png")
	if got := eval[string](t, agent, `document.querySelector('#screen .funnel-version[data-playbook=newsletter-ab]:not(.funnel-experiment) .tag-label').textContent`); got != "variant newsletter-opener: direct" && got != "variant newsletter-opener: friendly" {
		t.Errorf("a variant's funnel is tagged %q", got)
	}
	if w := eval[float64](t, agent, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the page scrolls sideways by %v px on a phone", w)
	}
	desktopView(t, agent)
}
