package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/internal/servertest"
)

// The waiting visitor (issue 11, item 20): one "Connecting…" line, their
// place in the team's queue, kept up to date as the queue moves, and a
// "Leave a message instead" button that runs the handoff card's offline
// path (and leaves the chat in the team's Missed folder).
func TestWidgetQueuePositionAndLeaveMessage(t *testing.T) {
	t.Parallel()
	e := startServer(t, func(c *servertest.Config) { c.Hours = allOpen{} })
	maria := signInAgent(t, e, "Maria", "sales") // online, through the API
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Lena waits first (no browser); Ana, in the real widget, second.
	lena, _ := wsVisitor(t, ctx, e, "Lena Fischer", "lena@initech.de", "Can we pay by invoice?")
	visitor := browser(t, ctx)
	conv := salesToHandoff(t, visitor, e)
	waitFor(t, visitor, "the waiting state", sr+`.querySelector('.pb-sub').textContent === 'Waiting for a teammate…'`)

	// One "Connecting…" line: the bot's.
	var connecting []string
	for _, l := range shownLines(t, visitor) {
		if strings.Contains(l, "Connecting") {
			connecting = append(connecting, l)
		}
	}
	if len(connecting) != 1 {
		t.Errorf("the widget shows %d \"Connecting…\" lines, want 1: %q", len(connecting), connecting)
	}

	// Her place in the queue, then the queue moves.
	queue := sr + `.querySelector('.pb-queue')`
	waitFor(t, visitor, "the place in the queue", `!`+queue+`.hidden && `+queue+`.querySelector('.pb-queue-text').textContent === "You're number 2 in line"`)
	if !eval[bool](t, visitor, queue+`.querySelector('.pb-queue-est').hidden`) {
		t.Errorf("an estimate (%q) before the team ever took a chat", eval[string](t, visitor, queue+`.querySelector('.pb-queue-est').textContent`))
	}
	maria.call("POST", "/api/conversations/"+lena+"/assign", map[string]any{})
	waitFor(t, visitor, "the new place in the queue", `!`+queue+`.hidden && `+queue+`.querySelector('.pb-queue-text').textContent === "You're next in line"`)
	// Lena waited a moment: the team's usual wait, from that pick-up.
	waitFor(t, visitor, "the usual wait", `!`+queue+`.querySelector('.pb-queue-est').hidden && `+queue+`.querySelector('.pb-queue-est').textContent === 'Usual wait: under a minute'`)
	axeClean(t, visitor, "the widget waiting in the queue")
	screenshot(t, visitor, "widget-queue.png")
	if err := chromedp.Do(visitor, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(1), chromedp.EmulateMobile, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	axeClean(t, visitor, "the widget waiting in the queue (375 px)")
	if w := eval[[]float64](t, visitor, `(() => { const q = `+queue+`; return [q.scrollWidth, q.clientWidth] })()`); w[0] > w[1] {
		t.Errorf("the queue line scrolls sideways at 375 px: %v > %v", w[0], w[1])
	}
	screenshot(t, visitor, "widget-queue-phone.png")

	// She leaves a message instead: the offline path runs at once.
	click(t, visitor, `"Leave a message instead"`, queue+`.querySelector('.pb-leave')`)
	waitFor(t, visitor, "the offline path", botSaid("Our team is away right now. We'll email ana@acme.io within one business day."))
	waitFor(t, visitor, "the queue gone", queue+`.hidden`)
	waitFor(t, visitor, `"Conversation ended"`, `[...`+sr+`.querySelectorAll('.pb-sys')].some(n => n.textContent === 'Conversation ended')`)
	waitFor(t, visitor, "her choice in the transcript", `[...`+sr+`.querySelectorAll('.pb-visitor .pb-bubble')].some(b => b.textContent === 'Leave a message instead')`)

	// The chat is missed, with the lead the offline path created.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := e.srv.App().Inbox().Conversation(ctx, conv)
		if err == nil && c.Status == "missed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the conversation after leaving a message: %+v, %v; want missed", c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, err := e.srv.App().Sessions().Transcript(ctx, conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	leads := 0
	for _, en := range entries {
		if en.Kind == "record" && en.Data["kind"] == "lead" {
			leads++
		}
	}
	if leads != 1 {
		t.Errorf("the offline path created %d leads, want 1", leads)
	}
}
