package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWidgetLanguageFromTheFirstMessage (issue 14): a visitor whose
// browser speaks English and who writes Spanish gets the playbook's
// Spanish texts from then on, in the real widget.
func TestWidgetLanguageFromTheFirstMessage(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx = browserIn(t, ctx, "en-US")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	if lang := eval[string](t, ctx, `navigator.language`); lang != "en-US" {
		t.Skipf("Chromium ignored --lang=en-US (navigator.language is %q)", lang)
	}
	waitFor(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
	eval[bool](t, ctx, `(Playbook.start('support-faq'), true)`)
	waitFor(t, ctx, "the English greeting", botSaid("Hi, I'm Leo. Ask me anything about your account, billing or orders."))
	waitFor(t, ctx, "the question", botSaid("What's your question?"))
	focusComposer(t, ctx)
	typeAndSend(t, ctx, "Hola, necesito ayuda con los precios")
	waitFor(t, ctx, "the answer in Spanish", `[...`+sr+`.querySelectorAll('.pb-bot .pb-bubble')].some(b => b.textContent.startsWith('Los planes empiezan') || b.textContent.startsWith('Perdona, no estoy seguro'))`)
	axeClean(t, ctx, "the widget answering in Spanish")
}
