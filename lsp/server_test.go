package lsp

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// client is a minimal LSP client: it sends requests and notifications and
// sorts what comes back into responses (by id) and notifications.
type client struct {
	t      *testing.T
	conn   *Conn
	nextID int
	resps  chan message
	notes  chan message
	done   chan error
}

func startClient(t *testing.T) *client {
	t.Helper()
	cr, sw := io.Pipe() // server -> client
	sr, cw := io.Pipe() // client -> server
	c := &client{t: t, conn: NewConn(cr, cw), resps: make(chan message, 16), notes: make(chan message, 64), done: make(chan error, 1)}
	go func() { c.done <- Serve(sr, sw, io.Discard); sw.Close() }()
	go func() {
		for {
			b, err := c.conn.Read()
			if err != nil {
				close(c.resps)
				close(c.notes)
				return
			}
			var m message
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("the server sent something that is not JSON: %s", b)
				continue
			}
			if m.ID != nil {
				c.resps <- m
			} else {
				c.notes <- m
			}
		}
	}()
	t.Cleanup(func() {
		c.notify("exit", nil)
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop on exit")
		}
		cw.Close()
	})
	return c
}

func (c *client) notify(method string, params any) {
	b, _ := json.Marshal(params)
	if err := c.conn.Write(message{JSONRPC: "2.0", Method: method, Params: b}); err != nil {
		c.t.Fatal(err)
	}
}

// call sends a request and decodes its result into out.
func (c *client) call(method string, params, out any) {
	c.t.Helper()
	c.nextID++
	id := json.RawMessage(strings.TrimSpace(string(mustJSON(c.nextID))))
	b, _ := json.Marshal(params)
	if err := c.conn.Write(message{JSONRPC: "2.0", ID: id, Method: method, Params: b}); err != nil {
		c.t.Fatal(err)
	}
	select {
	case m, ok := <-c.resps:
		if !ok {
			c.t.Fatalf("%s: the connection closed", method)
		}
		if string(m.ID) != string(id) {
			c.t.Fatalf("%s: answer to id %s, want %s", method, m.ID, id)
		}
		if m.Error != nil {
			c.t.Fatalf("%s: error %d %s", method, m.Error.Code, m.Error.Message)
		}
		raw, _ := json.Marshal(m.Result)
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				c.t.Fatalf("%s: %v in %s", method, err, raw)
			}
		}
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: no answer", method)
	}
}

// diagnostics waits for the next diagnostics of uri.
func (c *client) diagnostics(uri string) []Diagnostic {
	c.t.Helper()
	for {
		select {
		case m, ok := <-c.notes:
			if !ok {
				c.t.Fatal("the connection closed")
			}
			if m.Method != "textDocument/publishDiagnostics" {
				continue
			}
			var p PublishDiagnosticsParams
			if err := json.Unmarshal(m.Params, &p); err != nil {
				c.t.Fatal(err)
			}
			if p.URI == uri {
				return p.Diagnostics
			}
		case <-time.After(10 * time.Second):
			c.t.Fatal("no diagnostics")
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

const book = `playbook: demo
vars:
  email: {type: email}
  budget: number
cards:
  hello:
    say: Hi! Want a demo?
    choices:
      - {label: Yes please, goto: email}
      - {label: No thanks, goto: bye}
  email:
    ask: What's your work email?
    input: email
    save: email
  bye:
    say: "Thanks {{ email ?? 'you' }}!"
    end: done
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pos(text, lineHas string, col int) Position {
	for i, l := range lines(text) {
		if strings.Contains(l, lineHas) {
			return Position{Line: i, Character: strings.Index(l, lineHas) + col}
		}
	}
	panic("no line has " + lineHas)
}

func TestDiagnosticsAsYouType(t *testing.T) {
	dir := writeFiles(t, map[string]string{"demo.yaml": book})
	c := startClient(t)
	var init struct {
		Capabilities map[string]any `json:"capabilities"`
	}
	c.call("initialize", map[string]any{"processId": nil, "rootUri": PathURI(dir)}, &init)
	if init.Capabilities["definitionProvider"] != true || init.Capabilities["hoverProvider"] != true || init.Capabilities["completionProvider"] == nil {
		t.Fatalf("capabilities %v", init.Capabilities)
	}
	c.notify("initialized", map[string]any{})
	uri := PathURI(filepath.Join(dir, "demo.yaml"))
	c.notify("textDocument/didOpen", DidOpenParams{TextDocument: TextDocumentItem{URI: uri, Version: 1, Text: book}})
	ds := c.diagnostics(uri)
	// budget is never used: one warning, no error
	if len(ds) != 1 || ds[0].Severity != SeverityWarning || !strings.Contains(ds[0].Message, `"budget" is never used`) {
		t.Fatalf("diagnostics of the clean file: %+v", ds)
	}
	if ds[0].Range.Start != (Position{3, 2}) || ds[0].Range.End != (Position{3, 8}) {
		t.Errorf("warning at %+v, want line 3, characters 2-8", ds[0].Range)
	}
	// The user types a typo in a goto: an error with a suggestion, where it is.
	typo := strings.Replace(book, "goto: email}", "goto: emial}", 1)
	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 2},
		"contentChanges": []map[string]any{{"text": typo}},
	})
	ds = c.diagnostics(uri)
	var found bool
	for _, d := range ds {
		if d.Severity == SeverityError && strings.Contains(d.Message, `there is no card "emial"`) && strings.Contains(d.Message, `did you mean "email"?`) {
			found = true
			if want := pos(typo, "emial", 0); d.Range.Start != want || d.Range.End.Character != want.Character+5 {
				t.Errorf("error at %+v, want from %+v, 5 characters", d.Range, want)
			}
		}
	}
	if !found {
		t.Fatalf("no error for the typo: %+v", ds)
	}
	// Broken YAML is a diagnostic too, not a crash.
	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": uri, "version": 3},
		"contentChanges": []map[string]any{{"text": "playbook: x\ncards:\n  a: [\n"}},
	})
	if ds = c.diagnostics(uri); len(ds) == 0 || !strings.Contains(ds[0].Message, "YAML") {
		t.Fatalf("broken YAML: %+v", ds)
	}
	c.call("shutdown", nil, nil)
}

func TestDefinitionCompletionHover(t *testing.T) {
	sub := "playbook: contact\ncards:\n  ask:\n    say: Hi\n"
	main := strings.Replace(book, "  bye:\n", "  more:\n    include: contact\n  bye:\n", 1)
	dir := writeFiles(t, map[string]string{"demo.yaml": main, "contact.yaml": sub})
	c := startClient(t)
	c.call("initialize", map[string]any{"processId": nil}, nil)
	uri := PathURI(filepath.Join(dir, "demo.yaml"))
	c.notify("textDocument/didOpen", DidOpenParams{TextDocument: TextDocumentItem{URI: uri, Version: 1, Text: main}})
	c.diagnostics(uri)
	at := func(p Position) TextDocumentPositionParams {
		return TextDocumentPositionParams{TextDocument: TextDocumentIdentifier{URI: uri}, Position: p}
	}

	// goto: bye → the card bye
	var loc *Location
	c.call("textDocument/definition", at(pos(main, "goto: bye", 7)), &loc)
	if loc == nil || loc.URI != uri || loc.Range.Start != pos(main, "  bye:", 2) {
		t.Errorf("definition of bye: %+v, want %+v", loc, pos(main, "  bye:", 2))
	}
	// {{ email }} → the var email
	loc = nil
	c.call("textDocument/definition", at(pos(main, "{{ email", 4)), &loc)
	if loc == nil || loc.Range.Start != pos(main, "  email: {type", 2) {
		t.Errorf("definition of the var email: %+v", loc)
	}
	// include: contact → the other file
	loc = nil
	c.call("textDocument/definition", at(pos(main, "include: contact", 11)), &loc)
	if loc == nil || loc.URI != PathURI(filepath.Join(dir, "contact.yaml")) {
		t.Errorf("definition of the include: %+v", loc)
	}

	labels := func(l CompletionList) []string {
		var out []string
		for _, it := range l.Items {
			out = append(out, it.Label)
		}
		return out
	}
	var list CompletionList
	c.call("textDocument/completion", at(pos(main, "goto: bye", 6)), &list)
	if got := strings.Join(labels(list), ","); got != "hello,email,more,bye" {
		t.Errorf("completion after goto: %s", got)
	}
	list = CompletionList{}
	c.call("textDocument/completion", at(pos(main, "{{ email", 3)), &list)
	if got := labels(list); !contains(got, "email") || !contains(got, "budget") || !contains(got, "now") || !contains(got, "visitor") {
		t.Errorf("completion in {{ }}: %v", got)
	}
	list = CompletionList{}
	c.call("textDocument/completion", at(pos(main, "input: email", 7)), &list)
	if got := labels(list); !contains(got, "yes_no") || !contains(got, "date") {
		t.Errorf("completion after input: %v", got)
	}
	list = CompletionList{}
	c.call("textDocument/completion", at(Position{Line: pos(main, "input: email", 0).Line, Character: 4}), &list)
	if got := labels(list); !contains(got, "intents") || !contains(got, "retry") || !contains(got, "say") {
		t.Errorf("completion of card keys: %v", got)
	}
	list = CompletionList{}
	c.call("textDocument/completion", at(pos(main, "include: contact", 9)), &list)
	if got := labels(list); !contains(got, "contact") || !contains(got, "demo") {
		t.Errorf("completion after include: %v", got)
	}

	var h *Hover
	hmain := strings.Replace(main, "'you' }}", "'you' }} {{ lower(visitor.name) }}", 1)
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2}, "contentChanges": []map[string]any{{"text": hmain}}})
	c.diagnostics(uri)
	c.call("textDocument/hover", at(pos(hmain, "lower(", 1)), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "lower case") {
		t.Errorf("hover on lower: %+v", h)
	}
	h = nil
	c.call("textDocument/hover", at(pos(hmain, "    input: email", 5)), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "yes_no") {
		t.Errorf("hover on input: %+v", h)
	}
	h = nil
	c.call("textDocument/hover", at(pos(hmain, "{{ email", 4)), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "var **email**: email") {
		t.Errorf("hover on a var: %+v", h)
	}
	// An unknown method is an error answer, not a crash.
	c.nextID++
	c.conn.Write(message{JSONRPC: "2.0", ID: json.RawMessage("99"), Method: "textDocument/formatting"})
	if m := <-c.resps; m.Error == nil || m.Error.Code != codeMethodNotFound {
		t.Errorf("unknown method: %+v", m)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A hostile frame: a huge or broken Content-Length ends the session with an
// error instead of allocating or hanging.
func TestBadFrames(t *testing.T) {
	for _, frame := range []string{
		"Content-Length: 99999999999\r\n\r\n{}",
		"Content-Length: nope\r\n\r\n{}",
	} {
		err := Serve(strings.NewReader(frame), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "Content-Length") {
			t.Errorf("%q: %v", frame, err)
		}
	}
	// Not JSON: a parse error answer, and the server reads on.
	var out strings.Builder
	body := "not json"
	in := "Content-Length: 8\r\n\r\n" + body
	if err := Serve(strings.NewReader(in), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"code":-32700`) {
		t.Errorf("no parse error answer: %s", out.String())
	}
}

// hours.yaml and test files get their own checker's diagnostics.
func TestOtherFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"demo.yaml": book})
	c := startClient(t)
	c.call("initialize", map[string]any{}, nil)
	for _, tc := range []struct{ name, text, want string }{
		{"hours.yaml", "hours:\n  sales:\n    zone: Mars/Olympus\n    mon-fri: 09:00-17:00\n", "Mars/Olympus"},
		{"demo.test.yaml", "playbook: demo\ntests:\n  - name: x\n    script: [{visiter: hi}]\n", `unknown script step "visiter"`},
	} {
		uri := PathURI(filepath.Join(dir, tc.name))
		c.notify("textDocument/didOpen", DidOpenParams{TextDocument: TextDocumentItem{URI: uri, Version: 1, Text: tc.text}})
		ds := c.diagnostics(uri)
		found := false
		for _, d := range ds {
			found = found || d.Severity == SeverityError && strings.Contains(d.Message, tc.want)
		}
		if !found {
			t.Errorf("%s: %+v, want an error with %q", tc.name, ds, tc.want)
		}
	}
}

// Card names are completed (and jumped to) in a handoff's back_to list as
// after goto: the first name, one after a comma, a quoted one.
func TestCardRefInBackTo(t *testing.T) {
	for prefix, want := range map[string]bool{
		"    back_to: ":                       true,
		"    back_to: [":                      true,
		"    back_to: [welcome, ":             true,
		"    back_to: [welcome, 'ask_b":       true,
		"  handoff: {team: x, back_to: [a, b": true,
		"    back_to: [welcome] ":             false,
		"    say: back to ":                   false,
		"    goto: ":                          true,
	} {
		if got := cardRefRE.MatchString(prefix); got != want {
			t.Errorf("%q: card name expected = %v, want %v", prefix, got, want)
		}
	}
}
