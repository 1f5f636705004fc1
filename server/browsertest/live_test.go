package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/playbook-dev/playbook/internal/servertest"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/handoff"
)

// allOpen keeps every team within opening hours.
type allOpen struct{}

func (allOpen) Open(_ context.Context, teams []string, _ time.Time) (map[string]bool, error) {
	m := map[string]bool{}
	for _, t := range teams {
		m[t] = true
	}
	return m, nil
}

// inbox is an agent signed in to the inbox API.
type inbox struct {
	t    *testing.T
	url  string
	http *http.Client
	csrf string
}

func signInAgent(t *testing.T, e *env, name, team string) *inbox {
	t.Helper()
	a, err := e.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: name + "@example.com", Name: name, Teams: []string{team}, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	in := &inbox{t: t, url: e.url, http: &http.Client{Jar: jar, Timeout: time.Minute}}
	var out struct{ CSRF string }
	json.Unmarshal(in.call("POST", "/api/auth/login", map[string]any{"email": a.Email, "password": "correct horse"}), &out)
	in.csrf = out.CSRF
	in.call("PUT", "/api/me/presence", map[string]any{"status": "online"})
	return in
}

func (in *inbox) call(method, path string, body any) []byte {
	in.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, in.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if in.csrf != "" {
		req.Header.Set("X-CSRF-Token", in.csrf)
	}
	resp, err := in.http.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		in.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

func TestWidgetLiveChatWithAnAgent(t *testing.T) {
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	sam := signInAgent(t, e, "Sam", "sales")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
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
	typeAndSend(t, ctx, "1500")
	waitFor(t, ctx, "the timeline question", botSaid("When would you like to get started? (a date like 2026-03-01)"))
	typeAndSend(t, ctx, time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	waitFor(t, ctx, "the handoff", botSaid("Connecting you with our sales team…"))
	waitFor(t, ctx, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)
	conv := storedConversation(t, ctx, e).Conversation

	sam.call("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	waitFor(t, ctx, `"Sam joined"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Sam joined')`)
	waitFor(t, ctx, "Sam in the header", sr+`.querySelector('#pb-title').textContent === 'Sam' && `+sr+`.querySelector('.pb-sub').textContent === 'Live chat'`)
	typeAndSend(t, ctx, "Hi Sam, what does Growth include?")
	waitFor(t, ctx, "the visitor's message delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)
	sam.call("POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Hello Ana, **Sam** here. Everything on [the pricing page](https://www.example.com/pricing), plus SSO.", "client_id": "s1"})
	waitFor(t, ctx, "Sam's message, bold and linked", sr+`.querySelector('.pb-agent .pb-bubble strong') && `+sr+`.querySelector('.pb-agent .pb-bubble strong').textContent === 'Sam' && `+sr+`.querySelector('.pb-agent .pb-bubble a').href === 'https://www.example.com/pricing'`)
	screenshot(t, ctx, "widget-live.png")

	sam.call("POST", "/api/conversations/"+conv+"/resolve", nil)
	waitFor(t, ctx, `"Conversation closed"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation closed')`)
	// This server has no mail (no --smtp): the rating is offered, "Email me
	// the transcript" is not (issue 11, item 19).
	waitFor(t, ctx, "the rating card", sr+`.querySelector('.pb-rate .pb-star')`)
	if shown := eval[bool](t, ctx, `(() => { const b = `+sr+`.querySelector('.pb-linkbtn'); return !!b && !b.hidden && b.getClientRects().length > 0 })()`); shown {
		t.Errorf("\"Email me the transcript\" is offered by a server without mail")
	}
	// The star click sends the rating at once, before any Send (issue 14):
	// a visitor who goes no further is still counted.
	click(t, ctx, "the fifth star", sr+`.querySelectorAll('.pb-star')[4]`)
	waitCSAT(t, e, conv, "the rating of the star click, with no comment", func(c *handoff.CSAT) bool { return c.Score == 5 && c.Comment == "" })
	waitFor(t, ctx, "the comment box", sr+`.querySelector('.pb-rate textarea') && !`+sr+`.querySelector('.pb-rate textarea').hidden`)
	axeClean(t, ctx, "the rating card after the star click")
	// The comment typed after it replaces it.
	click(t, ctx, "the fourth star", sr+`.querySelectorAll('.pb-star')[3]`)
	eval[bool](t, ctx, `(() => { `+sr+`.querySelector('.pb-rate textarea').value = 'Quick and kind'; return true })()`)
	click(t, ctx, "the rating's Send button", sr+`.querySelector('.pb-rate .pb-restart')`)
	waitFor(t, ctx, "the thanks", sr+`.querySelector('.pb-rate p').textContent === 'Thanks for your feedback!'`)
	waitCSAT(t, e, conv, "the comment, sent after the click", func(c *handoff.CSAT) bool { return c.Score == 4 && c.Comment == "Quick and kind" })
}

// waitCSAT waits until conversation conv's stored rating is as ok wants
// (the store has no event for it: it is read again every 50 ms; the
// deadline only guards against a hang).
func waitCSAT(t *testing.T, e *env, conv, what string, ok func(*handoff.CSAT) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := e.srv.App().Inbox().Conversation(context.Background(), conv)
		if err == nil && c.CSAT != nil && ok(c.CSAT) {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				t.Fatalf("%s: never stored (the rating is %+v)", what, c.CSAT)
			}
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failingMail is a server.Mailer whose mail server always fails; it counts
// the tries.
type failingMail struct{ tries atomic.Int32 }

func (m *failingMail) Send(context.Context, string, string, string) error {
	m.tries.Add(1)
	return errors.New("dial tcp 10.0.0.25:587: connect: connection refused")
}

// When the mail server fails, the widget says so, in words (not "Trying
// again…"), offers the transcript again, and does not retry by itself
// (issue 11, item 19).
func TestWidgetTranscriptMailFails(t *testing.T) {
	mail := &failingMail{}
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{}; c.Mail = mail })
	sam := signInAgent(t, e, "Sam", "sales")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
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
	typeAndSend(t, ctx, "1500")
	waitFor(t, ctx, "the timeline question", botSaid("When would you like to get started? (a date like 2026-03-01)"))
	typeAndSend(t, ctx, time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	waitFor(t, ctx, "the handoff", botSaid("Connecting you with our sales team…"))
	conv := storedConversation(t, ctx, e).Conversation
	sam.call("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	sam.call("POST", "/api/conversations/"+conv+"/resolve", nil)
	waitFor(t, ctx, `"Conversation closed"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation closed')`)

	click(t, ctx, `"Email me the transcript"`, sr+`.querySelector('.pb-linkbtn')`)
	waitFor(t, ctx, "the email field focused", sr+`.activeElement === `+sr+`.querySelector('.pb-mailform .pb-field')`)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("ana@acme.io\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the notice in words", `!`+sr+`.querySelector('.pb-notice').hidden && `+sr+`.querySelector('.pb-notice').textContent === 'We couldn’t email the transcript just now. Please try again later.'`)
	waitFor(t, ctx, "the offer back", `!`+sr+`.querySelector('.pb-linkbtn').hidden`)
	if n := mail.tries.Load(); n != 1 {
		t.Errorf("the mail server was tried %d times, want 1", n)
	}
	if txt := eval[string](t, ctx, sr+`.textContent`); strings.Contains(txt, "connection refused") || strings.Contains(txt, "code=") {
		t.Errorf("the widget shows an internal error:\n%s", txt)
	}
}
