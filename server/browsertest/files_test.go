package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/store/blobdir"
)

// A 1x1 PNG (so the browsers decode it) and a small PDF.
const (
	pngB64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
	pdfSrc = "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

// fileJS is JavaScript for a DataTransfer holding one file: name, type,
// and its bytes from base64.
func fileJS(name, typ, b64 string) string {
	return `(() => { const b = Uint8Array.from(atob(` + js(b64) + `), c => c.charCodeAt(0)); const dt = new DataTransfer();
		dt.items.add(new File([b], ` + js(name) + `, {type: ` + js(typ) + `})); return dt })()`
}

// TestAttachmentsInTheWidgetAndTheInbox (issue 14, "attachments both
// ways"): the visitor drops an image on the widget, the agent attaches a
// PDF with the composer's paperclip. Each side shows the image as a
// thumbnail that opens it and the PDF as a link (name, size) that
// downloads it; a file over the limit and a type the server refuses get
// clear errors in both UIs; another team's agent gets 403; the visitor's
// link expires and the widget gets a fresh one when it loads again.
func TestAttachmentsInTheWidgetAndTheInbox(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	files, err := blobdir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := startServer(t, func(c *servertest.Config) {
		c.Hours = allOpen{}
		c.Options.Now = clk.now
		c.Options.Files = files
		c.Options.FileLimits.MaxSize = 64 << 10
	})
	addInboxAgent(t, e, "sam@example.com", "Sam Lee")
	sue := signInAgent(t, e, "Sue", "support")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	agent := browser(t, ctx)
	visitor := browser(t, ctx)
	signInToInbox(t, agent, e, "sam@example.com")
	goOnline(t, agent)
	conv := salesToHandoff(t, visitor, e)
	item := `document.querySelector('#conv-list .item[data-id=` + js(conv) + `]')`
	waitFor(t, agent, "the new chat in Unassigned", item)
	docClick(t, agent, "the chat", item)
	waitFor(t, agent, "the conversation open", `!document.getElementById('conv').hidden`)
	docClick(t, agent, `"Assign to me"`, `document.querySelector('#conv-banner [data-action=assign-me]')`)
	waitFor(t, visitor, "Sam joined", sr+`.querySelector('.pb-sub').textContent !== 'Waiting for a teammate…'`)

	// The visitor: a file too big, then the image, dropped on the window.
	drop := func(dt string) {
		_ = eval[bool](t, visitor, `(() => { const w = `+sr+`.querySelector('.pb-window'); const dt = `+dt+`;
			w.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
			return w.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})) })()`)
	}
	big := base64.StdEncoding.EncodeToString(append(mustB64(t, pngB64), make([]byte, 70<<10)...))
	drop(fileJS("huge.png", "image/png", big))
	waitFor(t, visitor, "the widget's error", `!`+sr+`.querySelector('.pb-hint').hidden && `+sr+`.querySelector('.pb-hint').textContent === 'huge.png was not sent: this file is larger than 64 KB, the most a file may be'`)
	axeClean(t, visitor, "the widget with a refused file")
	drop(fileJS("screenshot.png", "image/png", base64.StdEncoding.EncodeToString(chartPNG(t))))
	visitorImg := sr + `.querySelector('.pb-visitor .pb-imglink img')`
	waitFor(t, visitor, "the image in the widget", visitorImg+`.complete && `+visitorImg+`.naturalWidth === 320 && `+sr+`.querySelector('.pb-hint').hidden`)
	agentImg := `document.querySelector('#timeline .msg.in .file-img img')`
	waitFor(t, agent, "the image in the inbox", agentImg+`.complete && `+agentImg+`.naturalWidth === 320 && `+agentImg+`.alt === 'screenshot.png'`)
	if href, src := eval[string](t, agent, agentImg+`.parentElement.href`), eval[string](t, agent, agentImg+`.src`); href != src || !strings.Contains(href, "/api/conversations/"+conv+"/files/") {
		t.Fatalf("the inbox's thumbnail opens %q, shows %q", href, src)
	}

	// The agent: a type the server refuses, then the PDF, by the paperclip.
	attach := func(dt string) {
		_ = eval[bool](t, agent, `(() => { const i = document.getElementById('file-input'); i.files = `+dt+`.files; return i.dispatchEvent(new Event('change')) })()`)
	}
	docClick(t, agent, "the paperclip", `document.getElementById('attach-btn')`) // opens the chooser; the test sets the files below
	attach(fileJS("page.html", "text/html", base64.StdEncoding.EncodeToString([]byte("<html><script>alert(1)</script></html>"))))
	waitFor(t, agent, "the inbox's error", `!document.getElementById('composer-error').hidden && document.getElementById('composer-error').textContent.startsWith('page.html was not sent: files of this type (text/html) are not allowed')`)
	attach(fileJS("quote.pdf", "application/pdf", base64.StdEncoding.EncodeToString([]byte(pdfSrc))))
	waitFor(t, agent, "the PDF in the inbox", `[...document.querySelectorAll('#timeline .msg.out .file-link .file-name')].some(n => n.textContent === 'quote.pdf') && document.getElementById('composer-error').hidden`)
	link := sr + `.querySelector('.pb-agent .pb-file')`
	waitFor(t, visitor, "the PDF in the widget", link+` && `+link+`.querySelector('.pb-fname').textContent === 'quote.pdf' && `+link+`.querySelector('.pb-fsize').textContent === '`+fmtB(len(pdfSrc))+`' && `+link+`.download === 'quote.pdf'`)
	// The link downloads: an attachment of the PDF's type, nothing to run.
	code, h, body := fetchURL(t, nil, eval[string](t, visitor, link+`.href`))
	if code != 200 || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || body != pdfSrc {
		t.Fatalf("the widget's PDF link: %d %v %q", code, h, body)
	}
	// Contrast is checked once the new rows' entrance (a fade) is over.
	waitFor(t, visitor, "the rows settled", sr+`.getAnimations().every(a => a.playState !== 'running' || a.effect.getComputedTiming().iterations === Infinity)`)
	axeClean(t, visitor, "the widget with an image and a PDF")
	axeClean(t, agent, "the inbox with an image and a PDF")
	screenshot(t, visitor, "widget-attachment.png")
	noToasts(t, agent)
	screenshot(t, agent, "inbox-attachment.png")

	// Another team's agent: 403 on the file, as on the chat.
	file := e.url + eval[string](t, agent, agentImg+`.parentElement.getAttribute('href')`)
	if code, _, _ := fetchURL(t, sue.http, file); code != 403 {
		t.Fatalf("another team's agent downloads the image: %d, want 403", code)
	}

	// At 375 px.
	phoneView(t, agent, "the chat with attachments")
	_ = eval[bool](t, agent, `(() => { const tl = document.getElementById('timeline'); tl.scrollTop = tl.scrollHeight; return true })()`)
	screenshot(t, agent, "inbox-attachment-phone.png")
	if err := chromedp.Do(visitor, chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(visitor, chromedp.Reload()); err != nil { // the widget lays out for the phone on load
		t.Fatal(err)
	}
	waitFor(t, visitor, "the image again, on the phone", visitorImg+` && `+visitorImg+`.complete && `+visitorImg+`.naturalWidth === 320`)
	if w := eval[[]float64](t, visitor, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("the widget at 375 px: scrollWidth, innerWidth = %v", w)
	}
	screenshot(t, visitor, "widget-attachment-phone.png")

	// The visitor's link expires (15 minutes): refused; loaded again, the
	// widget asks for the file again and gets a fresh link.
	old := eval[string](t, visitor, visitorImg+`.src`)
	clk.advance(20 * time.Minute)
	if code, _, body := fetchURL(t, nil, old); code != 403 || !strings.Contains(body, "expired") {
		t.Fatalf("an expired link: %d %s, want 403 expired", code, body)
	}
	if err := chromedp.Do(visitor, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, visitor, "the image with a fresh link", visitorImg+` && `+visitorImg+`.src !== `+js(old)+` && `+visitorImg+`.complete && `+visitorImg+`.naturalWidth === 320`)
	if n := eval[int](t, visitor, `[...`+sr+`.querySelectorAll('.pb-imglink')].length`); n != 1 {
		t.Fatalf("the image is shown %d times after the fresh link, want once", n)
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fmtB is the widget's size of n bytes under 1 KB.
func fmtB(n int) string { return strconv.Itoa(n) + " B" }

// fetchURL GETs url with hc (nil: a client without cookies, as a link
// opened elsewhere would be).
func fetchURL(t *testing.T, hc *http.Client, url string) (int, http.Header, string) {
	t.Helper()
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// chartPNG is a 320x200 PNG of a bar chart, as a visitor's screenshot of a
// dashboard might be (a few KB: flat colours).
func chartPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{246, 247, 249, 255}), image.Point{}, draw.Src)
	for i, h := range []int{60, 110, 85, 150, 125, 170} {
		bar := image.Rect(24+i*48, 185-h, 56+i*48, 185)
		draw.Draw(img, bar, image.NewUniform(color.RGBA{11, 122, 117, 255}), image.Point{}, draw.Src)
	}
	draw.Draw(img, image.Rect(16, 185, 304, 187), image.NewUniform(color.RGBA{54, 66, 84, 255}), image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
