package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
)

// The agent inbox (server/web/static/inbox) against the real server, with a
// second browser as the visitor: one Chromium each, so they share nothing.

const inboxPassword = "correct horse battery"

// addInboxAgent creates an agent of team sales through the handoff store.
func addInboxAgent(t *testing.T, e *env, email, name string) {
	t.Helper()
	_, err := e.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{
		Email: email, Name: name, Teams: []string{"sales"}, Role: handoff.RoleAgent, Password: inboxPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mailbox is a server.Mailer that keeps what it is asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []mail
}

type mail struct{ to, subject, body string }

func (m *mailbox) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail{to, subject, body})
	return nil
}

// waitMail waits for a mail to an address.
func (m *mailbox) waitMail(t *testing.T, to string) mail {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		for _, x := range m.sent {
			if x.to == to {
				m.mu.Unlock()
				return x
			}
		}
		m.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s", to)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// js quotes a Go string for JavaScript.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// docClick clicks the center of the element a JavaScript expression returns
// (in the page itself, not the widget's shadow root) with real mouse events,
// once it is there and nothing covers it.
func docClick(t *testing.T, ctx context.Context, what, elemJS string) {
	t.Helper()
	waitFor(t, ctx, what, `(`+elemJS+`) && (`+elemJS+`).getClientRects().length > 0`)
	center := `(() => { const el = (` + elemJS + `); el.scrollIntoView({block: 'nearest'}); const r = el.getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`
	xy := eval[[]float64](t, ctx, center)
	for range 20 { // let it settle (animations, scrolling)
		time.Sleep(40 * time.Millisecond)
		again := eval[[]float64](t, ctx, center)
		if again[0] == xy[0] && again[1] == xy[1] {
			break
		}
		xy = again
	}
	hit := fmt.Sprintf(`(() => { const el = (%s); const at = document.elementFromPoint(%v, %v); return !!at && (at === el || el.contains(at)) })()`, elemJS, xy[0], xy[1])
	if !eval[bool](t, ctx, hit) {
		on := eval[string](t, ctx, fmt.Sprintf(`(() => { const at = document.elementFromPoint(%v, %v); return at ? at.outerHTML.slice(0, 200) : 'nothing' })()`, xy[0], xy[1]))
		t.Fatalf("clicking %s: %s is on top of it at (%v, %v)", what, on, xy[0], xy[1])
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatalf("clicking %s: %v", what, err)
	}
}

// keys types into the element that has the focus; "\r" is Enter.
func keys(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(text)); err != nil {
		t.Fatalf("typing %q: %v", text, err)
	}
}

// signInToInbox opens /inbox and signs in through the form.
func signInToInbox(t *testing.T, ctx context.Context, e *env, email string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.url+"/inbox")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the sign-in form", `!document.getElementById('login').hidden && document.activeElement === document.getElementById('login-email')`)
	// A wrong password first: the form says so, inline.
	keys(t, ctx, email)
	docClick(t, ctx, "the password field", `document.getElementById('login-password')`)
	keys(t, ctx, "not the password\r")
	waitFor(t, ctx, "the inline error", `!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent === 'Wrong email or password.'`)
	waitFor(t, ctx, "the password selected again", `document.activeElement === document.getElementById('login-password')`)
	keys(t, ctx, inboxPassword+"\r")
	waitFor(t, ctx, "the inbox", `!document.getElementById('app').hidden && document.getElementById('login').hidden`)
	waitFor(t, ctx, "the folders", `document.querySelectorAll('#folder-list .folder').length === 6`)
}

// goOnline switches the presence in the header to online.
func goOnline(t *testing.T, ctx context.Context) {
	t.Helper()
	docClick(t, ctx, "the presence switch", `document.getElementById('presence-btn')`)
	docClick(t, ctx, `"Online"`, `document.querySelector('#presence-menu [data-presence=online]')`)
	waitFor(t, ctx, "the presence online", `document.getElementById('presence-btn').dataset.presence === 'online' && document.getElementById('presence-label').textContent === 'Online'`)
}

// salesToHandoff answers the sales playbook as a hot lead (201+ people,
// 2,500 USD a month) up to the point where it hands off or captures.
func salesToHandoff(t *testing.T, ctx context.Context, e *env) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	clickButton(t, ctx, `the "201+" button`, "201+")
	waitFor(t, ctx, "the budget question", botSaid("What's your monthly budget in USD?"))
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "2500")
	waitFor(t, ctx, "the timeline question", botSaid("When would you like to get started? (a date like 2026-03-01)"))
	typeAndSend(t, ctx, time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	return storedConversation(t, ctx, e).Conversation
}

// wsVisitor is a second visitor without a browser: a websocket client that
// answers the sales playbook as a hot lead until the handoff, then writes
// one message. It returns the conversation id and a function that writes
// another message and waits for its ack.
func wsVisitor(t *testing.T, ctx context.Context, e *env, name, email, message string) (string, func(text string)) {
	t.Helper()
	c, err := client.DialVisitor(ctx, e.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseNow)
	send := func(f protocol.Frame) {
		if err := c.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// until reads frames until one satisfies ok.
	until := func(what string, ok func(f protocol.Frame) bool) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := c.Until(rctx, ok); err != nil {
			t.Fatalf("the websocket visitor, waiting for %s: %v", what, err)
		}
	}
	entry := func(kind, text string) func(protocol.Frame) bool {
		return func(f protocol.Frame) bool {
			en, ok := f.(*protocol.EntryFrame)
			return ok && en.Entry.Kind == kind && (text == "" || en.Entry.Text == text)
		}
	}
	send(&protocol.Start{Playbook: "website-sales", Page: "/pricing", Locale: "en-US", Visitor: &protocol.Visitor{Name: name, Email: email}})
	until("the greeting", entry("message", "Hi "+name+"! What brings you here?"))
	send(&protocol.Click{ID: "b1", Value: "Talk to sales", Label: "Talk to sales"})
	until("the size question", entry("message", "How many people work at your company?"))
	send(&protocol.Click{ID: "b2", Value: "51-200", Label: "51-200"})
	until("the budget question", entry("message", "What's your monthly budget in USD?"))
	send(&protocol.Message{ID: "m1", Text: "4000"})
	until("the timeline question", entry("message", "When would you like to get started? (a date like 2026-03-01)"))
	send(&protocol.Message{ID: "m2", Text: time.Now().AddDate(0, 0, 14).Format("2006-01-02")})
	until("the handoff", entry("handoff", ""))
	conv := c.Conversation()
	n := 0
	say := func(text string) {
		t.Helper()
		n++
		id := fmt.Sprintf("say%d", n)
		send(&protocol.Message{ID: id, Text: text})
		until("the message stored", func(f protocol.Frame) bool { a, ok := f.(*protocol.Ack); return ok && a.ID == id })
	}
	say(message)
	return conv, say
}

// timeline is the inbox transcript as "kind|from: text" lines.
func timeline(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `[...document.querySelectorAll('#timeline .msg, #timeline .sys')].map(n => n.className + ': ' + (n.querySelector('.bubble') || n).textContent.replace(/\s+/g, ' ')).join('\n')`)
}

func TestInboxLiveChat(t *testing.T) {
	t.Parallel()
	mails := &mailbox{}
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{}; c.Mail = mails })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	signInAgent(t, e, "Maria", "sales") // a teammate, online through the API
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)

	// The agent signs in and goes online.
	signInToInbox(t, agent, e, "sam@example.com")
	waitFor(t, agent, "the Unassigned folder, empty", `document.querySelector('#folder-unassigned[aria-current=page]') && !document.getElementById('list-empty').hidden`)
	goOnline(t, agent)

	// A hot lead on the pricing page reaches the handoff.
	conv := salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the handoff", botSaid("Connecting you with our sales team…"))
	waitFor(t, visitor, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)

	// The inbox rings: a toast, and the chat in Unassigned with its badges.
	item := `document.querySelector('#conv-list .item[data-id=` + js(conv) + `]')`
	waitFor(t, agent, "the new chat in Unassigned", item)
	waitFor(t, agent, "the new_chat toast", `document.querySelector('.toast[data-kind=new_chat][data-conversation=`+js(conv)+`]')`)
	if title := eval[string](t, agent, `document.querySelector('.toast[data-kind=new_chat][data-conversation=`+js(conv)+`] strong').textContent`); title != "New chat from ana at Acme — Sales" {
		t.Errorf("the new chat's toast is titled %q, want \"New chat from ana at Acme — Sales\"", title)
	}
	waitFor(t, agent, "the count on Unassigned", `document.querySelector('#folder-unassigned .count').textContent === '1'`)
	waitFor(t, agent, "the unread dot, priority and team", item+`.classList.contains('unread') && `+item+`.querySelector('.prio-high') && `+item+`.querySelector('.tag-team').textContent === 'sales'`)
	if got := eval[string](t, agent, item+`.querySelector('.item-last').textContent`); got != "Bot: Connecting you with our sales team…" {
		t.Errorf("the list shows the last message %q", got)
	}

	// A second visitor (no browser) queues too; newest activity first.
	lena, _ := wsVisitor(t, ctx, e, "Lena Fischer", "lena@initech.de", "Can we pay by invoice?")
	lenaItem := `document.querySelector('#conv-list .item[data-id=` + js(lena) + `]')`
	waitFor(t, agent, "Lena's chat, first, with her message", lenaItem+` && `+lenaItem+`.querySelector('.item-last').textContent === 'Can we pay by invoice?' && document.querySelector('#conv-list .item') === `+lenaItem)
	waitFor(t, agent, "two waiting", `document.querySelector('#folder-unassigned .count').textContent === '2' && document.title === '(2) Inbox · Playbook'`)

	// The agent opens it from the toast and takes it.
	docClick(t, agent, "the toast's Open button", `document.querySelector('.toast[data-kind=new_chat][data-conversation=`+js(conv)+`] .btn')`)
	// Titled "email at company", not by the raw address.
	waitFor(t, agent, "the conversation open", `!document.getElementById('conv').hidden && document.getElementById('conv-title').textContent === 'ana at Acme'`)
	waitFor(t, agent, "the list titles it too", item+`.querySelector('.item-name').textContent === 'ana at Acme'`)
	waitFor(t, agent, "the bot's part of the transcript", `[...document.querySelectorAll('#timeline .msg.bot .bubble')].some(b => b.textContent === "What's your work email?") && [...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'ana@acme.io')`)
	waitFor(t, agent, "what the bot collected, by the vars' labels", `[...document.querySelectorAll('#details .kv dt')].some(d => d.textContent === 'Company size') && [...document.querySelectorAll('#details .kv dd')].some(d => d.textContent === '201+') && ![...document.querySelectorAll('#details .kv dt')].some(d => d.textContent === 'company_size' || d.textContent === 'score')`)
	docClick(t, agent, `"Assign to me"`, `document.querySelector('#conv-banner [data-action=assign-me]')`)
	waitFor(t, agent, "the chat assigned to Sam", `document.querySelector('[data-action=assignee] .assignee-label').textContent === 'You' && document.querySelector('#folder-mine .count').textContent === '1'`)
	waitFor(t, visitor, `"Sam Lee joined"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Sam Lee joined')`)
	waitFor(t, visitor, "Sam in the header", sr+`.querySelector('#pb-title').textContent === 'Sam Lee'`)

	// A label, from the details panel.
	docClick(t, agent, "the label field", `document.getElementById('label-input')`)
	keys(t, agent, "enterprise\r")
	waitFor(t, agent, "the label", `[...document.querySelectorAll('#details .labels-edit .tag')].some(l => l.textContent.startsWith('enterprise'))`)

	// The agent types: the visitor sees the dots; Enter sends rich text.
	docClick(t, agent, "the composer", `document.getElementById('composer-input')`)
	keys(t, agent, "Hi! **Sam** here. Plans: https://www.example.com/pricing")
	waitFor(t, visitor, "the agent's typing dots", `!`+sr+`.querySelector('.pb-typing').hidden`)
	keys(t, agent, "\r")
	waitFor(t, agent, "the reply stored", `[...document.querySelectorAll('#timeline .msg.agent:not(.pending) .bubble')].some(b => b.querySelector('strong') && b.textContent === 'Hi! Sam here. Plans: https://www.example.com/pricing')`)
	waitFor(t, agent, "the composer empty", `document.getElementById('composer-input').value === ''`)
	waitFor(t, visitor, "Sam's message, bold and linked", `[...`+sr+`.querySelectorAll('.pb-agent .pb-bubble')].some(b => b.querySelector('strong') && b.querySelector('strong').textContent === 'Sam' && b.querySelector('a') && b.querySelector('a').href === 'https://www.example.com/pricing')`)

	// The visitor types: the agent sees it; then the message arrives.
	focusComposer(t, visitor)
	keys(t, visitor, "Do you have SSO")
	waitFor(t, agent, "the visitor typing", `!document.getElementById('typing').hidden && document.getElementById('typing-text').textContent === 'ana at Acme is typing…'`)
	keys(t, visitor, "?\r")
	waitFor(t, agent, "the visitor's question", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'Do you have SSO?')`)
	waitFor(t, agent, "the typing line gone", `document.getElementById('typing').hidden`)

	// A canned response, added in the settings and inserted with /.
	docClick(t, agent, "the settings button", `document.getElementById('settings-btn')`)
	waitFor(t, agent, "the settings dialog", `document.getElementById('settings').open`)
	docClick(t, agent, "the short name field", `document.getElementById('canned-short')`)
	keys(t, agent, "sso")
	docClick(t, agent, "the text field", `document.getElementById('canned-text')`)
	keys(t, agent, "Yes: SAML SSO is in *Enterprise*.")
	docClick(t, agent, "Add", `document.querySelector('#canned-form button[type=submit]')`)
	waitFor(t, agent, "the canned response listed", `[...document.querySelectorAll('#canned-list .c-short')].some(s => s.textContent === '/sso')`)
	keys(t, agent, "\x1b") // Escape closes the dialog
	waitFor(t, agent, "the dialog closed", `!document.getElementById('settings').open`)
	docClick(t, agent, "the composer", `document.getElementById('composer-input')`)
	keys(t, agent, "/ss")
	waitFor(t, agent, "the canned picker", `!document.getElementById('picker').hidden && document.querySelector('#picker [aria-selected=true] .p-key').textContent === '/sso'`)
	keys(t, agent, "\r")
	waitFor(t, agent, "the canned text inserted", `document.getElementById('composer-input').value === 'Yes: SAML SSO is in *Enterprise*.'`)
	keys(t, agent, "\r")
	waitFor(t, visitor, "the canned answer, in italics", `[...`+sr+`.querySelectorAll('.pb-agent .pb-bubble em')].some(b => b.textContent === 'Enterprise')`)

	// A lead in the CRM, from the details panel.
	crmPart := `document.getElementById('d-crm').parentNode`
	docClick(t, agent, `"Create lead"`, crmPart+`.querySelector('[data-crm=create_lead]')`)
	// Filled in from what the bot collected, as the playbook's capture card would.
	waitFor(t, agent, "the lead dialog, filled in", `document.getElementById('ask').open && document.getElementById('ask-input').value === 'ana@acme.io (201+)' && document.getElementById('ask-x-value').value === '30000' && document.getElementById('ask-x-currency').value === 'USD'`)
	docClick(t, agent, "the value field", `document.getElementById('ask-x-value')`)
	keys(t, agent, "\r")
	waitFor(t, agent, "the lead in the panel", `!document.getElementById('ask').open && [...`+crmPart+`.querySelectorAll('.record[data-kind=lead] .record-title')].some(n => n.textContent === 'ana@acme.io (201+)')`)
	waitFor(t, agent, "the person found", crmPart+`.querySelector('.record[data-kind=person]')`)

	// A private note: yellow in the inbox, never in the widget.
	const secret = "Big account, offer the annual discount"
	docClick(t, agent, "the Private note tab", `document.getElementById('tab-note')`)
	waitFor(t, agent, "the note mode", `document.getElementById('composer').classList.contains('note-mode') && document.activeElement === document.getElementById('composer-input')`)
	keys(t, agent, "@mar")
	waitFor(t, agent, "the teammate picker", `!document.getElementById('picker').hidden && document.querySelector('#picker [aria-selected=true] .p-key').textContent === 'Maria'`)
	keys(t, agent, "\r"+secret+"\r")
	waitFor(t, agent, "the note in the transcript", `[...document.querySelectorAll('#timeline .msg.note .bubble')].some(b => b.textContent === `+js("@Maria "+secret)+` && b.querySelector('.mention').textContent === '@Maria')`)
	if bg := eval[string](t, agent, `getComputedStyle(document.querySelector('#timeline .msg.note .bubble')).backgroundColor`); bg != "rgb(255, 247, 214)" {
		t.Errorf("a note's background is %s, want the yellow rgb(255, 247, 214)", bg)
	}

	// The whole team's open chats, the visitor typing: the screenshot.
	docClick(t, agent, "the Reply tab", `document.getElementById('tab-reply')`)
	docClick(t, agent, `the "All open" folder`, `document.getElementById('folder-open')`)
	waitFor(t, agent, "both chats listed, Ana's still open", `document.querySelectorAll('#conv-list .item').length === 2 && `+item+`.getAttribute('aria-current') === 'true' && !document.getElementById('conv').hidden`)
	focusComposer(t, visitor)
	keys(t, visitor, "Great. Can we start with 40 seats")
	waitFor(t, agent, "the visitor typing", `!document.getElementById('typing').hidden`)
	_ = eval[bool](t, agent, `(() => { document.querySelectorAll('.toast').forEach(n => n.remove()); document.getElementById('details').scrollTop = 0; return true })()`)
	screenshot(t, agent, "inbox.png")
	keys(t, visitor, "?\r")
	waitFor(t, agent, "the visitor's second question", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'Great. Can we start with 40 seats?')`)

	// A message deleted by the agent shows as deleted on both sides.
	docClick(t, agent, "the composer", `document.getElementById('composer-input')`)
	keys(t, agent, "Oops, wrong chat\r")
	lastAgent := `[...document.querySelectorAll('#timeline .msg.agent:not(.pending)')].find(m => m.querySelector('.bubble').textContent === 'Oops, wrong chat')`
	waitFor(t, visitor, "the wrong message", `[...`+sr+`.querySelectorAll('.pb-agent .pb-bubble')].some(b => b.textContent === 'Oops, wrong chat')`)
	if err := chromedp.Do(agent, chromedp.MouseEvent("mouseMoved", 700, 300)); err != nil {
		t.Fatal(err)
	}
	docClick(t, agent, "the message's delete button", lastAgent+`.querySelector('.msg-del')`)
	waitFor(t, agent, "the confirmation", `document.getElementById('ask').open`)
	docClick(t, agent, "Delete", `document.getElementById('ask-ok')`)
	waitFor(t, agent, `"Message deleted" in the inbox`, `[...document.querySelectorAll('#timeline .msg.deleted .bubble')].some(b => b.textContent === 'Message deleted')`)
	waitFor(t, visitor, "the message deleted in the widget", `![...`+sr+`.querySelectorAll('.pb-bubble')].some(b => b.textContent === 'Oops, wrong chat') && `+sr+`.querySelector('.pb-bubble.pb-deleted')`)

	// The note never reached the visitor: not shown, not stored.
	if leaked := eval[bool](t, visitor, sr+`.textContent.includes(`+js(secret)+`) || JSON.stringify(localStorage).includes(`+js(secret)+`)`); leaked {
		t.Errorf("the private note reached the widget\n%s", transcriptText(visitor))
	}

	// Resolve; the visitor rates the chat 5 stars.
	docClick(t, agent, "Resolve", `document.querySelector('[data-action=resolve]')`)
	waitFor(t, agent, "the resolved state", `document.querySelector('#conv-sub .status-pill').textContent === 'Resolved' && document.querySelector('#folder-closed .count').textContent === '1' && document.getElementById('composer-input').disabled`)
	click(t, visitor, "the fifth star", sr+`.querySelectorAll('.pb-star')[4]`)
	click(t, visitor, "the rating's Send button", sr+`.querySelector('.pb-rate .pb-restart')`)
	waitFor(t, visitor, "the thanks", sr+`.querySelector('.pb-rate p').textContent === 'Thanks for your feedback!'`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := e.srv.App().Inbox().Conversation(ctx, conv)
		if err == nil && c.CSAT != nil && c.CSAT.Score == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rating never reached the conversation: %+v, %v", c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The visitor asks for the transcript: it comes without the note.
	click(t, visitor, `"Email me the transcript"`, sr+`.querySelector('.pb-linkbtn')`)
	waitFor(t, visitor, "the email field focused", sr+`.activeElement === `+sr+`.querySelector('.pb-mailform .pb-field')`)
	keys(t, visitor, "ana@acme.io\r")
	waitFor(t, visitor, `"Transcript sent"`, `!`+sr+`.querySelector('.pb-notice').hidden && `+sr+`.querySelector('.pb-notice').textContent === 'Transcript sent to ana@acme.io'`)
	m := mails.waitMail(t, "ana@acme.io")
	if !strings.Contains(m.body, "Do you have SSO?") || strings.Contains(m.body, secret) || strings.Contains(m.body, "Oops, wrong chat") {
		t.Errorf("the visitor's transcript should have the chat and not the private note:\n%s", m.body)
	}

	// The agent emails it too, from the header: the same copy, without the
	// note and without the deleted message (issue 11, item 1).
	docClick(t, agent, "More actions", `document.querySelector('[data-action=more]')`)
	docClick(t, agent, "Email transcript…", `document.querySelector('#more-menu [data-action=email]')`)
	waitFor(t, agent, "the email dialog, filled in", `document.getElementById('ask').open && document.getElementById('ask-input').value === 'ana@acme.io'`)
	keys(t, agent, "\b\b\b\b\b\b\b\b\b\b\bsales-lead@example.com\r")
	waitFor(t, agent, "the confirmation", `!document.getElementById('ask').open && [...document.querySelectorAll('.toast strong')].some(n => n.textContent === 'Transcript sent')`)
	if m := mails.waitMail(t, "sales-lead@example.com"); strings.Contains(m.body, secret) || strings.Contains(m.body, "Oops, wrong chat") || !strings.Contains(m.body, "Do you have SSO?") {
		t.Errorf("the transcript the inbox mails must have the chat, and neither the private note nor the deleted message:\n%s", m.body)
	}
	// The internal copy is its own action: to the agent's own address, with
	// the note, still without the deleted message.
	docClick(t, agent, "More actions", `document.querySelector('[data-action=more]')`)
	docClick(t, agent, "Email internal copy (with notes)…", `document.querySelector('#more-menu [data-action=email-internal]')`)
	waitFor(t, agent, "the internal copy dialog, filled in with the agent's address", `document.getElementById('ask').open && document.getElementById('ask-input').value === 'sam@example.com'`)
	keys(t, agent, "\r")
	waitFor(t, agent, "the confirmation", `!document.getElementById('ask').open && [...document.querySelectorAll('.toast strong')].some(n => n.textContent === 'Internal copy sent')`)
	if m := mails.waitMail(t, "sam@example.com"); !strings.Contains(m.body, secret) || strings.Contains(m.body, "Oops, wrong chat") {
		t.Errorf("the internal copy should have the private note and not the deleted message:\n%s", m.body)
	}

	// After a reload the session, the route and the open chat are back, with
	// the rating in the details.
	if err := chromedp.Do(agent, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agent, "the inbox after the reload", `!document.getElementById('app').hidden && !document.getElementById('conv').hidden && document.querySelector('#conv-sub .status-pill').textContent === 'Resolved'`)
	waitFor(t, agent, "the 5 stars in the details", `document.querySelector('#details .stars[data-score="5"]')`)

	// On a 768 px tablet: nothing scrolls sideways, every action is reachable.
	if err := chromedp.Do(agent, chromedp.EmulateViewport(768, 1024)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agent, "the tablet layout", `getComputedStyle(document.querySelector('.folder-name')).display === 'none'`)
	if w := eval[[]float64](t, agent, `[document.getElementById('app').scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("at 768 px the inbox is %v px wide", w[0])
	}
	docClick(t, agent, "the details button", `document.getElementById('details-btn')`)
	waitFor(t, agent, "the details drawer", `!document.getElementById('details').hidden && document.getElementById('details').getBoundingClientRect().right <= innerWidth`)
	screenshot(t, agent, "inbox-tablet.png")

	want := []string{"Hi! Sam here. Plans: https://www.example.com/pricing", "Do you have SSO?", "Yes: SAML SSO is in Enterprise.", secret, "Message deleted"}
	got := timeline(t, agent)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the inbox transcript lacks %q:\n%s", w, got)
		}
	}
}

func TestInboxAgentOfflineCapturesTheLead(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)

	// Signed in, but offline: nobody of sales is online.
	signInToInbox(t, agent, e, "sam@example.com")
	waitFor(t, agent, "the presence offline", `document.getElementById('presence-btn').dataset.presence === 'offline'`)

	salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the offline path", botSaid("Our team is away right now. We'll email ana@acme.io within one business day."))
	waitFor(t, visitor, `"Conversation ended"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation ended')`)
	time.Sleep(300 * time.Millisecond) // a notification would be here by now
	if n := eval[int](t, agent, `document.querySelectorAll('#conv-list .item').length + document.querySelectorAll('.toast').length`); n != 0 {
		t.Errorf("the offline agent got %d chats or notifications, want none", n)
	}
}

func TestInboxCatchesUpAfterReconnecting(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	p := newProxy(t, strings.TrimPrefix(e.url, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)

	// The agent's browser reaches the server through a proxy that can cut it.
	viaProxy := &env{url: "http://" + p.Addr(), srv: e.srv, store: e.store, logs: e.logs}
	signInToInbox(t, agent, viaProxy, "sam@example.com")
	goOnline(t, agent)
	lena, say := wsVisitor(t, ctx, e, "Lena Fischer", "lena@initech.de", "Can we pay by invoice?")
	docClick(t, agent, "Lena's chat", `document.querySelector('#conv-list .item[data-id=`+js(lena)+`]')`)
	waitFor(t, agent, "her message", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'Can we pay by invoice?')`)
	waitFor(t, agent, "the live feed", `document.getElementById('conn').hidden`)

	// The network goes; meanwhile Lena writes and a new chat arrives.
	p.setDown(true)
	p.cut()
	waitFor(t, agent, `"Reconnecting…"`, `!document.getElementById('conn').hidden && document.getElementById('conn').textContent === 'Reconnecting…'`)
	say("Hello? Are you still there?")
	jon, _ := wsVisitor(t, ctx, e, "Jon Baker", "jon@globex.com", "Hi, quick question about SSO")
	time.Sleep(300 * time.Millisecond)
	if eval[bool](t, agent, `[...document.querySelectorAll('#timeline .bubble')].some(b => b.textContent === 'Hello? Are you still there?')`) {
		t.Fatal("a message reached the inbox while its network was down")
	}

	// Back online: the open chat catches up from its last entry, the lists reload.
	p.setDown(false)
	waitFor(t, agent, "the live feed again", `document.getElementById('conn').hidden`)
	waitFor(t, agent, "the message sent while away", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === 'Hello? Are you still there?')`)
	waitFor(t, agent, "the chat that came while away", `document.querySelector('#conv-list .item[data-id=`+js(jon)+`]') && document.querySelector('#folder-unassigned .count').textContent === '2'`)
	ids := eval[[]string](t, agent, `[...document.querySelectorAll('#timeline [data-entry]')].map(n => n.dataset.entry)`)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("entry %s shown twice after the reconnect", id)
		}
		seen[id] = true
	}
}

// TestInboxShowsMarkupAsText: a visitor whose name and messages are HTML
// and script reaches an agent; the inbox's list, header, transcript and
// details show them as text, and nothing runs.
func TestInboxShowsMarkupAsText(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	signInToInbox(t, agent, e, "sam@example.com")
	goOnline(t, agent)

	const name = `<img src=x onerror="window.__pwned=1">Eve`
	const msg = `<script>window.__pwned=1</script><b>bold?</b><a href="javascript:window.__pwned=1">click</a>`
	conv, say := wsVisitor(t, ctx, e, name, "eve@example.com", msg)
	say(`[click](javascript:window.__pwned=1) <svg onload="window.__pwned=1">`)
	item := `document.querySelector('#conv-list .item[data-id=` + js(conv) + `]')`
	waitFor(t, agent, "Eve's chat in Unassigned", item)
	docClick(t, agent, "Eve's chat", item)
	waitFor(t, agent, "the messages, as text", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent === `+js(msg)+`)`)
	waitFor(t, agent, "the markdown link that is not http", `[...document.querySelectorAll('#timeline .msg.in .bubble')].some(b => b.textContent.includes('<svg onload'))`)
	if got := eval[string](t, agent, `document.getElementById('conv-title').textContent`); got != name {
		t.Errorf("conversation title %q, want the name as text %q", got, name)
	}
	bad := eval[[]string](t, agent, `[...document.querySelectorAll('img[src=x], script:not([src]), svg[onload], a[href^=javascript], #timeline .msg.in .bubble *')].map(n => n.outerHTML)`)
	if len(bad) > 0 {
		t.Errorf("the inbox made elements of the visitor's markup: %q", bad)
	}
	if eval[bool](t, agent, `'__pwned' in window`) {
		t.Error("the visitor's script ran in the inbox")
	}
}

// TestInboxTwoAgentsReassignAndPreview: two agents of sales, each in their
// own browser, and a third who is offline. The assign menu shows the
// offline one disabled with the reason (issue 11, item 14); the list says
// "You:" only for the reader's own message and the colleague's name for
// the other's (item 18).
func TestInboxTwoAgentsReassignAndPreview(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	addInboxAgent(t, e, "kim@example.com", "Kim Park")
	addInboxAgent(t, e, "olga@example.com", "Olga Ivanova") // never signs in: offline
	olga, err := e.srv.App().Inbox().AgentByEmail(context.Background(), "olga@example.com")
	if err != nil {
		t.Fatal(err)
	}
	kimAgent, _ := e.srv.App().Inbox().AgentByEmail(context.Background(), "kim@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sam := browser(t, ctx)
	kim := browser(t, ctx)
	signInToInbox(t, sam, e, "sam@example.com")
	goOnline(t, sam)
	signInToInbox(t, kim, e, "kim@example.com")
	goOnline(t, kim)

	lena, _ := wsVisitor(t, ctx, e, "Lena Fischer", "lena@initech.de", "Can we pay by invoice?")
	item := `document.querySelector('#conv-list .item[data-id=` + js(lena) + `]')`
	preview := item + `.querySelector('.item-last').textContent`

	// Sam takes the chat and answers.
	docClick(t, sam, "Lena's chat", item)
	docClick(t, sam, `"Assign to me"`, `document.querySelector('#conv-banner [data-action=assign-me]')`)
	waitFor(t, sam, "the chat assigned to Sam", `document.querySelector('[data-action=assignee] .assignee-label').textContent === 'You'`)
	docClick(t, sam, "the composer", `document.getElementById('composer-input')`)
	keys(t, sam, "Hello from Sam\r")
	waitFor(t, sam, "the reply stored", `[...document.querySelectorAll('#timeline .msg.agent:not(.pending) .bubble')].some(b => b.textContent === 'Hello from Sam')`)

	// Both look at All open: Sam's own message is "You", for Kim it is Sam's.
	docClick(t, sam, `the "All open" folder`, `document.getElementById('folder-open')`)
	docClick(t, kim, `the "All open" folder`, `document.getElementById('folder-open')`)
	waitFor(t, sam, `"You: Hello from Sam" in Sam's list`, item+` && `+preview+` === 'You: Hello from Sam'`)
	waitFor(t, kim, `"Sam Lee: Hello from Sam" in Kim's list`, item+` && `+preview+` === 'Sam Lee: Hello from Sam'`)

	// The assign menu: Kim can take it, Olga is offline and disabled.
	docClick(t, sam, "the assignee button", `document.querySelector('[data-action=assignee]')`)
	olgaItem := `document.querySelector('#assignee-menu [data-agent=` + js(olga.ID) + `]')`
	kimItem := `document.querySelector('#assignee-menu [data-agent=` + js(kimAgent.ID) + `]')`
	waitFor(t, sam, "the agents in the menu", olgaItem+` && `+kimItem)
	if got := eval[string](t, sam, olgaItem+`.getAttribute('aria-disabled') + ' | ' + `+olgaItem+`.getAttribute('aria-label')`); !strings.HasPrefix(got, "true | Olga Ivanova, offline") || !strings.Contains(got, "can’t take chats while offline") {
		t.Errorf("Olga in the menu: %q, want disabled with the reason", got)
	}
	if got := eval[string](t, sam, `String(`+kimItem+`.getAttribute('aria-disabled'))`); got == "true" {
		t.Errorf("Kim, online and of the team, is disabled in the menu")
	}
	if n := eval[int](t, sam, `[...document.querySelectorAll('#assignee-menu [role=menuitem]:not([aria-disabled=true])')].filter(b => b.dataset.agent === `+js(olga.ID)+`).length`); n != 0 {
		t.Errorf("Olga is reachable in the menu")
	}
	docClick(t, sam, "Kim in the menu", kimItem)
	waitFor(t, sam, "the chat with Kim", `document.querySelector('[data-action=assignee] .assignee-label').textContent === 'Kim Park'`)

	// Kim answers in her browser.
	docClick(t, kim, "Lena's chat", item)
	waitFor(t, kim, "the chat Kim's", `document.querySelector('[data-action=assignee] .assignee-label').textContent === 'You'`)
	docClick(t, kim, "the composer", `document.getElementById('composer-input')`)
	keys(t, kim, "Kim here\r")
	waitFor(t, kim, "Kim's reply stored", `[...document.querySelectorAll('#timeline .msg.agent:not(.pending) .bubble')].some(b => b.textContent === 'Kim here')`)
	waitFor(t, kim, `"You: Kim here" in Kim's list`, preview+` === 'You: Kim here'`)
	waitFor(t, sam, `"Kim Park: Kim here" in Sam's list`, preview+` === 'Kim Park: Kim here'`)

	// Canned responses (item 8): Sam saves one for himself only and one for
	// sales; Kim sees and may edit the team's, never Sam's own.
	addCanned := func(short, text, scope string) {
		t.Helper()
		docClick(t, sam, "the short name field", `document.getElementById('canned-short')`)
		keys(t, sam, short)
		docClick(t, sam, "the text field", `document.getElementById('canned-text')`)
		keys(t, sam, text)
		_ = eval[bool](t, sam, `(() => { const s = document.getElementById('canned-scope'); s.value = `+js(scope)+`; return s.value === `+js(scope)+` })()`)
		docClick(t, sam, "Add", `document.getElementById('canned-submit')`)
		waitFor(t, sam, "/"+short+" listed", `[...document.querySelectorAll('#canned-list .c-short')].some(s => s.textContent === '/`+short+`')`)
	}
	docClick(t, sam, "the settings button", `document.getElementById('settings-btn')`)
	waitFor(t, sam, "the settings dialog with the scopes", `document.getElementById('settings').open && [...document.querySelectorAll('#canned-scope option')].map(o => o.value).join() === 'team:sales,personal'`)
	addCanned("mysig", "Sam, Acme sales", "personal")
	addCanned("pitch", "Plans start at 49 USD.", "team:sales")
	row := func(short string) string {
		return `[...document.querySelectorAll('#canned-list li')].find(li => li.querySelector('.c-short') && li.querySelector('.c-short').textContent === '/` + short + `')`
	}
	waitFor(t, sam, "the scopes in Sam's list", row("mysig")+`.querySelector('.c-scope').textContent === 'Only me' && `+row("pitch")+`.querySelector('.c-scope').textContent === 'Team sales'`)
	docClick(t, kim, "the settings button", `document.getElementById('settings-btn')`)
	waitFor(t, kim, "the team's canned response, editable", row("pitch")+` && `+row("pitch")+`.querySelector('.c-edit')`)
	if eval[bool](t, kim, `!!(`+row("mysig")+`)`) {
		t.Error("Kim sees Sam's personal canned response")
	}
	// Kim edits the team's one; Sam's list shows the new text after a reload of the dialog.
	docClick(t, kim, "Edit /pitch", row("pitch")+`.querySelector('.c-edit')`)
	waitFor(t, kim, "the form in edit mode", `document.getElementById('canned-submit').textContent === 'Save' && document.getElementById('canned-text').value === 'Plans start at 49 USD.'`)
	_ = eval[bool](t, kim, `(() => { const x = document.getElementById('canned-text'); x.value = 'Plans start at 59 USD.'; return true })()`)
	docClick(t, kim, "Save", `document.getElementById('canned-submit')`)
	waitFor(t, kim, "the edited text", row("pitch")+`.querySelector('.c-text').textContent === 'Plans start at 59 USD.'`)
	keys(t, sam, "\x1b")
	waitFor(t, sam, "the dialog closed", `!document.getElementById('settings').open`)
	docClick(t, sam, "the settings button", `document.getElementById('settings-btn')`)
	waitFor(t, sam, "Kim's edit in Sam's list", row("pitch")+` && `+row("pitch")+`.querySelector('.c-text').textContent === 'Plans start at 59 USD.'`)

	// Olga never joined: the transcript names only Sam and Kim.
	entries, _ := e.srv.App().Sessions().Transcript(ctx, lena, "", 0)
	for _, en := range entries {
		if en.Kind == "joined" && en.Author != "Sam Lee" && en.Author != "Kim Park" {
			t.Errorf("the transcript says %s joined", en.Author)
		}
	}
}
