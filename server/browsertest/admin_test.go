package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/handoff"
)

// signInWithPassword opens /inbox in ctx and signs in with email and
// password through the form.
func signInWithPassword(t *testing.T, ctx context.Context, e *env, email, password string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.url+"/inbox")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the sign-in form", `!document.getElementById('login').hidden && document.activeElement === document.getElementById('login-email')`)
	keys(t, ctx, email)
	docClick(t, ctx, "the password field", `document.getElementById('login-password')`)
	keys(t, ctx, password+"\r")
}

// typeInto clicks a field of the page, empties it and types text.
func typeInto(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	docClick(t, ctx, id, `document.getElementById(`+js(id)+`)`)
	_ = eval[bool](t, ctx, `(() => { document.getElementById(`+js(id)+`).value = ''; return true })()`)
	keys(t, ctx, text)
}

// TestInboxTeamSettings: Ada, an admin, opens Team settings and invites
// Bob to sales; Bob signs in (another browser) with the password shown
// once. Ada edits sales' routing, capacity and opening hours (the store
// has them). The screen is axe-core clean at 1280 and 375 px. Ada
// disables Bob: his inbox shows him signed out at once, and signing in
// again says the account is disabled. Bob, an agent, has no link to the
// settings.
func TestInboxTeamSettings(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := e.srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "ada@example.com", Name: "Ada Admin", Role: handoff.RoleAdmin, Password: inboxPassword}); err != nil {
		t.Fatal(err)
	}
	admin := browser(t, ctx)
	signInToInbox(t, admin, e, "ada@example.com")
	docClick(t, admin, "the Team settings link", `document.getElementById('admin-link')`)
	list := `document.getElementById('admin-agent-list')`
	waitFor(t, admin, "the agents", list+` && `+list+`.textContent.includes('ada@example.com') && document.getElementById('admin-link').getAttribute('aria-current') === 'page'`)

	typeInto(t, admin, "invite-email", "bob@example.com")
	typeInto(t, admin, "invite-name", "Bob Builder")
	typeInto(t, admin, "invite-teams", "sales")
	docClick(t, admin, "Invite", `document.querySelector('#invite-form button[type=submit]')`)
	secret := `document.querySelector('#invite-result [data-secret]')`
	waitFor(t, admin, "the password, shown once", secret+` && `+list+`.textContent.includes('bob@example.com')`)
	password := eval[string](t, admin, secret+`.textContent`)
	bob, err := e.srv.App().Inbox().AgentByEmail(ctx, "bob@example.com")
	if err != nil || len(bob.Teams) != 1 || bob.Teams[0] != "sales" {
		t.Fatalf("Bob in the store: %+v, %v", bob, err)
	}

	agent := browser(t, ctx)
	signInWithPassword(t, agent, e, "bob@example.com", password)
	waitFor(t, agent, "Bob's inbox", `!document.getElementById('app').hidden && document.getElementById('login').hidden && document.getElementById('me-name').textContent === 'Bob Builder'`)
	if eval[bool](t, agent, `!!document.getElementById('admin-link') && !document.getElementById('admin-nav').hidden`) {
		t.Error("an agent sees the Team settings link")
	}

	// Sales: round robin, 2 chats each, weekday hours in Berlin.
	form := `document.querySelector('#admin-team-list form[data-team=sales]')`
	waitFor(t, admin, "the sales team's form", form)
	_ = eval[bool](t, admin, `(() => { document.getElementById('team-sales-routing').value = 'round_robin'; return true })()`)
	typeInto(t, admin, "team-sales-capacity", "2")
	typeInto(t, admin, "team-sales-hours", "mon-fri 09:00-18:00 Europe/Berlin")
	docClick(t, admin, "Save", form+`.querySelector('button[type=submit]')`)
	waitFor(t, admin, "saved", form+`.querySelector('.admin-ok') && `+form+`.querySelector('.admin-ok').textContent === 'Saved.'`)
	cfg, err := e.srv.App().Inbox().TeamConfigOf(ctx, "sales")
	if err != nil || cfg.Routing != handoff.RoundRobin || cfg.Capacity != 2 || cfg.Hours != "mon-fri 09:00-18:00 Europe/Berlin" {
		t.Fatalf("sales in the store: %+v, %v", cfg, err)
	}
	// A mistake in the hours: the form says what is wrong, nothing saved.
	typeInto(t, admin, "team-sales-hours", "weekdays 9-5")
	docClick(t, admin, "Save", form+`.querySelector('button[type=submit]')`)
	waitFor(t, admin, "the error", form+`.querySelector('.form-error[role=alert]') && `+form+`.querySelector('.form-error').textContent.includes('is not a day')`)
	if cfg, _ := e.srv.App().Inbox().TeamConfigOf(ctx, "sales"); cfg.Hours != "mon-fri 09:00-18:00 Europe/Berlin" {
		t.Fatalf("bad hours were saved: %+v", cfg)
	}
	typeInto(t, admin, "team-sales-hours", "mon-fri 09:00-18:00 Europe/Berlin")

	axeClean(t, admin, "Team settings")
	noToasts(t, admin)
	screenshot(t, admin, "inbox-settings.png")
	phoneView(t, admin, "Team settings")
	axeClean(t, admin, "Team settings on a phone")
	screenshot(t, admin, "inbox-settings-phone.png")
	desktopView(t, admin)

	// Disable Bob: his inbox signs him out at once; he cannot come back.
	docClick(t, admin, "Disable Bob", list+`.querySelector('[data-agent=`+js(bob.ID)+`] [data-action=disable]')`)
	waitFor(t, admin, "Bob shown disabled", list+`.querySelector('[data-agent=`+js(bob.ID)+`].is-disabled [data-action=enable]')`)
	waitFor(t, agent, "Bob signed out", `!document.getElementById('login').hidden && document.getElementById('app').hidden && document.getElementById('login-error').textContent.includes('signed out')`)
	docClick(t, agent, "the password field", `document.getElementById('login-password')`)
	keys(t, agent, password+"\r")
	waitFor(t, agent, "the refusal", `document.getElementById('login-error').textContent === 'this account is disabled; ask an admin' && document.getElementById('app').hidden`)
}
