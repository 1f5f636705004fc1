package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/s3blob"
)

// A 1x1 PNG and a small PDF: real magic numbers, so the server's sniffing
// takes them.
var (
	pngFile = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
	pdfFile = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

// upload posts data as the "file" part of a multipart form named name
// (with the part's own Content-Type typ) to path, with hdr.
func upload(t *testing.T, hc *http.Client, url string, hdr http.Header, name, typ string, data []byte) (int, http.Header, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	// As a hostile client may send it: the name unescaped, or, when it
	// holds control characters, RFC 2231-encoded (which decodes to them).
	if strings.ContainsAny(name, "\r\n\x00") {
		h.Set("Content-Disposition", `form-data; name="file"; filename*=UTF-8''`+pctEncode(name))
	} else {
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.ReplaceAll(name, `"`, `\"`)+`"`)
	}
	h.Set("Content-Type", typ)
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (ac *agentClient) upload(conv, name, typ string, data []byte) (int, []byte) {
	ac.t.Helper()
	code, _, b := upload(ac.t, ac.http, ac.ts.url+"/api/conversations/"+conv+"/files", http.Header{"X-Csrf-Token": {ac.csrf}}, name, typ, data)
	return code, b
}

func visitorUpload(t *testing.T, ts *testServer, token, name, typ string, data []byte) (int, []byte) {
	t.Helper()
	code, _, b := upload(t, http.DefaultClient, ts.url+"/api/widget/files?client_id="+neturl.QueryEscape("f-"+name), http.Header{"Authorization": {"Bearer " + token}}, name, typ, data)
	return code, b
}

func fetch(t *testing.T, hc *http.Client, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestAttachmentsBothWays: the visitor sends an image, the agent a PDF;
// each is a "file" entry on both sides; the visitor downloads by a signed
// URL, agents by the conversation rule (another team's agent: 403); an
// image is inline, a PDF an attachment, both nosniff and sandboxed.
func TestAttachmentsBothWays(t *testing.T) {
	w := newTwoTeams(t)
	feed := w.sam.feed()
	feed.send(map[string]any{"type": "follow", "conversation": w.conv})
	feed.entryOf("note", "agent")

	code, b := visitorUpload(t, w.ts, w.token, "photo.png", "image/png", pngFile)
	if code != 200 {
		t.Fatalf("visitor upload: %d %s", code, b)
	}
	var up map[string]any
	json.Unmarshal(b, &up)
	// The visitor's widget and the agent's feed both get the entry.
	ve := w.v.entryOf("file", "visitor")
	ae := feed.entryOf("file", "visitor")
	vd, ad := ve["data"].(map[string]any), ae["data"].(map[string]any)
	if vd["name"] != "photo.png" || vd["type"] != "image/png" || vd["size"] != float64(len(pngFile)) || ad["file"] != vd["file"] || ve["id"] != up["id"] {
		t.Fatalf("visitor's entry %v, agent's %v, upload answer %v", ve, ae, up)
	}
	img := vd["url"].(string)
	code, h, got := fetch(t, http.DefaultClient, w.ts.url+img)
	if code != 200 || !bytes.Equal(got, pngFile) || h.Get("Content-Type") != "image/png" || !strings.HasPrefix(h.Get("Content-Disposition"), "inline;") ||
		h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("visitor's download: %d %v (%d bytes)", code, h, len(got))
	}
	file := "/api/conversations/" + w.conv + "/files/" + vd["file"].(string)
	for _, who := range []struct {
		name string
		ac   *agentClient
		want int
	}{{"same team", w.kim, 200}, {"admin", w.admin, 200}, {"other team", w.sue, 403}, {"marketer", w.mia, 403}} {
		if code, b := who.ac.do("GET", file, nil); code != who.want || code == 200 && !bytes.Equal(b, pngFile) {
			t.Errorf("%s downloads the visitor's image: %d, want %d", who.name, code, who.want)
		}
	}
	// The agent's PDF, with a client id: the visitor gets it without the
	// author's id; the download is an attachment.
	code, b = w.sam.upload(w.conv, "Angebot Q3.pdf", "application/pdf", pdfFile)
	if code != 200 {
		t.Fatalf("agent upload: %d %s", code, b)
	}
	pe := w.v.entryOf("file", "agent")
	pd := pe["data"].(map[string]any)
	if pe["author"] != "Sam" || pd["type"] != "application/pdf" || pd["name"] != "Angebot Q3.pdf" || pd[conversation.AuthorIDKey] != nil {
		t.Fatalf("the visitor's entry of the agent's file: %v", pe)
	}
	code, h, got = fetch(t, http.DefaultClient, w.ts.url+pd["url"].(string))
	if code != 200 || !bytes.Equal(got, pdfFile) || h.Get("Content-Type") != "application/pdf" ||
		h.Get("Content-Disposition") != `attachment; filename="Angebot Q3.pdf"; filename*=UTF-8''Angebot%20Q3.pdf` {
		t.Fatalf("visitor's PDF download: %d %v", code, h)
	}
	if code, _ := w.sue.upload(w.conv, "x.pdf", "application/pdf", pdfFile); code != 403 {
		t.Fatalf("another team's agent uploads into the chat: %d, want 403", code)
	}
	// In the transcript (the agents' copy) with the author's id.
	var entries []map[string]any
	json.Unmarshal(w.sam.ok("GET", "/api/conversations/"+w.conv+"/transcript", nil), &entries)
	files := 0
	for _, e := range entries {
		if e["kind"] == "file" {
			files++
		}
	}
	if files != 2 {
		t.Fatalf("the transcript has %d file entries, want 2", files)
	}
	// A signed URL opens its own file only: the image's signature on the
	// PDF's path is refused, and so is a URL without a signature.
	bad := strings.Replace(img, vd["file"].(string), pd["file"].(string), 1)
	if code, _, _ := fetch(t, http.DefaultClient, w.ts.url+bad); code != 403 {
		t.Fatalf("the image's signature on the PDF: %d, want 403", code)
	}
	if code, _, _ := fetch(t, http.DefaultClient, w.ts.url+strings.Split(img, "?")[0]); code != 403 {
		t.Fatalf("no signature: %d, want 403", code)
	}
}

// TestVisitorFileURLs: a visitor's download URL expires (FileLimits.URLTTL)
// and a fresh one comes with the transcript on resume.
func TestVisitorFileURLs(t *testing.T) {
	var skew atomic.Int64
	ts := startServer(t, redistest.New(t), "../playbooks/bench", func(c *servertest.Config) {
		c.Options.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		c.Options.FileLimits.URLTTL = time.Minute
	})
	v := dial(t, ts)
	token, _ := v.start("qualify")
	v.bot("Hi! What brings you here?")
	if code, b := visitorUpload(t, ts, token, "a.png", "image/png", pngFile); code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	url := v.entryOf("file", "visitor")["data"].(map[string]any)["url"].(string)
	if code, _, _ := fetch(t, http.DefaultClient, ts.url+url); code != 200 {
		t.Fatalf("a fresh URL: %d", code)
	}
	skew.Store(int64(2 * time.Minute))
	code, _, b := fetch(t, http.DefaultClient, ts.url+url)
	if code != 403 || !strings.Contains(string(b), "expired") {
		t.Fatalf("an expired URL: %d %s, want 403 expired", code, b)
	}
	// Resuming brings the file again, with a URL valid from now.
	v2 := dial(t, ts)
	v2.send(map[string]any{"type": "resume", "token": token})
	fresh := v2.entryOf("file", "visitor")["data"].(map[string]any)["url"].(string)
	if code, _, _ := fetch(t, http.DefaultClient, ts.url+fresh); code != 200 || fresh == url {
		t.Fatalf("the resumed URL: %d (same as the expired one: %v)", code, fresh == url)
	}
}

// TestAttachmentLimits: too big, a forbidden type (whatever the client
// says it is), empty, no token, a bad token, another site: clear errors,
// nothing in the transcript.
func TestAttachmentLimits(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench", func(c *servertest.Config) {
		c.Options.FileLimits.MaxSize = 1000
	})
	v := dial(t, ts)
	token, conv := v.start("qualify")
	v.bot("Hi! What brings you here?")
	big := append(append([]byte{}, pngFile...), bytes.Repeat([]byte{0}, 1000)...)
	for _, tc := range []struct {
		name, typ string
		data      []byte
		code      int
		msg       string
	}{
		{"big.png", "image/png", big, 413, "larger than 1000 bytes"},
		{"huge.png", "image/png", bytes.Repeat([]byte{1}, 200<<10), 413, "larger than 1000 bytes"}, // refused by the body's length
		{"page.png", "image/png", []byte("<html><script>alert(1)</script></html>"), 415, "(text/html) are not allowed; allowed: PNG, JPEG"},
		{"tool.pdf", "application/pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), 415, "(application/octet-stream) are not allowed"},
		{"empty.png", "image/png", nil, 400, "empty"},
	} {
		code, b := visitorUpload(t, ts, token, tc.name, tc.typ, tc.data)
		if code != tc.code || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, b, tc.code, tc.msg)
		}
	}
	for name, hdr := range map[string]http.Header{
		"no token":     {},
		"bad token":    {"Authorization": {"Bearer " + token[:len(token)-3] + "abc"}},
		"another site": {"Authorization": {"Bearer " + token}, "Origin": {"https://evil.example"}},
	} {
		code, _, b := upload(t, http.DefaultClient, ts.url+"/api/widget/files", hdr, "a.png", "image/png", pngFile)
		if want := map[string]int{"no token": 401, "bad token": 401, "another site": 403}[name]; code != want {
			t.Errorf("%s: %d %s, want %d", name, code, b, want)
		}
	}
	// Nothing of it reached the transcript: the next file is the first.
	if code, b := visitorUpload(t, ts, token, "ok.png", "image/png", pngFile); code != 200 {
		t.Fatalf("a good file after the refused ones: %d %s", code, b)
	}
	entries, err := ts.srv.App().Sessions().Transcript(t.Context(), conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Kind == "file" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d file entries, want 1", n)
	}
}

// TestAttachmentHostileNames: path traversal and header injection in the
// file's name never reach a path or a header.
func TestAttachmentHostileNames(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench")
	v := dial(t, ts)
	token, _ := v.start("qualify")
	v.bot("Hi! What brings you here?")
	for _, tc := range []struct{ sent, stored string }{
		{"../../../etc/passwd.png", "passwd.png"},
		{`..\..\windows\win.ini.png`, "win.ini.png"},
		{"a\r\nSet-Cookie: pwned=1\r\n.png", "aSet-Cookie: pwned=1.png"},
		{"nul\x00.png", "nul.png"},
		{`evil"; filename="other.exe.png`, "evil; filename=other.exe.png"},
		{"\u202egnp.exe", "gnp.exe"},
		{"....", "file"},
	} {
		code, b := visitorUpload(t, ts, token, tc.sent, "image/png", pngFile)
		if code != 200 {
			t.Fatalf("%q: %d %s", tc.sent, code, b)
		}
		d := v.entryOf("file", "visitor")["data"].(map[string]any)
		if d["name"] != tc.stored {
			t.Errorf("%q stored as %q, want %q", tc.sent, d["name"], tc.stored)
		}
		code, h, _ := fetch(t, http.DefaultClient, ts.url+d["url"].(string))
		cd := h.Get("Content-Disposition")
		if code != 200 || h.Get("Set-Cookie") != "" || strings.ContainsAny(cd, "\r\n/\\") || strings.Count(cd, `"`) != 2 {
			t.Errorf("%q: %d, Content-Disposition %q, Set-Cookie %q", tc.sent, code, cd, h.Get("Set-Cookie"))
		}
	}
}

// TestAttachmentTypeIsSniffed: an SVG with a script, sent as image/svg+xml,
// is kept as what its bytes are (text), and downloaded as a text
// attachment, never as an image a browser would run.
func TestAttachmentTypeIsSniffed(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench")
	v := dial(t, ts)
	token, _ := v.start("qualify")
	v.bot("Hi! What brings you here?")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	if code, b := visitorUpload(t, ts, token, "pic.svg", "image/svg+xml", svg); code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	d := v.entryOf("file", "visitor")["data"].(map[string]any)
	code, h, _ := fetch(t, http.DefaultClient, ts.url+d["url"].(string))
	if code != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("the SVG: %d, type %q, disposition %q", code, h.Get("Content-Type"), h.Get("Content-Disposition"))
	}
}

// TestAttachmentMalformedBody: a part header broken by a raw line break
// (what a filename with CR LF would do, unencoded) is a bad request, not
// a server error.
func TestAttachmentMalformedBody(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench")
	v := dial(t, ts)
	token, _ := v.start("qualify")
	v.bot("Hi! What brings you here?")
	body := "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\r\nSet-Cookie: x=1\r\n.png\"\r\n\r\n" + string(pngFile) + "\r\n--B--\r\n"
	req, _ := http.NewRequest("POST", ts.url+"/api/widget/files", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("%d %s (Set-Cookie %q), want 400", resp.StatusCode, b, resp.Header.Get("Set-Cookie"))
	}
}

// pctEncode percent-encodes every byte of s but ASCII letters and digits
// (RFC 2231's value-chars, strictly).
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestAttachmentsAcrossProcessesOnS3: two server processes on one Redis
// and one S3-compatible bucket (gofakes3, over HTTP on loopback): a file
// the visitor sends through one is downloaded, by its signed link, from
// the other, and its entry is in the transcript either reads.
func TestAttachmentsAcrossProcessesOnS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("chat-files"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	onS3 := func(c *servertest.Config) {
		b, err := s3blob.Open(s3blob.Options{Endpoint: s3.URL, Bucket: "chat-files", Prefix: "playbook/", AccessKey: "k", SecretKey: "s", Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		c.Options.Files = b
	}
	rds := redistest.New(t)
	a := startServer(t, rds, "../playbooks/bench", onS3)
	b := startServer(t, rds, "../playbooks/bench", onS3)
	v := dial(t, a)
	token, conv := v.start("qualify")
	v.bot("Hi! What brings you here?")
	if code, body := visitorUpload(t, a, token, "invoice.pdf", "application/pdf", pdfFile); code != 200 {
		t.Fatalf("upload through A: %d %s", code, body)
	}
	d := v.entryOf("file", "visitor")["data"].(map[string]any)
	code, h, got := fetch(t, http.DefaultClient, b.url+d["url"].(string))
	if code != 200 || !bytes.Equal(got, pdfFile) || h.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download through B: %d %v", code, h)
	}
	entries, err := b.srv.App().Sessions().Transcript(t.Context(), conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Kind != "file" || last.Data["name"] != "invoice.pdf" {
		t.Fatalf("B's transcript ends with %+v", last)
	}
	if _, err := backend.HeadObject("chat-files", "playbook/"+conv+"/"+d["file"].(string)); err != nil {
		t.Fatalf("the object in the bucket: %v", err)
	}
}

// TestAttachmentsOnTheEmbeddedEngine: the visitor's file and the agent's
// download on the embedded engine (its transcript and its data directory).
func TestAttachmentsOnTheEmbeddedEngine(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ts := startServer(t, redistest.New(t), "../playbooks/bench", func(c *servertest.Config) { c.Engine = embedded.NewEngine(db) })
	v := dial(t, ts)
	token, conv := v.start("qualify")
	v.bot("Hi! What brings you here?")
	if code, b := visitorUpload(t, ts, token, "a.png", "image/png", pngFile); code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	d := v.entryOf("file", "visitor")["data"].(map[string]any)
	if code, _, got := fetch(t, http.DefaultClient, ts.url+d["url"].(string)); code != 200 || !bytes.Equal(got, pngFile) {
		t.Fatalf("download: %d", code)
	}
	entries, err := ts.srv.App().Sessions().Transcript(t.Context(), conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Kind != "file" || last.Data["file"] != d["file"] || last.Data["size"] != float64(len(pngFile)) {
		t.Fatalf("the transcript ends with %+v", last)
	}
}
