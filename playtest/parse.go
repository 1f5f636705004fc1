package playtest

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// DefaultNow is when a test's mock clock starts unless it says `now:`:
// Monday 2026-01-05 at 10:00 UTC.
var DefaultNow = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// File is one parsed `*.test.yaml` file.
type File struct {
	Name string // file name, as used in diagnostics
	// Playbook is the id of the playbook under test; "" when the file does
	// not say (the caller may then pick the playbook beside it).
	Playbook    string
	PlaybookPos source.Range
	Tests       []*Test
}

// Test is one conversation test.
type Test struct {
	Name string
	File string
	Pos  source.Range // the test's item in the `tests` list

	Online  map[string]int  // agents online per team at the start; missing = nobody
	Open    map[string]bool // teams within opening hours; missing = closed
	Locale  string          // the visitor's browser language; "" = the default
	Visitor engine.Visitor
	Now     time.Time // mock clock start
	HTTP    []*Mock   // answers for call cards
	Script  []*Step
	Expect  Expect
}

// Mock is the canned answer to one HTTP call, keyed by "METHOD URL".
type Mock struct {
	Method string // upper case
	URL    string
	Status int    // HTTP status; defaults to 200, 0 with Error
	Body   any    // decoded like JSON: maps, lists, strings, numbers, bools
	Error  string // a transport error instead of a response
	Pos    source.Range
}

// Key returns "METHOD URL".
func (m *Mock) Key() string { return m.Method + " " + m.URL }

// StepKind says what a script step does.
type StepKind string

// Script step kinds, named as written in test files.
const (
	StepBot          StepKind = "bot"           // the next bot message must match
	StepButtons      StepKind = "buttons"       // the last bot message's buttons must be these
	StepVisitor      StepKind = "visitor"       // the visitor types Text
	StepClick        StepKind = "click"         // the visitor clicks a button (label or value)
	StepWait         StepKind = "wait"          // the clock moves by Wait; due timers fire
	StepAgentsOnline StepKind = "agents_online" // presence changes to Online (merged)
	StepAgentJoins   StepKind = "agent_joins"   // agent Text takes the chat
	StepAgentLeaves  StepKind = "agent_leaves"  // agent Text leaves the chat
	StepResume       StepKind = "resume"        // the agent hands back to the bot at card Text
	StepIntent       StepKind = "intent"        // the last message at an intent card meant intent Text ("none": no intent)
	StepOpenHours    StepKind = "open_hours"    // opening hours change to Open (merged)
	StepLinks        StepKind = "links"         // the links of the last bot message that has any must be Links
	StepPage         StepKind = "page"          // the visitor opens page Text (for triggers)
	StepTriggers     StepKind = "triggers"      // the playbook's trigger applies now, or not (Bool)
	StepVariant      StepKind = "variant"       // the visitor is in variant Text (of experiment Experiment, "" = the one that has it) for the whole conversation
)

var stepKinds = []string{
	string(StepBot), string(StepButtons), string(StepVisitor), string(StepClick), string(StepWait),
	string(StepAgentsOnline), string(StepAgentJoins), string(StepAgentLeaves), string(StepResume), string(StepIntent),
	string(StepOpenHours), string(StepLinks), string(StepPage), string(StepTriggers), string(StepVariant),
}

// Step is one line of a test's script.
type Step struct {
	Kind StepKind
	Pos  source.Range // the step's value in the test file
	// Text is the expected bot message, the visitor's text, the button, the
	// agent or the card, depending on Kind.
	Text    string
	Re      *regexp.Regexp  // StepBot written as /regexp/; nil for exact text
	Buttons []string        // StepButtons: labels in order
	Wait    time.Duration   // StepWait
	Online  map[string]int  // StepAgentsOnline
	Open    map[string]bool // StepOpenHours
	Links   []LinkWant      // StepLinks, in order
	Bool    bool            // StepTriggers
	// Experiment is the experiment a StepVariant names, "" when it gives
	// only the variant.
	Experiment string
}

// LinkWant is one expected link button: its label, and its URL when the
// test gives one.
type LinkWant struct {
	Label, URL string
}

// Want is one expected scalar and where the test file says it.
type Want struct {
	Value string
	Pos   source.Range
}

// VarWant is one expected var.
type VarWant struct {
	Name  string
	Value any // decoded like JSON; nil expects the var unset
	Pos   source.Range
}

// RecordWant is one expected created record: its kind, and fields that must
// be present with these values (a subset of the record's fields).
type RecordWant struct {
	Kind   string
	Fields map[string]any
	Pos    source.Range
}

// Expect is what must hold when the script has run. A nil or unset part is
// not checked.
type Expect struct {
	Outcome *Want
	Status  *Want
	Handoff *Want
	Vars    []*VarWant // in file order
	// Created lists exactly the records created, in order; checked only
	// when HasCreated (so `created: []` expects none).
	Created    []*RecordWant
	HasCreated bool
	CreatedPos source.Range
	// Calls lists exactly the HTTP calls made, as "METHOD URL", in order;
	// checked only when HasCalls.
	Calls    []*Want
	HasCalls bool
	// CallDetails, aligned with Calls, holds the headers and body a call
	// must have (subsets); nil entries check only "METHOD URL".
	CallDetails []*CallWant
	CallsPos    source.Range
}

// CallWant is what an expected call's request must hold: these headers
// (names case-insensitive) and these body fields, a subset of each.
type CallWant struct {
	Headers map[string]any
	Body    map[string]any
}

// Statuses a test may expect.
var expectStatuses = []string{"ended", "waiting", "handoff", "agent", "failed"}

// Parse reads a test file. It reports every problem it finds, sorted by
// position; the File holds whatever could be read (tests with errors are
// left out). It never panics on bad input.
func Parse(name string, src []byte) (*File, source.Diagnostics) {
	p := &parser{file: name}
	f := &File{Name: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		p.yamlError(err)
		return f, p.diags
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.diags.Errorf(source.At(name, 1, 1), "the test file is empty").Detail =
			"it needs `playbook: ID` and a list of `tests:`"
		return f, p.diags
	}
	root := doc.Content[0]
	if !p.expect(root, yaml.MappingNode, "the test file must be a mapping with `playbook:` and `tests:`") {
		return f, p.diags
	}
	var testsNode *yaml.Node
	p.pairs(root, []string{"playbook", "tests"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "playbook":
			if s, ok := p.str(v); ok {
				f.Playbook, f.PlaybookPos = s, p.rng(v)
			}
		case "tests":
			testsNode = v
		}
	})
	if testsNode == nil {
		p.diags.Errorf(p.rng(root), "missing `tests:`").Detail = "add a list of tests, each with a `name:` and a `script:`"
	} else if p.expect(testsNode, yaml.SequenceNode, "`tests` must be a list") {
		seen := map[string]bool{}
		for _, item := range testsNode.Content {
			item = deref(item)
			before := len(p.diags.Errs())
			t := p.test(item)
			if t == nil {
				continue
			}
			if t.Name != "" && seen[t.Name] {
				p.diags.Errorf(t.Pos, "two tests are named %q", t.Name).Detail = "give each test its own name"
				continue
			}
			seen[t.Name] = true
			if len(p.diags.Errs()) == before {
				f.Tests = append(f.Tests, t)
			}
		}
	}
	p.diags.Sort()
	return f, p.diags
}

// ParseMocks reads a file of HTTP mocks, as `playbook chat --http-mock`
// takes: the same mapping of "METHOD URL" to {status, body, error} as a
// test's `http:`, at the top level or under an `http:` key.
func ParseMocks(name string, src []byte) ([]*Mock, source.Diagnostics) {
	p := &parser{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		p.yamlError(err)
		return nil, p.diags
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.MappingNode && len(root.Content) == 2 && root.Content[0].Value == "http" {
		root = deref(root.Content[1])
	}
	mocks := p.mocks(root)
	p.diags.Sort()
	return mocks, p.diags
}

type parser struct {
	file  string
	diags source.Diagnostics
}

var yamlLineRe = regexp.MustCompile(`line (\d+)(?::(\d+))?`)

// yamlError turns a YAML syntax error into a diagnostic at its position.
func (p *parser) yamlError(err error) {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		d := p.diags.Errorf(source.At(p.file, max(le.Mark.Line, 1), max(le.Mark.Column, 1)), "YAML syntax: %s", le.Message)
		if le.ContextMsg != "" {
			d.Detail = le.ContextMsg
			if le.ContextMark.Line > 0 {
				d.Detail += fmt.Sprintf(" (from line %d)", le.ContextMark.Line)
			}
		}
		return
	}
	line, col := 1, 1
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			col, _ = strconv.Atoi(m[2])
		}
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
	}
	p.diags.Errorf(source.At(p.file, max(line, 1), max(col, 1)), "YAML syntax: %s", msg)
}

// rng returns the range n covers; for a one-line scalar it spans the text.
func (p *parser) rng(n *yaml.Node) source.Range {
	r := source.At(p.file, n.Line, n.Column)
	if n.Kind == yaml.ScalarNode && !strings.Contains(n.Value, "\n") {
		w := utf8.RuneCountInString(n.Value)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			w += 2
		}
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			r.End.Column += w
		}
	}
	return r
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// expect reports msg when n is not of kind k.
func (p *parser) expect(n *yaml.Node, k yaml.Kind, msg string) bool {
	if n.Kind == k {
		return true
	}
	p.diags.Errorf(p.rng(n), "%s, not %s", msg, kindName(n))
	return false
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pairs calls fn for each key of mapping m that is in known, in order, and
// reports unknown and duplicate keys.
func (p *parser) pairs(m *yaml.Node, known []string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			p.diags.Errorf(p.rng(k), "a key must be a plain word")
			continue
		}
		if known != nil && !slices.Contains(known, key) {
			d := p.diags.Errorf(p.rng(k), "unknown key %q", key)
			if s := source.Suggest(key, known); s != "" {
				d.Detail = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Detail = "known keys: " + strings.Join(known, ", ")
			}
			continue
		}
		if seen[key] {
			p.diags.Errorf(p.rng(k), "%q is given twice", key)
			continue
		}
		seen[key] = true
		fn(key, k, v)
	}
}

// str reads a scalar as text.
func (p *parser) str(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.diags.Errorf(p.rng(n), "expected a single value, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) test(item *yaml.Node) *Test {
	if !p.expect(item, yaml.MappingNode, "each test must be a mapping with `name:` and `script:`") {
		return nil
	}
	t := &Test{File: p.file, Pos: p.rng(item), Now: DefaultNow}
	hasName, hasScript := false, false
	known := []string{"name", "agents_online", "open_hours", "locale", "visitor", "now", "http", "script", "expect"}
	p.pairs(item, known, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			if s, ok := p.str(v); ok {
				t.Name, hasName = s, true
				if strings.TrimSpace(s) == "" {
					p.diags.Errorf(p.rng(v), "the test name is empty")
				}
			}
		case "agents_online":
			t.Online = p.online(v)
		case "open_hours":
			t.Open = p.open(v)
		case "locale":
			if s, ok := p.str(v); ok {
				t.Locale = s
			}
		case "visitor":
			p.visitor(v, &t.Visitor)
		case "now":
			if s, ok := p.str(v); ok {
				if tm, err := parseTime(s); err != nil {
					p.diags.Errorf(p.rng(v), "%v", err).Detail = "write it like 2026-01-05T10:00:00Z"
				} else {
					t.Now = tm
				}
			}
		case "http":
			t.HTTP = p.mocks(v)
		case "script":
			hasScript = true
			t.Script = p.script(v)
		case "expect":
			p.expectations(v, &t.Expect)
		}
	})
	if !hasName {
		p.diags.Errorf(p.rng(item), "this test has no `name:`")
	}
	if !hasScript {
		d := p.diags.Errorf(p.rng(item), "this test has no `script:`")
		d.Detail = "a script lists what the bot says and what the visitor does, such as `- visitor: hello`"
	}
	return t
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

// online reads {team: N, ...}.
func (p *parser) online(v *yaml.Node) map[string]int {
	if !p.expect(v, yaml.MappingNode, "`agents_online` must map teams to numbers, like {sales: 1}") {
		return nil
	}
	out := map[string]int{}
	p.pairs(v, nil, func(team string, k, n *yaml.Node) {
		s, ok := p.str(n)
		if !ok {
			return
		}
		c, err := strconv.Atoi(s)
		if err != nil || c < 0 {
			p.diags.Errorf(p.rng(n), "agents online for %q must be a whole number, not %q", team, s)
			return
		}
		out[team] = c
	})
	return out
}

// open reads {team: bool, ...}.
func (p *parser) open(v *yaml.Node) map[string]bool {
	if !p.expect(v, yaml.MappingNode, "`open_hours` must map teams to true or false, like {sales: true}") {
		return nil
	}
	out := map[string]bool{}
	p.pairs(v, nil, func(team string, k, n *yaml.Node) {
		s, ok := p.str(n)
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			p.diags.Errorf(p.rng(n), "open_hours for %q must be true or false, not %q", team, s)
			return
		}
		out[team] = b
	})
	return out
}

func (p *parser) visitor(v *yaml.Node, out *engine.Visitor) {
	if !p.expect(v, yaml.MappingNode, "`visitor` must be a mapping, like {name: Ana, page: /pricing}") {
		return
	}
	known := []string{"id", "name", "email", "phone", "consent", "page", "referrer", "language", "country", "returning", "visits", "utm"}
	p.pairs(v, known, func(key string, k, n *yaml.Node) {
		if key == "utm" {
			if !p.expect(n, yaml.MappingNode, "`utm` must be a mapping, like {source: google}") {
				return
			}
			out.UTM = map[string]string{}
			p.pairs(n, nil, func(key string, k, n *yaml.Node) {
				if s, ok := p.str(n); ok {
					out.UTM[strings.TrimPrefix(key, "utm_")] = s
				}
			})
			return
		}
		s, ok := p.str(n)
		if !ok {
			return
		}
		switch key {
		case "id":
			out.ID = s
		case "name":
			out.Name = s
		case "email":
			out.Email = s
		case "phone":
			out.Phone = s
		case "consent":
			b, err := strconv.ParseBool(s)
			if err != nil {
				p.diags.Errorf(p.rng(n), "`consent` must be true or false, not %q", s)
			}
			out.Consent = b
		case "page":
			out.Page = s
		case "referrer":
			out.Referrer = s
		case "language":
			out.Language = s
		case "country":
			out.Country = s
		case "returning":
			b, err := strconv.ParseBool(s)
			if err != nil {
				p.diags.Errorf(p.rng(n), "`returning` must be true or false, not %q", s)
			}
			out.Returning = b
		case "visits":
			c, err := strconv.Atoi(s)
			if err != nil || c < 0 {
				p.diags.Errorf(p.rng(n), "`visits` must be a whole number, not %q", s)
			}
			out.Visits = c
		}
	})
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

func (p *parser) mocks(v *yaml.Node) []*Mock {
	if !p.expect(v, yaml.MappingNode, "`http` must map \"METHOD URL\" to a response, like \"GET https://api.example.com/x\": {status: 200, body: {...}}") {
		return nil
	}
	var out []*Mock
	p.pairs(v, nil, func(key string, k, n *yaml.Node) {
		method, url, ok := strings.Cut(strings.TrimSpace(key), " ")
		method = strings.ToUpper(method)
		url = strings.TrimSpace(url)
		if !ok || url == "" || !slices.Contains(methods, method) {
			d := p.diags.Errorf(p.rng(k), "%q is not \"METHOD URL\"", key)
			d.Detail = "write the method and the full URL, like \"GET https://api.example.com/plans\""
			return
		}
		m := &Mock{Method: method, URL: url, Status: 200, Pos: p.rng(k)}
		if !p.expect(n, yaml.MappingNode, "a mock response must be a mapping, like {status: 200, body: {plan: pro}}") {
			return
		}
		hasStatus := false
		p.pairs(n, []string{"status", "body", "error"}, func(key string, k, n *yaml.Node) {
			switch key {
			case "status":
				s, ok := p.str(n)
				if !ok {
					return
				}
				c, err := strconv.Atoi(s)
				if err != nil || c < 100 || c > 599 {
					p.diags.Errorf(p.rng(n), "status must be an HTTP status code such as 200 or 404, not %q", s)
					return
				}
				m.Status, hasStatus = c, true
			case "body":
				m.Body = p.value(n)
			case "error":
				if s, ok := p.str(n); ok {
					m.Error = s
				}
			}
		})
		if m.Error != "" && !hasStatus {
			m.Status = 0
		}
		out = append(out, m)
	})
	return out
}

// value decodes n like JSON would: maps with string keys, lists, strings,
// numbers (int or float64), bools, nil; timestamps become time.Time.
func (p *parser) value(n *yaml.Node) any {
	var v any
	if err := n.Decode(&v); err != nil {
		p.diags.Errorf(p.rng(n), "cannot read this value: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	return normalize(v)
}

// normalize makes decoded YAML look like decoded JSON: map[string]any and
// []any all the way down.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case uint64:
		if v <= math.MaxInt64 {
			return int(v)
		}
		return float64(v)
	case int64:
		return int(v)
	}
	return v
}

func (p *parser) script(v *yaml.Node) []*Step {
	if !p.expect(v, yaml.SequenceNode, "`script` must be a list of steps, like `- visitor: hello`") {
		return nil
	}
	var out []*Step
	for _, item := range v.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			d := p.diags.Errorf(p.rng(item), "each script step must be one `key: value`, like `- bot: Hi!` or `- visitor: hello`")
			if item.Kind == yaml.MappingNode && len(item.Content) > 2 {
				d.Summary = "a script step has one key; start a new `- ` line for each step"
			}
			continue
		}
		k, n := item.Content[0], deref(item.Content[1])
		key := k.Value
		if !slices.Contains(stepKinds, key) {
			d := p.diags.Errorf(p.rng(k), "unknown script step %q", key)
			if s := source.Suggest(key, stepKinds); s != "" {
				d.Detail = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Detail = "steps are: " + strings.Join(stepKinds, ", ")
			}
			continue
		}
		st := &Step{Kind: StepKind(key), Pos: p.rng(n)}
		switch st.Kind {
		case StepBot:
			s, ok := p.str(n)
			if !ok {
				continue
			}
			st.Text = s
			if len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
				re, err := regexp.Compile(s[1 : len(s)-1])
				if err != nil {
					p.diags.Errorf(p.rng(n), "bad pattern %s: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: ")).Detail =
						"a bot line written /like this/ is a regular expression; quote it differently to match the text exactly"
					continue
				}
				st.Re = re
			}
		case StepButtons:
			if !p.expect(n, yaml.SequenceNode, "`buttons` must be a list of labels, like [Yes, No]") {
				continue
			}
			st.Buttons = []string{}
			for _, b := range n.Content {
				if s, ok := p.str(deref(b)); ok {
					st.Buttons = append(st.Buttons, s)
				}
			}
		case StepVisitor, StepClick, StepAgentJoins, StepAgentLeaves, StepResume, StepIntent:
			s, ok := p.str(n)
			if !ok {
				continue
			}
			if s == "" && st.Kind != StepVisitor {
				p.diags.Errorf(p.rng(n), "`%s` needs a value", key)
				continue
			}
			st.Text = s
		case StepWait:
			s, ok := p.str(n)
			if !ok {
				continue
			}
			d, err := engine.ParseDuration(s)
			if err != nil || d <= 0 {
				p.diags.Errorf(p.rng(n), "`wait` needs a duration such as 30s, 2m or 1h, not %q", s)
				continue
			}
			st.Wait = d
		case StepAgentsOnline:
			st.Online = p.online(n)
			if st.Online == nil {
				continue
			}
		case StepOpenHours:
			st.Open = p.open(n)
			if st.Open == nil {
				continue
			}
		case StepPage:
			s, ok := p.str(n)
			if !ok {
				continue
			}
			if !strings.HasPrefix(s, "/") {
				p.diags.Errorf(p.rng(n), "`page` needs a path starting with /, like /pricing, not %q", s)
				continue
			}
			st.Text = s
		case StepVariant:
			if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
				st.Experiment = n.Content[0].Value
				n = deref(n.Content[1])
			}
			s, ok := p.str(n)
			if !ok || s == "" {
				if ok {
					p.diags.Errorf(p.rng(n), "`variant` needs a variant name, like `variant: b` or `variant: {greeting: b}`")
				}
				continue
			}
			st.Text = s
		case StepTriggers:
			s, ok := p.str(n)
			if !ok {
				continue
			}
			b, err := strconv.ParseBool(s)
			if err != nil {
				p.diags.Errorf(p.rng(n), "`triggers` is true or false, not %q", s)
				continue
			}
			st.Bool = b
		case StepLinks:
			if !p.expect(n, yaml.SequenceNode, "`links` must be a list of labels, or of {label: url}") {
				continue
			}
			st.Links = []LinkWant{}
			for _, item := range n.Content {
				item = deref(item)
				switch {
				case item.Kind == yaml.MappingNode && len(item.Content) == 2:
					if u, ok := p.str(deref(item.Content[1])); ok {
						st.Links = append(st.Links, LinkWant{Label: item.Content[0].Value, URL: u})
					}
				default:
					if l, ok := p.str(item); ok {
						st.Links = append(st.Links, LinkWant{Label: l})
					}
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func (p *parser) expectations(v *yaml.Node, e *Expect) {
	if !p.expect(v, yaml.MappingNode, "`expect` must be a mapping, like {outcome: qualified}") {
		return
	}
	known := []string{"outcome", "status", "vars", "handoff", "created", "calls"}
	p.pairs(v, known, func(key string, k, n *yaml.Node) {
		switch key {
		case "outcome", "status", "handoff":
			s, ok := p.str(n)
			if !ok {
				return
			}
			w := &Want{Value: s, Pos: p.rng(n)}
			switch key {
			case "outcome":
				e.Outcome = w
			case "handoff":
				e.Handoff = w
			case "status":
				if !slices.Contains(expectStatuses, s) {
					d := p.diags.Errorf(p.rng(n), "unknown status %q", s)
					d.Detail = "a status is one of " + strings.Join(expectStatuses, ", ")
					if sug := source.Suggest(s, expectStatuses); sug != "" {
						d.Detail = fmt.Sprintf("did you mean %q? ", sug) + d.Detail
					}
					return
				}
				e.Status = w
			}
		case "vars":
			if !p.expect(n, yaml.MappingNode, "`vars` must map var names to values, like {score: 3}") {
				return
			}
			p.pairs(n, nil, func(name string, k, n *yaml.Node) {
				e.Vars = append(e.Vars, &VarWant{Name: name, Value: p.value(n), Pos: p.rng(k)})
			})
		case "created":
			e.HasCreated, e.CreatedPos = true, p.rng(k)
			if !p.expect(n, yaml.SequenceNode, "`created` must be a list of records, like [{lead: {title: Ana}}, {task: {}}]") {
				return
			}
			for _, item := range n.Content {
				item = deref(item)
				if item.Kind == yaml.ScalarNode && item.Tag != "!!null" {
					// `- task` is short for `- task: {}`.
					e.Created = append(e.Created, &RecordWant{Kind: item.Value, Pos: p.rng(item)})
					continue
				}
				if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
					p.diags.Errorf(p.rng(item), "each created record is one `kind: {fields}`, like {lead: {title: Ana}}")
					continue
				}
				kind, fields := item.Content[0], deref(item.Content[1])
				rw := &RecordWant{Kind: kind.Value, Pos: p.rng(kind)}
				kinds := []string{"lead", "deal", "person", "organization", "task", "note"}
				if !slices.Contains(kinds, rw.Kind) {
					d := p.diags.Errorf(p.rng(kind), "unknown record kind %q", rw.Kind)
					d.Detail = "kinds are " + strings.Join(kinds, ", ")
					if s := source.Suggest(rw.Kind, kinds); s != "" {
						d.Detail = fmt.Sprintf("did you mean %q?", s)
					}
					continue
				}
				switch {
				case fields.Kind == yaml.ScalarNode && fields.Tag == "!!null":
				case fields.Kind == yaml.MappingNode:
					m, _ := p.value(fields).(map[string]any)
					rw.Fields = m
				default:
					p.diags.Errorf(p.rng(fields), "the fields of a %s must be a mapping, like {title: Ana}", rw.Kind)
					continue
				}
				e.Created = append(e.Created, rw)
			}
		case "calls":
			e.HasCalls, e.CallsPos = true, p.rng(k)
			if !p.expect(n, yaml.SequenceNode, "`calls` must be a list of \"METHOD URL\" or {call, headers, body}") {
				return
			}
			for _, item := range n.Content {
				item = deref(item)
				if item.Kind == yaml.MappingNode {
					// {call: "POST https://...", headers: {...}, body: {...}}
					w, cw := &Want{Pos: p.rng(item)}, &CallWant{}
					p.pairs(item, []string{"call", "headers", "body"}, func(key string, k, v *yaml.Node) {
						switch key {
						case "call":
							if s, ok := p.str(v); ok {
								w.Value, w.Pos = s, p.rng(v)
							}
						case "headers", "body":
							m, ok := p.value(v).(map[string]any)
							if !ok {
								p.diags.Errorf(p.rng(v), "`%s` must be a mapping of names to values", key)
								return
							}
							if key == "headers" {
								cw.Headers = m
							} else {
								cw.Body = m
							}
						}
					})
					if w.Value == "" {
						p.diags.Errorf(p.rng(item), "an expected call needs `call: \"METHOD URL\"`")
						continue
					}
					e.Calls = append(e.Calls, w)
					e.CallDetails = append(e.CallDetails, cw)
					continue
				}
				if s, ok := p.str(item); ok {
					e.Calls = append(e.Calls, &Want{Value: s, Pos: p.rng(item)})
					e.CallDetails = append(e.CallDetails, nil)
				}
			}
		}
	})
}
