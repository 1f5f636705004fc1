package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPagesWorkUnderTheirCSP: the demo page (its "Chat with sales" button
// opens the widget) and the inbox (sign-in, folders) work under the
// Content-Security-Policy the server sends; browserIn fails the test on
// any violation the browser reports.
func TestPagesWorkUnderTheirCSP(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := browser(t, ctx)
	if err := chromedp.Do(b, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "the widget", sr+`.querySelector('.pb-launcher')`)
	waitFor(t, b, "the demo's stylesheet", `getComputedStyle(document.body).lineHeight !== 'normal'`)
	docClick(t, b, `"Chat with sales"`, `document.querySelector('[data-chat=website-sales]')`)
	waitFor(t, b, "the sales bot's greeting", sr+`.querySelector('.pb-bot .pb-bubble')`)
	signInToInbox(t, b, e, "sam@example.com")
	goOnline(t, b)
}
