// Package browsertest drives the visitor widget in a real, headless
// Chromium against the real server (in this process, on 127.0.0.1, with
// Redis from internal/redistest).
//
// Chromium is $CHROMIUM, /usr/bin/chromium or chromium on $PATH. Without
// one the tests skip, except under CI=true, where they fail. With
// PLAYBOOK_SCREENSHOT_DIR set, the screenshots are also written there
// (docs/widget.png and docs/widget-phone.png come from such a run).
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/servertest"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/server/web"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// chromium returns the browser to run, skipping (or, under CI, failing)
// the test when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	redistest.SkipShort(t, "starts a browser")
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no Chromium: install it (apt-get install -y chromium) or set CHROMIUM")
	}
	t.Skip("no Chromium (set CHROMIUM or apt-get install -y chromium); skipping the browser tests")
	return ""
}

// env is the server under test and its store.
type env struct {
	url    string
	prefix string // of the store's keys
	srv    *server.Server
	store  *redisstore.Store
	logs   *strings.Builder
}

// startServer runs the real server on a loopback port. Besides the server's
// own routes, GET /pricing serves the demo page, as a customer's pricing page
// would, so the sales playbook's trigger (pages /pricing*) applies there.
func startServer(t *testing.T, mod ...func(*servertest.Config)) *env {
	t.Helper()
	rds := redistest.New(t)
	logs := &strings.Builder{}
	cfg := servertest.Config{
		Engine: redisstore.NewEngine(rds.Client, rds.Prefix),
		Options: conversation.Options{
			Playbooks: "../../playbooks",
			Prefix:    rds.Prefix,
			Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)),
			// Sign-ins stay fast on a loaded machine; the cost is not under test.
			PasswordCost: bcrypt.MinCost,
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := servertest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	demo, err := fs.ReadFile(web.Static, "static/demo/index.html")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pricing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(demo)
	})
	mux.Handle("/", srv.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server.Run did not return within 30s of cancel")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	servertest.AwaitListening(t, srv)
	return &env{url: ts.URL, prefix: rds.Prefix, srv: srv, store: redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix}), logs: logs}
}

// lockedWriter serializes writes from the server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browser starts a fresh headless Chromium (its own profile) speaking
// English and returns a tab's context, cancelled when the test ends.
func browser(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	return browserIn(t, parent, "en-US")
}

// browserIn is browser with another browser language.
func browserIn(t *testing.T, parent context.Context, lang string) context.Context {
	t.Helper()
	exe := chromium(t)
	actx, cancelA := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	// Any alert() is a failed test: nothing the widget shows may run script.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("the page opened a JavaScript dialog: %q", ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	watchCSP(t, ctx)
	return ctx
}

// watchCSP fails the test when the browser reports a Content-Security-
// Policy violation: the inbox and the demo must work under their policy.
func watchCSP(t *testing.T, ctx context.Context) {
	var mu sync.Mutex
	var seen []string
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e != nil && strings.Contains(e.Text, "Content Security Policy") {
				mu.Lock()
				seen = append(seen, e.URL+": "+e.Text)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range seen {
			t.Errorf("Content-Security-Policy violation: %s", v)
		}
	})
}

// sr is the widget's shadow root, in JavaScript.
const sr = `document.getElementById('playbook-widget').shadowRoot`

// eval runs a JavaScript expression and decodes its value into T.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true (at most 10s).
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	js := `(() => { try { return !!(` + cond + `) } catch (e) { return false } })()`
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not true after 30s (%s)\ntranscript:\n%s", what, cond, transcriptText(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transcriptText is the widget's log as lines, for failure messages.
func transcriptText(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { try { return [...`+sr+`.querySelectorAll('.pb-row,.pb-sys')].map(n => (n.classList.contains('pb-visitor') ? '> ' : n.classList.contains('pb-sys') ? '-- ' : '< ') + n.innerText.replace(/\s+/g, ' ')).join('\n') } catch (e) { return String(e) } })()`))
	return s
}

// click clicks the center of the first element that a JavaScript expression
// returns, with real mouse events.
func click(t *testing.T, ctx context.Context, what, elemJS string) {
	t.Helper()
	waitFor(t, ctx, what, elemJS)
	// Wait until it stops moving (entrance animation, scrolling).
	center := `(() => { const r = (` + elemJS + `).getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`
	var xy []float64
	for try := 0; ; try++ {
		xy = eval[[]float64](t, ctx, center)
		for i := 0; i < 20; i++ {
			time.Sleep(50 * time.Millisecond)
			again := eval[[]float64](t, ctx, center)
			if again[0] == xy[0] && again[1] == xy[1] {
				break
			}
			xy = again
		}
		hit := fmt.Sprintf(`(() => { const el = (%s); const at = %s.elementFromPoint(%v, %v); return !!at && (at === el || el.contains(at)) })()`, elemJS, sr, xy[0], xy[1])
		if eval[bool](t, ctx, hit) {
			break
		}
		// Nothing was clicked: it still moves (a busy machine draws
		// late), or something covers it; look again, then give up.
		if try == 2 {
			on := eval[string](t, ctx, fmt.Sprintf(`(() => { const at = %s.elementFromPoint(%v, %v); return at ? at.outerHTML.slice(0, 200) : 'nothing' })()`, sr, xy[0], xy[1]))
			t.Fatalf("clicking %s: %s is on top of it at (%v, %v)", what, on, xy[0], xy[1])
		}
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatalf("clicking %s: %v", what, err)
	}
}

// clickButton clicks the widget's enabled choice button with this label
// (click). A button that gets the click is disabled by its handler before
// the click's dispatch returns; one still enabled did not get it (it moved
// between the look and the click, on a busy machine): it is clicked again.
func clickButton(t *testing.T, ctx context.Context, what, label string) {
	t.Helper()
	b := button(label)
	for try := 0; ; try++ {
		click(t, ctx, what, b)
		if !eval[bool](t, ctx, `!!(`+b+`)`) {
			return
		}
		if try == 2 {
			t.Fatalf("clicking %s: three clicks and it is still enabled", what)
		}
		t.Logf("clicking %s: the click missed it; again", what)
	}
}

// button is the widget's enabled choice button with this label.
func button(label string) string {
	l, _ := json.Marshal(label)
	return `[...` + sr + `.querySelectorAll('.pb-btn')].find(b => b.textContent === ` + string(l) + ` && !b.disabled)`
}

// botSaid is true once the bot's last bubble has this text.
func botSaid(text string) string {
	l, _ := json.Marshal(text)
	return `[...` + sr + `.querySelectorAll('.pb-bot .pb-bubble')].some(b => b.textContent === ` + string(l) + `)`
}

// typeAndSend types text into the composer (which must have the focus)
// and presses Enter.
func typeAndSend(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	waitFor(t, ctx, "the composer to have the focus", sr+`.activeElement === `+sr+`.querySelector('.pb-input')`)
	if err := chromedp.Do(ctx, chromedp.KeyEvent(text), chromedp.KeyEvent("\r")); err != nil {
		t.Fatalf("typing %q: %v", text, err)
	}
}

// focusComposer clicks into the composer.
func focusComposer(t *testing.T, ctx context.Context) {
	t.Helper()
	click(t, ctx, "the composer", sr+`.querySelector('.pb-input')`)
}

// screenshot saves a PNG of the viewport in the test's temp dir and, when
// PLAYBOOK_SCREENSHOT_DIR is set, there too.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	// Let the last bubble's entrance animation finish.
	time.Sleep(400 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("PLAYBOOK_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

// entry is what the widget keeps per transcript entry in localStorage.
type stored struct {
	Token        string `json:"token"`
	Conversation string `json:"conversation"`
	Last         string `json:"last"`
	Entries      []struct {
		ID   string `json:"id"`
		From string `json:"from"`
		Text string `json:"text"`
	} `json:"entries"`
}

func storedConversation(t *testing.T, ctx context.Context, e *env) stored {
	t.Helper()
	raw := eval[string](t, ctx, `localStorage.getItem('playbook:' + location.origin + '/:website-sales') || ''`)
	var st stored
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("the widget's localStorage entry %q: %v", raw, err)
	}
	return st
}

// shownLines is the conversation as the widget shows it: "bot: …",
// "visitor: …" and "system: …" lines.
func shownLines(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `[...`+sr+`.querySelectorAll('.pb-bubble, .pb-sys')].map(n =>
		(n.classList.contains('pb-sys') ? 'system' : n.closest('.pb-visitor') ? 'visitor' : 'bot') + ': ' + n.textContent)`)
}

func TestWidgetSalesConversationSurvivesReload(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	waitFor(t, ctx, "the dialog", sr+`.querySelector('[role=dialog]').getAttribute('aria-labelledby') === 'pb-title' && getComputedStyle(`+sr+`.querySelector('.pb-window')).visibility === 'visible'`)
	waitFor(t, ctx, "the focus in the composer", sr+`.activeElement === `+sr+`.querySelector('.pb-input')`)
	waitFor(t, ctx, "the greeting", botSaid("Hi there! What brings you here?"))
	waitFor(t, ctx, "the bot's name in the header", sr+`.querySelector('#pb-title').textContent === 'Ava'`)

	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	waitFor(t, ctx, "an email keyboard", sr+`.querySelector('.pb-input').type === 'email'`)
	waitFor(t, ctx, "the old buttons disabled", sr+`.querySelectorAll('.pb-btn:not(:disabled)').length === 0`)

	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	waitFor(t, ctx, "the size question", botSaid("How many people work at your company?"))
	clickButton(t, ctx, `the "51-200" button`, "51-200")
	waitFor(t, ctx, "the budget question", botSaid("What's your monthly budget in USD?"))
	waitFor(t, ctx, "a decimal keyboard", sr+`.querySelector('.pb-input').inputMode === 'decimal'`)
	waitFor(t, ctx, "every message delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)
	screenshot(t, ctx, "widget.png")

	before := shownLines(t, ctx)
	st := storedConversation(t, ctx, e)
	if st.Token == "" || st.Conversation == "" {
		t.Fatalf("no token or conversation in localStorage: %+v", st)
	}

	// Reload mid-conversation: the chat reopens with the same transcript.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the chat open again after the reload", sr+`.querySelector('.pb').classList.contains('pb-open')`)
	waitFor(t, ctx, "the budget question restored", botSaid("What's your monthly budget in USD?"))
	waitFor(t, ctx, "the conversation resumed", sr+`.querySelector('.pb-sub').textContent !== 'Reconnecting…'`)
	time.Sleep(300 * time.Millisecond) // anything the server replays would be shown by now
	after := shownLines(t, ctx)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("after the reload the widget shows\n%s\nwant (as before)\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if n := eval[int](t, ctx, sr+`.querySelectorAll('.pb-visitor').length`); n != 3 {
		t.Fatalf("%d visitor messages after the reload, want 3 (Talk to sales, the email, 51-200)\n%s", n, transcriptText(ctx))
	}

	// ...and goes on where it was.
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "2500")
	waitFor(t, ctx, "the timeline question", botSaid("When would you like to get started? (a date like 2026-03-01)"))
	start := time.Now().AddDate(0, 2, 0).Format("2006-01-02")
	typeAndSend(t, ctx, start)
	waitFor(t, ctx, "the capture message", botSaid("Our team is away right now. We'll email ana@acme.io within one business day."))
	waitFor(t, ctx, `"Conversation ended"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation ended')`)
	waitFor(t, ctx, `the "Start a new conversation" button`, sr+`.querySelector('.pb-restart').offsetParent !== null`)

	want := []string{
		"bot: Hi there! What brings you here?",
		"visitor: Talk to sales",
		"bot: What's your work email?",
		"visitor: ana@acme.io",
		"bot: How many people work at your company?",
		"visitor: 51-200",
		"bot: What's your monthly budget in USD?",
		"visitor: 2500",
		"bot: When would you like to get started? (a date like 2026-03-01)",
		"visitor: " + start,
		"bot: Our team is away right now. We'll email ana@acme.io within one business day.",
		"system: Conversation ended",
	}
	if got := shownLines(t, ctx); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the widget shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	st = storedConversation(t, ctx, e)
	seen := map[string]bool{}
	for _, en := range st.Entries {
		if seen[en.ID] {
			t.Errorf("entry %s stored twice in localStorage", en.ID)
		}
		seen[en.ID] = true
	}
	sess, _, err := e.store.Load(ctx, st.Conversation)
	if err != nil {
		t.Fatalf("loading conversation %s: %v", st.Conversation, err)
	}
	if sess.Status != "ended" || sess.Outcome != "qualified" {
		t.Errorf("conversation %s: status %q, outcome %q; want ended, qualified", st.Conversation, sess.Status, sess.Outcome)
	}
}

func TestWidgetShowsMarkupAsText(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	waitFor(t, ctx, "the greeting", botSaid("Hi there! What brings you here?"))
	const evil = `<img src=x onerror=alert(1)>`
	typeAndSend(t, ctx, evil)
	// The server stores it, echoes it, and the bot answers (it is no choice).
	waitFor(t, ctx, "the message delivered", sr+`.querySelector('.pb-visitor .pb-meta') && `+sr+`.querySelector('.pb-visitor .pb-meta').textContent === 'Sent'`)
	waitFor(t, ctx, "the bot's answer", sr+`.querySelectorAll('.pb-bot .pb-bubble').length >= 2`)
	time.Sleep(300 * time.Millisecond)
	got := eval[[]string](t, ctx, `[...`+sr+`.querySelectorAll('.pb-visitor .pb-bubble')].map(b => b.textContent)`)
	if len(got) != 1 || got[0] != evil {
		t.Fatalf("visitor bubbles %q, want exactly [%q]", got, evil)
	}
	if n := eval[int](t, ctx, sr+`.querySelector('.pb-visitor .pb-bubble').childElementCount`); n != 0 {
		t.Errorf("the visitor's bubble has %d child elements, want none (text only)", n)
	}
	imgs := eval[[]string](t, ctx, `[...document.querySelectorAll('img'), ...`+sr+`.querySelectorAll('img')].map(i => i.getAttribute('src'))`)
	for _, src := range imgs {
		if src == "x" {
			t.Errorf("an <img src=x> element was created: %q", imgs)
		}
	}
	if eval[bool](t, ctx, `'__pwned' in window`) {
		t.Error("script ran")
	}
}

func TestWidgetOnAPhone(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait),
		chromedp.Navigate(e.url+"/"),
	); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	waitFor(t, ctx, "the greeting", botSaid("Hi there! What brings you here?"))
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	waitFor(t, ctx, "the size question", botSaid("How many people work at your company?"))
	waitFor(t, ctx, "every message delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)

	rect := eval[[]float64](t, ctx, `(() => { const r = `+sr+`.querySelector('.pb-window').getBoundingClientRect(); return [r.x, r.y, r.width, r.height, innerWidth, innerHeight] })()`)
	if rect[0] != 0 || rect[1] != 0 || rect[2] != rect[4] || rect[3] != rect[5] {
		t.Errorf("on a 390px screen the window is at %v, want full screen (0, 0, %v, %v)", rect[:4], rect[4], rect[5])
	}
	if fs := eval[string](t, ctx, `getComputedStyle(`+sr+`.querySelector('.pb-input')).fontSize`); fs != "16px" {
		t.Errorf("composer font size %s, want 16px (smaller makes iOS zoom in)", fs)
	}
	if w := eval[[]float64](t, ctx, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("the page scrolls sideways: scrollWidth %v > innerWidth %v", w[0], w[1])
	}
	if o := eval[[]float64](t, ctx, `(() => { const l = `+sr+`.querySelector('.pb-log'); return [l.scrollWidth, l.clientWidth] })()`); o[0] > o[1] {
		t.Errorf("the messages scroll sideways: scrollWidth %v > clientWidth %v", o[0], o[1])
	}
	screenshot(t, ctx, "widget-phone.png")

	// Escape closes the chat and gives the focus back to the launcher.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b")); err != nil { // kb: Escape
		t.Fatal(err)
	}
	waitFor(t, ctx, "the chat closed", `!`+sr+`.querySelector('.pb').classList.contains('pb-open')`)
	waitFor(t, ctx, "the focus on the launcher", sr+`.activeElement === `+sr+`.querySelector('.pb-launcher')`)
}

func TestWidgetCampaign(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/pricing")); err != nil {
		t.Fatal(err)
	}
	// website-sales: pages /pricing*, delay 5s, first-time visitors.
	waitFor(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	// Not before its delay: the page is at least 5 s old (performance.now
	// counts from the navigation, before the widget's timer started) when
	// the campaign is first seen. A busy machine only sees it later.
	if eval[bool](t, ctx, `!`+sr+`.querySelector('.pb-campaign').hidden && performance.now() < 5000`) {
		t.Fatal("the campaign shows before its 5s delay")
	}
	waitFor(t, ctx, "the campaign", `!`+sr+`.querySelector('.pb-campaign').hidden && `+sr+`.querySelector('.pb-camp-text').textContent === 'Questions about pricing? Ask us!'`)
	if ms := eval[float64](t, ctx, `performance.now()`); ms < 5000 {
		t.Fatalf("the campaign showed %.0f ms after the page opened, before its 5s delay", ms)
	}
	screenshot(t, ctx, "widget-campaign.png")
	click(t, ctx, "the campaign", sr+`.querySelector('.pb-camp-body')`)
	waitFor(t, ctx, "the chat open", sr+`.querySelector('.pb').classList.contains('pb-open') && `+sr+`.querySelector('.pb-campaign').hidden`)
	waitFor(t, ctx, "the greeting", botSaid("Hi there! What brings you here?"))
}

func TestWidgetReconnectsAndResends(t *testing.T) {
	e := startServer(t)
	p := newProxy(t, strings.TrimPrefix(e.url, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	conv := storedConversation(t, ctx, e).Conversation

	// The answer reaches the server but its ack is lost; then the network goes.
	p.setMute(true)
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	visitorEntries := func(text string) int {
		entries, err := e.store.Transcript(ctx, conv, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range entries {
			if en.From == "visitor" && en.Text == text {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for visitorEntries("ana@acme.io") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server never stored the email")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if eval[int](t, ctx, sr+`.querySelectorAll('.pb-pending').length`) != 1 {
		t.Fatalf("the email should still wait for its ack\n%s", transcriptText(ctx))
	}
	p.setDown(true)
	p.cut()
	waitFor(t, ctx, `"Reconnecting…"`, sr+`.querySelector('.pb-sub').textContent === 'Reconnecting…'`)

	// A message typed while offline waits too.
	p.setMute(false)
	p.setDown(false)
	waitFor(t, ctx, "the size question, after the resend", botSaid("How many people work at your company?"))
	waitFor(t, ctx, "the email delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)
	waitFor(t, ctx, "the header back to normal", sr+`.querySelector('.pb-sub').textContent === 'Replies instantly'`)
	if n := visitorEntries("ana@acme.io"); n != 1 {
		t.Errorf("the server stored the email %d times, want once (the resend has the same client id)", n)
	}

	p.setDown(true)
	p.cut()
	waitFor(t, ctx, `"Reconnecting…"`, sr+`.querySelector('.pb-sub').textContent === 'Reconnecting…'`)
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "51-200")
	waitFor(t, ctx, "the offline message pending", sr+`.querySelectorAll('.pb-pending').length === 1`)
	p.setDown(false)
	waitFor(t, ctx, "the budget question", botSaid("What's your monthly budget in USD?"))
	waitFor(t, ctx, "everything delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)

	want := []string{
		"bot: Hi there! What brings you here?",
		"visitor: Talk to sales",
		"bot: What's your work email?",
		"visitor: ana@acme.io",
		"bot: How many people work at your company?",
		"visitor: 51-200",
		"bot: What's your monthly budget in USD?",
	}
	if got := shownLines(t, ctx); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the widget shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWidgetMovesOnWhenItsServerDrains: the widget's server drains (a
// graceful restart) and closes its socket with 1012; the widget reconnects
// at once to the other server of the deployment (a proxy stands in for the
// load balancer), resumes, and the conversation goes on there with nothing
// lost or shown twice.
func TestWidgetMovesOnWhenItsServerDrains(t *testing.T) {
	a := startServer(t)
	b := startServer(t, func(c *servertest.Config) {
		c.Engine = a.srv.App().Engine()
		c.Options.Prefix = a.prefix
	})
	p := newProxy(t, strings.TrimPrefix(a.url, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+p.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	conv := storedConversation(t, ctx, a).Conversation

	// The load balancer sends new connections to B; A drains.
	p.setTarget(strings.TrimPrefix(b.url, "http://"))
	if err := a.srv.Drain(ctx); err != nil {
		t.Fatalf("A's drain: %v", err)
	}
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana@acme.io")
	waitFor(t, ctx, "the size question, from B", botSaid("How many people work at your company?"))
	waitFor(t, ctx, "the email delivered", sr+`.querySelectorAll('.pb-pending').length === 0`)
	want := []string{
		"bot: Hi there! What brings you here?",
		"visitor: Talk to sales",
		"bot: What's your work email?",
		"visitor: ana@acme.io",
		"bot: How many people work at your company?",
	}
	if got := shownLines(t, ctx); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the widget shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	entries, err := a.store.Transcript(ctx, conv, "", 200) // B runs on A's store
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if en.From == "visitor" && en.Text == "ana@acme.io" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the store holds the email %d times, want once", n)
	}
}

func TestWidgetStartsOverWithABadToken(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browser(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	clickButton(t, ctx, `the "Talk to sales" button`, "Talk to sales")
	waitFor(t, ctx, "the email question", botSaid("What's your work email?"))
	old := storedConversation(t, ctx, e).Conversation

	// A forged token: the server answers bad_token and the widget starts over.
	eval[bool](t, ctx, `(() => { const k = 'playbook:' + location.origin + '/:website-sales'; const s = JSON.parse(localStorage.getItem(k)); s.token = s.conversation + '.9999999999.forged'; localStorage.setItem(k, JSON.stringify(s)); return true })()`)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a new conversation", `(() => { const s = JSON.parse(localStorage.getItem('playbook:' + location.origin + '/:website-sales')); return s.conversation && s.conversation !== `+"'"+old+"'"+` })()`)
	waitFor(t, ctx, "the greeting again", botSaid("Hi there! What brings you here?"))
	want := []string{"bot: Hi there! What brings you here?"}
	if got := shownLines(t, ctx); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after a bad token the widget shows\n%s\nwant only the new greeting", strings.Join(got, "\n"))
	}
}

func TestWidgetSpeaksTheBrowsersLanguage(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browserIn(t, ctx, "es-ES")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	if lang := eval[string](t, ctx, `navigator.language`); lang != "es-ES" {
		t.Skipf("Chromium ignored --lang=es-ES (navigator.language is %q)", lang)
	}
	waitFor(t, ctx, "a Spanish launcher", sr+`.querySelector('.pb-launcher').getAttribute('aria-label') === 'Abrir el chat'`)
	click(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	waitFor(t, ctx, "the Spanish greeting", botSaid("¡Hola! ¿Qué te trae por aquí?"))
	waitFor(t, ctx, "the conversation's language on the log", sr+`.querySelector('.pb-log').lang === 'es'`)
	waitFor(t, ctx, "a Spanish composer", sr+`.querySelector('.pb-input').placeholder === 'Escribe un mensaje…' && `+sr+`.querySelector('.pb-close').getAttribute('aria-label') === 'Cerrar el chat'`)
	clickButton(t, ctx, `the "Hablar con ventas" button`, "Hablar con ventas")
	waitFor(t, ctx, "the email question in Spanish", botSaid("¿Cuál es tu correo de trabajo?"))
	waitFor(t, ctx, "a Spanish email hint", sr+`.querySelector('.pb-input').placeholder === 'nombre@empresa.com'`)

	// A client-side hint before sending something that is no email.
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "ana at acme")
	waitFor(t, ctx, "the email hint", `!`+sr+`.querySelector('.pb-hint').hidden && `+sr+`.querySelector('.pb-input').getAttribute('aria-invalid') === 'true'`)
	if n := eval[int](t, ctx, sr+`.querySelectorAll('.pb-visitor').length`); n != 1 {
		t.Fatalf("%d visitor messages, want 1: the bad email must wait for a second Enter", n)
	}
	// Enter again sends it anyway; the server decides.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the server's own hint", botSaid("Hmm, that doesn't look like an email."))
}
