package lsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/playtest"
)

// Server is a language server for playbook files. It keeps the open
// documents in memory and checks each one, with its folder, on every change.
type Server struct {
	conn *Conn
	docs map[string]*document // by URI
	log  io.Writer
}

// document is an open file: its text and what was found in it.
type document struct {
	uri, path string
	version   int
	text      string
	index     *index // nil until the YAML reads
}

// index holds where things are declared in a document.
type index struct {
	cards    map[string]source.Pos // card name -> its key
	vars     map[string]source.Pos
	varTypes map[string]string
	order    []string // card names in order
	varOrder []string
}

// Serve answers LSP messages read from r on w until the client sends exit
// or r ends. log, when not nil, gets one line per protocol error.
func Serve(r io.Reader, w io.Writer, log io.Writer) error {
	s := &Server{conn: NewConn(r, w), docs: map[string]*document{}, log: log}
	for {
		body, err := s.conn.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			s.conn.Write(message{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{codeParseError, "not JSON: " + err.Error()}})
			continue
		}
		if m.Method == "exit" {
			return nil
		}
		result, rerr := s.handle(m)
		if m.ID == nil { // a notification: no answer
			if rerr != nil && s.log != nil {
				fmt.Fprintf(s.log, "%s: %s\n", m.Method, rerr.Message)
			}
			continue
		}
		resp := message{JSONRPC: "2.0", ID: m.ID, Error: rerr}
		if rerr == nil {
			resp.Result = result
			if result == nil {
				resp.Result = json.RawMessage("null")
			}
		}
		if err := s.conn.Write(resp); err != nil {
			return err
		}
	}
}

func (s *Server) handle(m message) (any, *rpcError) {
	switch m.Method {
	case "initialize":
		return map[string]any{
			"capabilities": map[string]any{
				"textDocumentSync":   1, // full text on every change
				"definitionProvider": true,
				"hoverProvider":      true,
				"completionProvider": map[string]any{"triggerCharacters": []string{":", " ", "{", "."}},
			},
			"serverInfo": map[string]any{"name": "playbook"},
		}, nil
	case "initialized", "$/cancelRequest", "$/setTrace", "workspace/didChangeConfiguration", "textDocument/didSave":
		return nil, nil
	case "shutdown":
		return nil, nil
	case "textDocument/didOpen":
		var p DidOpenParams
		if err := json.Unmarshal(m.Params, &p); err != nil {
			return nil, badParams(err)
		}
		d := &document{uri: p.TextDocument.URI, path: uriPath(p.TextDocument.URI), version: p.TextDocument.Version, text: p.TextDocument.Text}
		s.docs[d.uri] = d
		s.check(d)
		return nil, nil
	case "textDocument/didChange":
		var p DidChangeParams
		if err := json.Unmarshal(m.Params, &p); err != nil {
			return nil, badParams(err)
		}
		d := s.docs[p.TextDocument.URI]
		if d == nil || len(p.ContentChanges) == 0 {
			return nil, nil
		}
		d.text = p.ContentChanges[len(p.ContentChanges)-1].Text
		d.version = p.TextDocument.Version
		s.check(d)
		return nil, nil
	case "textDocument/didClose":
		var p struct {
			TextDocument TextDocumentIdentifier `json:"textDocument"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil {
			return nil, badParams(err)
		}
		delete(s.docs, p.TextDocument.URI)
		s.conn.Write(notification("textDocument/publishDiagnostics", PublishDiagnosticsParams{URI: p.TextDocument.URI, Diagnostics: []Diagnostic{}}))
		return nil, nil
	case "textDocument/definition", "textDocument/hover", "textDocument/completion":
		var p TextDocumentPositionParams
		if err := json.Unmarshal(m.Params, &p); err != nil {
			return nil, badParams(err)
		}
		d := s.docs[p.TextDocument.URI]
		if d == nil {
			return nil, nil
		}
		switch m.Method {
		case "textDocument/definition":
			if loc := s.definition(d, p.Position); loc != nil {
				return loc, nil
			}
			return nil, nil
		case "textDocument/hover":
			if h := s.hover(d, p.Position); h != nil {
				return h, nil
			}
			return nil, nil
		default:
			return s.completion(d, p.Position), nil
		}
	}
	if strings.HasPrefix(m.Method, "$/") {
		return nil, nil
	}
	return nil, &rpcError{codeMethodNotFound, "method not supported: " + m.Method}
}

func badParams(err error) *rpcError { return &rpcError{codeInvalidParams, err.Error()} }

func notification(method string, params any) message {
	b, _ := json.Marshal(params)
	return message{JSONRPC: "2.0", Method: method, Params: b}
}

// uriPath turns a file:// URI into a path; other URIs are kept as names.
func uriPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return uri
	}
	return filepath.FromSlash(u.Path)
}

// PathURI turns a path into a file:// URI.
func PathURI(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

func isTestFile(p string) bool {
	return strings.HasSuffix(p, ".test.yaml") || strings.HasSuffix(p, ".test.yml")
}

// check compiles d (with the playbooks of its folder, for includes and
// unique ids) and publishes its diagnostics.
func (s *Server) check(d *document) {
	if ix := buildIndex(d.text); ix != nil {
		d.index = ix
	}
	var diags source.Diagnostics
	switch {
	case isTestFile(d.path):
		_, diags = playtest.Parse(d.path, []byte(d.text))
	case filepath.Base(d.path) == dsl.HoursFile:
		_, diags = dsl.LoadHours(d.path, []byte(d.text))
	default:
		if files := folder(d.path); files != nil {
			_, diags = dsl.LoadPathsWith(source.Files{d.path: []byte(d.text)}, files...)
		} else {
			_, diags = dsl.Load(d.path, []byte(d.text))
		}
	}
	out := []Diagnostic{}
	for _, dg := range diags {
		if dg.Subject.Filename != d.path {
			continue
		}
		sev := SeverityError
		if dg.Severity == source.Warning {
			sev = SeverityWarning
		}
		msg := dg.Summary
		if dg.Detail != "" {
			msg += " (" + dg.Detail + ")"
		}
		out = append(out, Diagnostic{Range: lspRange(d.text, dg.Subject), Severity: sev, Source: "playbook", Message: msg})
	}
	s.conn.Write(notification("textDocument/publishDiagnostics", PublishDiagnosticsParams{URI: d.uri, Version: d.version, Diagnostics: out}))
}

// maxFolder bounds how many playbooks of a document's folder are loaded
// with it.
const maxFolder = 300

// folder lists the playbooks beside path (not in subfolders, at most
// maxFolder), the ones an include or a duplicate id can involve; nil when
// path is not a file on disk.
func folder(path string) []string {
	if !filepath.IsAbs(path) {
		return nil
	}
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || isTestFile(n) || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		if len(out) == maxFolder {
			break
		}
		out = append(out, filepath.Join(dir, n))
	}
	return out
}

// lines splits text into lines without their line ends.
func lines(text string) []string { return strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") }

// utf16Col converts a 1-based rune column on line to a 0-based UTF-16 offset.
func utf16Col(line string, col int) int {
	n, i := 0, 1
	for _, r := range line {
		if i >= col {
			break
		}
		n += len(utf16.Encode([]rune{r}))
		i++
	}
	return n
}

// byteOffset converts a 0-based UTF-16 offset on line to a byte offset.
func byteOffset(line string, char int) int {
	n := 0
	for i, r := range line {
		if n >= char {
			return i
		}
		n += len(utf16.Encode([]rune{r}))
	}
	return len(line)
}

// lspRange converts a diagnostic's range; an empty one spans the word at
// its start.
func lspRange(text string, r source.Range) Range {
	ls := lines(text)
	pos := func(p source.Pos) Position {
		if !p.IsValid() {
			return Position{}
		}
		l := p.Line - 1
		if l >= len(ls) {
			return Position{Line: l}
		}
		return Position{Line: l, Character: utf16Col(ls[l], p.Column)}
	}
	out := Range{Start: pos(r.Start), End: pos(r.End)}
	if !r.End.IsValid() || (out.End.Line == out.Start.Line && out.End.Character <= out.Start.Character) {
		out.End = out.Start
		if out.Start.Line < len(ls) {
			line := ls[out.Start.Line]
			b := byteOffset(line, out.Start.Character)
			e := b
			for e < len(line) && line[e] != ' ' && line[e] != ',' && line[e] != '}' && line[e] != ']' {
				e++
			}
			if e == b {
				e = len(line)
			}
			out.End.Character = out.Start.Character + len(utf16.Encode([]rune(line[b:e])))
		}
	}
	return out
}

// buildIndex finds the cards and vars of a playbook and where they are
// declared; nil when the YAML does not read.
func buildIndex(text string) *index {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(text), &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	ix := &index{cards: map[string]source.Pos{}, vars: map[string]source.Pos{}, varTypes: map[string]string{}}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.MappingNode {
			continue
		}
		switch k.Value {
		case "cards":
			for j := 0; j+1 < len(v.Content); j += 2 {
				ck := v.Content[j]
				ix.cards[ck.Value] = source.Pos{Line: ck.Line, Column: ck.Column}
				ix.order = append(ix.order, ck.Value)
			}
		case "vars":
			for j := 0; j+1 < len(v.Content); j += 2 {
				vk, vv := v.Content[j], v.Content[j+1]
				ix.vars[vk.Value] = source.Pos{Line: vk.Line, Column: vk.Column}
				ix.varOrder = append(ix.varOrder, vk.Value)
				switch vv.Kind {
				case yaml.ScalarNode:
					ix.varTypes[vk.Value] = vv.Value
				case yaml.MappingNode:
					for t := 0; t+1 < len(vv.Content); t += 2 {
						if vv.Content[t].Value == "type" {
							ix.varTypes[vk.Value] = vv.Content[t+1].Value
						}
					}
				}
			}
		}
	}
	return ix
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// wordAt returns the word (letters, digits, _ and -) at pos, and the line.
func wordAt(text string, pos Position) (word, line string, start int) {
	ls := lines(text)
	if pos.Line < 0 || pos.Line >= len(ls) {
		return "", "", 0
	}
	line = ls[pos.Line]
	b := byteOffset(line, pos.Character)
	s, e := b, b
	for s > 0 && isWordByte(line[s-1]) {
		s--
	}
	for e < len(line) && isWordByte(line[e]) {
		e++
	}
	w := line[s:e]
	for !utf8.ValidString(w) && len(w) > 0 {
		w = w[:len(w)-1]
	}
	return w, line, s
}

var includeRE = regexp.MustCompile(`^\s*include:\s*["']?([a-z0-9-]+)`)

// definition finds where the word at pos is declared: a card (goto,
// branch, offline, back_to, retry.then, on_error, fallback, other), a var, or the
// playbook an include names.
func (s *Server) definition(d *document, pos Position) *Location {
	w, line, start := wordAt(d.text, pos)
	if w == "" {
		return nil
	}
	if m := includeRE.FindStringSubmatch(line); m != nil && m[1] == w {
		if set, _ := dsl.LoadPaths(folder(d.path)...); set != nil {
			if p := set.ByID[w]; p != nil && len(p.Files) > 0 {
				return &Location{URI: PathURI(p.Files[0])}
			}
			for file, src := range set.Files {
				if !isTestFile(file) && peekID(src) == w {
					return &Location{URI: PathURI(file)}
				}
			}
		}
		return nil
	}
	ix := d.index
	if ix == nil {
		return nil
	}
	at := func(p source.Pos, name string) *Location {
		ls := lines(d.text)
		l := p.Line - 1
		c := 0
		if l >= 0 && l < len(ls) {
			c = utf16Col(ls[l], p.Column)
		}
		return &Location{URI: d.uri, Range: Range{Start: Position{l, c}, End: Position{l, c + len(utf16.Encode([]rune(name)))}}}
	}
	// After goto and the like a name is a card; elsewhere a var comes first
	// (a card and a var may share a name, such as email).
	if cardRefRE.MatchString(line[:start]+w) || strings.HasPrefix(strings.TrimSpace(line), w+":") {
		if p, ok := ix.cards[w]; ok {
			return at(p, w)
		}
	}
	if p, ok := ix.vars[w]; ok {
		return at(p, w)
	}
	if p, ok := ix.cards[w]; ok {
		return at(p, w)
	}
	return nil
}

func peekID(src []byte) string {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return ""
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "playbook" {
			return root.Content[i+1].Value
		}
	}
	return ""
}

// builtinDocs describes the built-in functions for hover and completion.
var builtinDocs = map[string]string{
	"now":           "now() → the current time (in tests, the test's clock).",
	"today":         "today() → today's date, in the visitor's day; a date compares by day with now().",
	"date":          "date(\"2026-03-01\") → a date from a text (or the day of a time); nothing when the text is not a date: date(answer) ?? today().",
	"format":        "format(d, \"long\") → a date in the visitor's language: long (8 January 2026), short, weekday, time or iso.",
	"duration":      "duration(\"24h\") → a duration, to add to a time: now() + duration(\"2d\"); nothing when the text is not one.",
	"int":           "int(x) → a whole number from a number or a text (\"42\"); nothing when the text is not a number: int(code) ?? 0.",
	"float":         "float(x) → a number from a number or a text (\"2.5\"); nothing when the text is not a number: float(amount) ?? 0.",
	"agents_online": "agents_online(\"team\") → how many agents of the team are online now.",
	"open_hours":    "open_hours(\"team\") → true when the team is within its opening hours now.",
	"round_robin":   "round_robin(\"team\") → the next agent of the team in turn, as a record's owner.",
	"lower":         "lower(text) → the text in lower case.",
	"upper":         "upper(text) → the text in upper case.",
	"trim":          "trim(text) → the text without spaces at either end.",
	"len":           "len(x) → the length of a text, list or map.",
	"matches":       "text matches \"regexp\" → true when the regular expression matches; the pattern is written out, in quotes.",
	"visitor":       "visitor: what the site knows of the visitor: name, email, page, referrer, language, country, returning, visits, utm.",
}

func builtinDoc(name string) (string, bool) {
	if d, ok := builtinDocs[name]; ok {
		return d, true
	}
	if slices.Contains(engine.Builtins, name) {
		return name + "(…) — a built-in function; see docs/language.md, Built-in functions.", true
	}
	return "", false
}

// sections maps a key to the section its children belong to, for hover on
// nested keys.
var sections = []string{"choice", "intent", "other", "handoff", "call", "retry", "validate", "branch", "variant", "link", "bot", "trigger", "var"}

// hover describes the word at pos: a built-in, a key of the language, a
// var or a card.
func (s *Server) hover(d *document, pos Position) *Hover {
	w, line, start := wordAt(d.text, pos)
	if w == "" {
		return nil
	}
	md := func(v string) *Hover {
		l := pos.Line
		sc := len(utf16.Encode([]rune(line[:start])))
		r := Range{Start: Position{l, sc}, End: Position{l, sc + len(utf16.Encode([]rune(w)))}}
		return &Hover{Contents: MarkupContent{Kind: "markdown", Value: v}, Range: &r}
	}
	after := strings.TrimLeft(line[start+len(w):], " ")
	isKey := strings.HasPrefix(after, ":")
	if isKey {
		indent := len(line) - len(strings.TrimLeft(line, " -"))
		if indent == 0 {
			if doc := dsl.KeyDoc("playbook", w); doc != "" {
				return md("**" + w + "** — " + doc)
			}
		}
		if doc := dsl.KeyDoc("card", w); doc != "" {
			return md("**" + w + "** — " + doc)
		}
		for _, sec := range sections {
			if doc := dsl.KeyDoc(sec, w); doc != "" {
				return md("**" + w + "** — " + doc)
			}
		}
	}
	if doc, ok := builtinDoc(w); ok && !isKey {
		return md("```\n" + w + "\n```\n" + doc)
	}
	if ix := d.index; ix != nil {
		if t, ok := ix.varTypes[w]; ok {
			return md(fmt.Sprintf("var **%s**: %s", w, t))
		}
		if _, ok := ix.cards[w]; ok {
			return md(fmt.Sprintf("card **%s**", w))
		}
	}
	return nil
}

var (
	cardRefRE = regexp.MustCompile(`\b(goto|offline|then|on_error|fallback|other)\s*:\s*["']?[\w-]*$|\bback_to\s*:\s*\[?\s*(["']?[\w-]+["']?\s*,\s*)*["']?[\w-]*$`)
	includeAt = regexp.MustCompile(`\binclude\s*:\s*["']?[\w-]*$`)
	inputAt   = regexp.MustCompile(`\binput\s*:\s*[\w]*$`)
	keyAt     = regexp.MustCompile(`^(\s*)(- )?[\w]*$`)
)

// completion proposes what fits at pos: card names after goto and the
// other card references, playbook ids after include, input types after
// input, keys of the language at the start of a line, and vars and
// built-ins in expressions and {{ }}.
func (s *Server) completion(d *document, pos Position) CompletionList {
	ls := lines(d.text)
	if pos.Line < 0 || pos.Line >= len(ls) {
		return CompletionList{Items: []CompletionItem{}}
	}
	line := ls[pos.Line]
	prefix := line[:byteOffset(line, pos.Character)]
	items := []CompletionItem{}
	ix := d.index
	if ix == nil {
		ix = &index{}
	}
	switch {
	case cardRefRE.MatchString(prefix):
		for _, c := range ix.order {
			items = append(items, CompletionItem{Label: c, Kind: KindModule, Detail: "card"})
		}
	case includeAt.MatchString(prefix):
		if set, _ := dsl.LoadPaths(folder(d.path)...); set != nil {
			for id := range set.ByID {
				items = append(items, CompletionItem{Label: id, Kind: KindModule, Detail: "playbook"})
			}
			sort.Slice(items, func(i, j int) bool { return items[i].Label < items[j].Label })
		}
	case inputAt.MatchString(prefix):
		for _, t := range dsl.InputTypes() {
			items = append(items, CompletionItem{Label: t, Kind: KindKeyword, Detail: "input type"})
		}
	case keyAt.MatchString(prefix):
		m := keyAt.FindStringSubmatch(prefix)
		if len(m[1]) == 0 && m[2] == "" {
			for _, k := range dsl.TopKeys() {
				items = append(items, CompletionItem{Label: k, Kind: KindProperty, Documentation: dsl.KeyDoc("playbook", k)})
			}
		} else {
			keys := dsl.CardKeys()
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				items = append(items, CompletionItem{Label: k, Kind: KindProperty, Documentation: keys[k]})
			}
		}
	default:
		for _, v := range ix.varOrder {
			items = append(items, CompletionItem{Label: v, Kind: KindVariable, Detail: ix.varTypes[v]})
		}
		names := append([]string{"visitor"}, engine.Builtins...)
		for _, b := range names {
			doc, _ := builtinDoc(b)
			kind := KindFunction
			if b == "visitor" {
				kind = KindVariable
			}
			items = append(items, CompletionItem{Label: b, Kind: kind, Documentation: doc})
		}
	}
	return CompletionList{Items: items}
}
