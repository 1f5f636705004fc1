package lsp

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentInEditor: a playbook with variants has no diagnostics, a
// variant's goto jumps to its card, hover explains weight, and a zero
// weight is an error at its place as the user types it.
func TestExperimentInEditor(t *testing.T) {
	src := `playbook: ab
cards:
  hello:
    experiment: greeting
    variants:
      - {name: short, weight: 50, goto: short}
      - {name: long, weight: 50, goto: long}
  short:
    say: Hi!
    end: done
  long:
    say: Hello, how can we help you today?
    end: done
`
	dir := writeFiles(t, map[string]string{"ab.yaml": src})
	c := startClient(t)
	c.call("initialize", map[string]any{"processId": nil}, nil)
	uri := PathURI(filepath.Join(dir, "ab.yaml"))
	c.notify("textDocument/didOpen", DidOpenParams{TextDocument: TextDocumentItem{URI: uri, Version: 1, Text: src}})
	if d := c.diagnostics(uri); len(d) != 0 {
		t.Fatalf("diagnostics on a valid experiment: %+v", d)
	}
	at := func(p Position) TextDocumentPositionParams {
		return TextDocumentPositionParams{TextDocument: TextDocumentIdentifier{URI: uri}, Position: p}
	}
	var loc *Location
	c.call("textDocument/definition", at(pos(src, "goto: long", 7)), &loc)
	if loc == nil || loc.Range.Start != pos(src, "  long:", 2) {
		t.Errorf("definition of a variant's goto: %+v, want %+v", loc, pos(src, "  long:", 2))
	}
	var h *Hover
	c.call("textDocument/hover", at(pos(src, "weight: 50, goto: short", 1)), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "share") {
		t.Errorf("hover on weight: %+v", h)
	}
	h = nil
	c.call("textDocument/hover", at(pos(src, "variants:", 1)), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "A/B") {
		t.Errorf("hover on variants: %+v", h)
	}
	bad := strings.Replace(src, "weight: 50, goto: long", "weight: 0, goto: long", 1)
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2}, "contentChanges": []map[string]any{{"text": bad}}})
	d := c.diagnostics(uri)
	if len(d) != 1 || !strings.Contains(d[0].Message, "weight must be a whole number above 0") || d[0].Range.Start != pos(bad, "0, goto: long", 0) {
		t.Errorf("diagnostics for weight 0: %+v", d)
	}
}
