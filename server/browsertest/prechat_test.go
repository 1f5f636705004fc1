package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWidgetPrechatForm: the callback-request playbook's pre-chat form is
// shown before the bot says anything, with labels and errors next to the
// fields; its email reaches visitor.email, so the bot skips its email
// question. Checked with axe-core, at 1280 px and at 375 px.
func TestWidgetPrechatForm(t *testing.T) {
	e := startServer(t)
	for _, size := range []struct {
		name string
		w, h int64
		shot string
	}{{"desktop", 1280, 800, "widget-prechat.png"}, {"phone", 375, 740, "widget-prechat-phone.png"}} {
		t.Run(size.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			ctx = browser(t, ctx)
			opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if size.w < 480 {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
			}
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h, opts...), chromedp.Navigate(e.url+"/")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "the launcher", sr+`.querySelector('.pb-launcher')`)
			eval[bool](t, ctx, `(Playbook.start('callback-request'), true)`)
			form := sr + `.querySelector('.pb-prechat')`
			waitFor(t, ctx, "the pre-chat form", form+` && `+form+`.querySelector('#pb-pc-consent')`)
			if n := eval[float64](t, ctx, sr+`.querySelectorAll('.pb-bot .pb-bubble').length`); n != 0 {
				t.Fatalf("the bot spoke (%v bubbles) before the form was sent", n)
			}
			// Every field has a label the screen reader reads.
			labels := eval[[]string](t, ctx, `[...`+form+`.querySelectorAll('input')].map(i => (`+sr+`.querySelector('label[for="' + i.id + '"]') || {}).textContent || '')`)
			want := []string{"Name (optional)", "Work email (optional)", "Phone (optional)", "I agree to be contacted about my request"}
			if len(labels) != len(want) {
				t.Fatalf("labels %q, want %q", labels, want)
			}
			for i := range want {
				if labels[i] != want[i] {
					t.Errorf("label %d = %q, want %q", i, labels[i], want[i])
				}
			}
			// A bad email and the unticked box: errors next to their fields.
			click(t, ctx, "the email field", sr+`.querySelector('#pb-pc-email')`)
			if err := chromedp.Do(ctx, chromedp.KeyEvent("ana@")); err != nil {
				t.Fatal(err)
			}
			click(t, ctx, "the start button", sr+`.querySelector('.pb-pc-submit')`)
			waitFor(t, ctx, "the email error", sr+`.querySelector('#pb-pc-email-err').textContent.includes('email address') && `+sr+`.querySelector('#pb-pc-email').getAttribute('aria-invalid') === 'true'`)
			waitFor(t, ctx, "the consent error", sr+`.querySelector('#pb-pc-consent-err').textContent !== ''`)
			if id := eval[string](t, ctx, sr+`.activeElement.id`); id != "pb-pc-email" {
				t.Errorf("focus on %q after a refused form, want the first bad field", id)
			}
			axeClean(t, ctx, "the pre-chat form with errors ("+size.name+")")
			if w := eval[[]float64](t, ctx, `(() => { const l = `+sr+`.querySelector('.pb-log'); return [l.scrollWidth, l.clientWidth] })()`); w[0] > w[1] {
				t.Errorf("the form scrolls sideways: scrollWidth %v > clientWidth %v", w[0], w[1])
			}
			if err := chromedp.Do(ctx, chromedp.KeyEvent("acme.io")); err != nil {
				t.Fatal(err)
			}
			click(t, ctx, "the name field", sr+`.querySelector('#pb-pc-name')`)
			if err := chromedp.Do(ctx, chromedp.KeyEvent("Ana")); err != nil {
				t.Fatal(err)
			}
			click(t, ctx, "the consent box", sr+`.querySelector('#pb-pc-consent')`)
			waitFor(t, ctx, "the errors gone once the fields are fixed", sr+`.querySelector('#pb-pc-email-err').textContent === '' && `+sr+`.querySelector('#pb-pc-consent-err').textContent === '' && !`+sr+`.querySelector('[aria-invalid]')`)
			screenshot(t, ctx, size.shot)
			click(t, ctx, "the start button", sr+`.querySelector('.pb-pc-submit')`)
			waitFor(t, ctx, "the greeting with the form's name", botSaid("Hi Ana!"))
			waitFor(t, ctx, "the topic question, the email one skipped", botSaid("What should we get back to you about?"))
			if eval[bool](t, ctx, botSaid("What's your email, so we can write back?")) {
				t.Fatal("the bot asked for the email the form gave")
			}
			waitFor(t, ctx, "the form gone and the composer back", `!`+form+` && !`+sr+`.querySelector('.pb-composer').hidden`)
			focusComposer(t, ctx)
			typeAndSend(t, ctx, "a quote")
			waitFor(t, ctx, "the thanks with visitor.email", botSaid("Thanks! We'll write to ana@acme.io about it."))
		})
	}
}
