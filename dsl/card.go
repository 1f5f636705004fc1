package dsl

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// card compiles one card of the flat list.
func (c *compiler) card(fc *flatCard) *engine.Card {
	ca := fc.ast
	f := ca.file.f
	c.cur, c.part, c.nset = fc, partBefore, 0
	card := &engine.Card{Name: fc.name, Pos: f.rng(ca.key), Next: fc.fall}
	fc.card = card
	if fc.gotoIdx >= -1 {
		card.Next = fc.gotoIdx
	}
	if len(ca.keys) == 0 {
		if ca.val.Kind == yaml.MappingNode {
			f.errorf(ca.key, "card %q does nothing: give it a `say`, `ask`, `handoff` or another key", ca.name)
		}
		return card
	}
	var kinds []string
	for _, k := range []string{"ask", "handoff", "call", "include"} {
		if ca.has(k) || (k == "ask" && ca.has("choices")) {
			if k == "ask" && !ca.has("ask") {
				k = "choices"
			}
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		d := f.errorf(ca.key, "card %q has two kinds: %s and %s", ca.name, kinds[0], kinds[1])
		d.Detail = "split it into two cards; the first can `goto` the second, or just sit above it"
	}

	if p, ok := ca.keys["skip_if"]; ok {
		if !ca.has("ask") && !ca.has("choices") {
			f.errorf(p.key, "skip_if only works on a question (a card with `ask` or `choices`)")
		} else {
			card.Ask = &engine.Ask{}
			card.Ask.SkipIf = c.compileExpr(f, p.value, engine.TypeBool, "skip_if")
		}
	}
	if p, ok := ca.keys["say"]; ok {
		if p.value.Kind == yaml.SequenceNode {
			if len(p.value.Content) == 0 {
				f.errorf(p.value, "say has an empty list")
			}
			for _, e := range p.value.Content {
				if t := c.text(f, e, "say"); t != nil {
					card.Say = append(card.Say, t)
				}
			}
		} else if t := c.text(f, p.value, "say"); t != nil {
			card.Say = append(card.Say, t)
		}
	}
	if p, ok := ca.keys["image"]; ok {
		card.Image, _ = f.str(p.value, "image")
	}
	if p, ok := ca.keys["links"]; ok {
		c.links(f, card, p.value)
	}
	c.ask(fc, card)
	c.part = partSet
	if p, ok := ca.keys["set"]; ok {
		for _, sp := range f.pairs(p.value, "set", nil) {
			v, ok := c.varDecl[sp.key.Value]
			if !ok {
				d := f.errorf(sp.key, "set: %q is not a declared var", sp.key.Value)
				c.guess(fc, d, sp.key.Value)
				if d.Detail == "" {
					d.Detail = "declare it under `vars:`"
				}
				continue
			}
			switch {
			case sp.value.Kind != yaml.ScalarNode || sp.value.Tag == "!!null":
				f.errorf(sp.value, "set %s: the value must be an expression, not %s", v.Name, kindName(sp.value))
			case strings.Contains(sp.value.Value, "{{"):
				// A text with holes: only for text vars.
				if !slices.Contains([]engine.Type{engine.TypeString, engine.TypeEmail, engine.TypePhone, engine.TypeURL, engine.TypeAny}, v.Type) {
					f.errorf(sp.value, "set %s: a text with {{ }} makes a string, but %s is a %s", v.Name, v.Name, v.Type)
				} else if t := c.template(f, sp.value); t != nil {
					card.Set = append(card.Set, engine.Assign{Var: v.Name, Tmpl: t})
				}
			default:
				if e := c.compileExpr(f, sp.value, v.Type, "set "+v.Name); e != nil {
					e.Loose = !fitsVar(e, v.Type)
					card.Set = append(card.Set, engine.Assign{Var: v.Name, Expr: e})
					for len(fc.maybeUnset) < len(card.Set)-1 {
						fc.maybeUnset = append(fc.maybeUnset, false)
					}
					fc.maybeUnset = append(fc.maybeUnset, c.rootNothing || e.Loose)
				}
			}
			c.write(fc, v.Name)
			c.nset++
		}
	}
	if p, ok := ca.keys["create"]; ok {
		c.create(f, card, p.value)
	}
	if p, ok := ca.keys["call"]; ok {
		card.Call = c.call(fc, p.value)
	}
	if p, ok := ca.keys["handoff"]; ok {
		card.Handoff = c.handoff(fc, p.value)
	}
	if fc.sub != nil {
		card.Include = fc.sub.file.id
		card.Next = fc.sub.order[0]
	}
	if p, ok := ca.keys["end"]; ok {
		card.HasEnd = true
		switch {
		case p.value.Tag == "!!bool" && p.value.Value == "true":
		case p.value.Kind == yaml.ScalarNode && p.value.Tag != "!!null" && p.value.Tag != "!!bool":
			card.End = p.value.Value
		default:
			f.errorf(p.value, "end takes an outcome word (such as qualified) or true")
		}
		if ca.has("goto") {
			f.warnf(ca.keys["goto"].key, "goto never runs: the card ends the conversation first")
		}
		if ca.has("branch") {
			f.warnf(ca.keys["branch"].key, "branch never runs: the card ends the conversation first")
		}
		if ca.has("handoff") {
			// an end label on a handoff card names the outcome of a successful handoff
		}
	}
	if p, ok := ca.keys["branch"]; ok {
		c.part = partBranch
		c.branch(fc, card, p.value)
	}
	if p, ok := ca.keys["variants"]; ok {
		c.variants(fc, card, p)
	} else if p, ok := ca.keys["experiment"]; ok {
		d := f.errorf(p.key, "experiment names the variants of a card, and this card has no `variants:`")
		d.Detail = "add variants: [{name: a, goto: card-a}, {name: b, goto: card-b}]"
	}
	if fc.ns.prefix != "" && fc.fall == fc.ns.ret && fc.gotoIdx < -1 {
		card.Return = true
	}
	return card
}

func (c *compiler) varNames() []string {
	names := make([]string, len(c.vars))
	for i, v := range c.vars {
		names[i] = v.Name
	}
	return names
}

// guess adds "did you mean" to d, the error for an undeclared var name
// that card fc sets, and takes the var meant as set and used.
func (c *compiler) guess(fc *flatCard, d *source.Diagnostic, name string) {
	s := source.Suggest(name, c.varNames())
	if s == "" {
		return
	}
	d.Detail = fmt.Sprintf("did you mean %q?", s)
	fc.guessed = append(fc.guessed, s)
	c.used[s] = true
}

func (c *compiler) write(fc *flatCard, name string) {
	if fc != nil {
		fc.writes = append(fc.writes, name)
	}
	c.used[name] = true
}

func (c *compiler) links(f *fileCtx, card *engine.Card, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		f.errorf(n, "links must be a list of {label, url}")
		return
	}
	for _, e := range n.Content {
		var l engine.Link
		for _, p := range f.pairs(e, "link", linkKeys) {
			switch p.key.Value {
			case "label":
				l.Label = c.text(f, p.value, "link label")
			case "url":
				l.URL, _ = f.str(p.value, "url")
				if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "mailto" && u.Scheme != "tel") {
					f.errorf(p.value, "link url %q must start with https://, http://, mailto: or tel:", l.URL)
				}
			}
		}
		if l.Label == nil || l.URL == "" {
			f.errorf(e, "a link needs a label and a url")
			continue
		}
		card.Links = append(card.Links, l)
	}
}

var inputTypes = []string{"text", "email", "phone", "number", "int", "date", "time", "url", "yes_no"}

// inputFits lists the var types each input may be saved into.
var inputFits = map[engine.InputType][]engine.Type{
	engine.InputText:   {engine.TypeString},
	engine.InputEmail:  {engine.TypeEmail, engine.TypeString},
	engine.InputPhone:  {engine.TypePhone, engine.TypeString},
	engine.InputURL:    {engine.TypeURL, engine.TypeString},
	engine.InputNumber: {engine.TypeNumber},
	engine.InputInt:    {engine.TypeInt, engine.TypeNumber},
	engine.InputDate:   {engine.TypeDate},
	engine.InputYesNo:  {engine.TypeBool},
	engine.InputTime:   {engine.TypeString},
	engine.InputChoice: {engine.TypeString},
	engine.InputIntent: {engine.TypeString},
}

// inputFor returns the input whose answer a var of type t keeps ("" for
// none).
func inputFor(t engine.Type) string {
	switch t {
	case engine.TypeNumber:
		return "number"
	case engine.TypeInt:
		return "int"
	case engine.TypeBool:
		return "yes_no"
	case engine.TypeDate:
		return "date"
	case engine.TypeEmail:
		return "email"
	case engine.TypePhone:
		return "phone"
	case engine.TypeURL:
		return "url"
	}
	return ""
}

// ask compiles a card's question: ask, input, choices, save, validate, retry.
func (c *compiler) ask(fc *flatCard, card *engine.Card) {
	ca := fc.ast
	f := ca.file.f
	pAsk, hasAsk := ca.keys["ask"]
	pCh, hasCh := ca.keys["choices"]
	if !hasAsk && !hasCh {
		for _, k := range []string{"input", "save", "validate", "retry", "intents", "other", "fallback", "min_confidence"} {
			if p, ok := ca.keys[k]; ok {
				d := f.errorf(p.key, "%s only works on a question", k)
				d.Detail = "add `ask: your question` to this card"
			}
		}
		return
	}
	if card.Ask == nil {
		card.Ask = &engine.Ask{}
	}
	a := card.Ask
	a.Input = engine.InputText
	a.Retry.Then = -1
	if hasAsk {
		a.Prompt = c.text(f, pAsk.value, "ask")
	} else if len(card.Say) == 0 {
		d := f.errorf(pCh.key, "choices need a question")
		d.Detail = "add `say:` or `ask:` with the question above the buttons"
	}
	if p, ok := ca.keys["input"]; ok {
		if ca.has("intents") {
			f.errorf(p.key, "a question takes either `input` or `intents`, not both")
		} else if hasCh {
			f.errorf(p.key, "a question takes either `input` or `choices`, not both")
		} else if s, ok := f.str(p.value, "input"); ok {
			if !slices.Contains(inputTypes, s) {
				d := f.errorf(p.value, "unknown input type %q", s)
				suggest(d, s, inputTypes)
				if d.Detail == "" {
					d.Detail = "input types are " + strings.Join(inputTypes, ", ")
				}
			} else {
				a.Input = engine.InputType(s)
			}
		}
	}
	if hasCh {
		a.Input = engine.InputChoice
		c.choices(fc, a, pCh.value)
	}
	c.freeText(fc, a)
	var saved *engine.VarDecl
	if p, ok := ca.keys["save"]; ok {
		if name, ok := f.str(p.value, "save"); ok {
			v, ok := c.varDecl[name]
			if !ok {
				d := f.errorf(p.value, "save: %q is not a declared var", name)
				c.guess(fc, d, name)
				if d.Detail == "" {
					d.Detail = fmt.Sprintf("declare it under `vars:`, e.g. %s: {type: %s}", name, inputFits[a.Input][0])
				}
			} else {
				if fits := inputFits[a.Input]; v.Type != engine.TypeAny && !slices.Contains(fits, v.Type) {
					d := f.errorf(p.value, "save: var %q is %s, but the answer to this question is %s", name, article(string(v.Type)), article(string(fits[0])))
					d.Detail = fmt.Sprintf("declare %s as type %s", name, fits[0])
					if in := inputFor(v.Type); in != "" && a.Input != engine.InputChoice {
						d.Detail = fmt.Sprintf("to ask for %s, write `input: %s`; to keep %s answer, save it into %s var", article(string(v.Type)), in, article(string(a.Input)), article(string(fits[0])))
					}
				}
				a.Save = name
				saved = v
				c.write(fc, name)
			}
		}
	}
	// validate runs with the new answer already in its var.
	c.part = partValidate
	if p, ok := ca.keys["validate"]; ok {
		items := []*yaml.Node{p.value}
		if p.value.Kind == yaml.SequenceNode {
			items = p.value.Content
		}
		if saved == nil {
			f.errorf(p.key, "validate needs `save:` so the rule can read the answer")
		}
		for _, it := range items {
			var v engine.Validation
			for _, vp := range f.pairs(it, "validate", validateKeys) {
				switch vp.key.Value {
				case "if":
					v.If = c.compileExpr(f, vp.value, engine.TypeBool, "validate.if")
				case "say":
					v.Say = c.text(f, vp.value, "validate.say")
				}
			}
			if it.Kind == yaml.MappingNode && v.If == nil && !c.diags.HasErrors() {
				f.errorf(it, "validate needs `if:` (the rule an answer must pass)")
			}
			if v.If != nil {
				a.Validate = append(a.Validate, v)
			}
		}
	}
	c.part = partBefore // retry hints: the refused answer is not kept
	if p, ok := ca.keys["retry"]; ok {
		for _, rp := range f.pairs(p.value, "retry", retryKeys) {
			switch rp.key.Value {
			case "max":
				n, err := strconv.Atoi(rp.value.Value)
				if err != nil || n < 1 || n > 100 {
					f.errorf(rp.value, "retry.max must be a whole number from 1 to 100")
				}
				a.Retry.Max = n
			case "say":
				a.Retry.Say = c.text(f, rp.value, "retry.say")
			case "then":
				a.Retry.Then = c.cardRef(fc, rp.value, "retry.then")
			}
		}
		if a.Retry.Max == 0 && a.Retry.Then >= 0 {
			f.errorf(p.value, "retry.then needs retry.max: after how many invalid answers to go there")
		}
	}
}

func (c *compiler) choices(fc *flatCard, a *engine.Ask, n *yaml.Node) {
	f := fc.ast.file.f
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		f.errorf(n, "choices must be a list of labels or {label, value, goto}")
		return
	}
	seen := map[string]map[string]*yaml.Node{} // locale -> normalized label -> node
	values := map[string]*yaml.Node{}
	for _, e := range n.Content {
		e = resolveAlias(e)
		ch := &engine.Choice{Goto: -1, Pos: f.rng(e)}
		var labelNode *yaml.Node
		switch e.Kind {
		case yaml.ScalarNode:
			labelNode = e
		case yaml.MappingNode:
			for _, p := range f.pairs(e, "choice", choiceKeys) {
				switch p.key.Value {
				case "label":
					labelNode = p.value
				case "value":
					ch.Value, _ = f.str(p.value, "choice value")
				case "goto":
					ch.Goto = c.cardRef(fc, p.value, "goto")
				case "synonyms":
					ch.Synonyms = c.phrases(f, p.value, "synonyms")
				}
			}
			if labelNode == nil {
				f.errorf(e, "a choice needs a `label`")
				continue
			}
		default:
			f.errorf(e, "a choice must be a label or {label, value, goto}")
			continue
		}
		ch.Label = c.text(f, labelNode, "choice label")
		if ch.Label == nil {
			continue
		}
		for l, tm := range ch.Label.ByLocale {
			if !tm.IsStatic {
				f.errorf(labelNode, "choice labels cannot use {{ }}: buttons are matched by their text")
				break
			}
			norm := normalizeLabel(tm.Static)
			if seen[l] == nil {
				seen[l] = map[string]*yaml.Node{}
			}
			if first, dup := seen[l][norm]; dup {
				d := f.errorf(labelNode, "duplicate choice label %q", tm.Static)
				d.Detail = fmt.Sprintf("the same label is at line %d; visitors could not tell them apart", first.Line)
			} else {
				seen[l][norm] = labelNode
			}
		}
		if ch.Value == "" {
			if tm := ch.Label.ByLocale[c.locale]; tm != nil {
				ch.Value = tm.Static
			}
		}
		if first, dup := values[ch.Value]; dup && ch.Value != "" {
			d := f.errorf(e, "duplicate choice value %q", ch.Value)
			d.Detail = fmt.Sprintf("the same value is at line %d", first.Line)
		} else {
			values[ch.Value] = e
		}
		a.Choices = append(a.Choices, ch)
	}
}

// normalizeLabel folds case, accents and spaces the way the engine matches
// what visitors type to labels.
func normalizeLabel(s string) string {
	return engine.NormalizeLabel(s)
}

var handoffKeys = []string{"team", "say", "wait", "offline", "priority", "back_to"}

func (c *compiler) handoff(fc *flatCard, n *yaml.Node) *engine.Handoff {
	f := fc.ast.file.f
	h := &engine.Handoff{Wait: 2 * time.Minute, Offline: -1}
	hasOffline := false
	for _, p := range f.pairs(n, "handoff", handoffKeys) {
		switch p.key.Value {
		case "team":
			if s, ok := f.str(p.value, "team"); ok {
				if !slugRE.MatchString(s) {
					f.errorf(p.value, "team %q must be lowercase letters, digits and dashes, like sales", s)
				}
				h.Team = s
			}
		case "say":
			h.Say = c.text(f, p.value, "handoff.say")
		case "wait":
			h.Wait = c.duration(f, p.value, "handoff.wait", 24*time.Hour)
		case "offline":
			hasOffline = true
			h.Offline = c.cardRef(fc, p.value, "handoff.offline")
		case "back_to":
			_, nodes := f.strList(p.value, "handoff.back_to")
			h.BackTo = []int{}
			for _, bn := range nodes {
				if i := c.cardRef(fc, bn, "handoff.back_to"); i >= 0 {
					if slices.Contains(h.BackTo, i) {
						f.errorf(bn, "card %q is listed twice in back_to", bn.Value)
						continue
					}
					h.BackTo = append(h.BackTo, i)
					fc.backTo = append(fc.backTo, bn)
				}
			}
		case "priority":
			if s, ok := f.str(p.value, "priority"); ok {
				prios := []string{"low", "normal", "high", "urgent"}
				if !slices.Contains(prios, s) {
					d := f.errorf(p.value, "priority must be one of %s", strings.Join(prios, ", "))
					suggest(d, s, prios)
				}
				h.Priority = s
			}
		}
	}
	if n.Kind == yaml.MappingNode {
		if h.Team == "" {
			f.errorf(n, "handoff needs `team:` (the team whose agents take the chat)")
		}
		if !hasOffline {
			d := f.errorf(fc.ast.keys["handoff"].key, "handoff has no `offline` card")
			d.Detail = "add `offline: some-card` to run when nobody of the team is online or accepts in time"
		}
	}
	return h
}

var callKeys = []string{"url", "method", "headers", "body", "timeout", "save", "on_error"}

func (c *compiler) call(fc *flatCard, n *yaml.Node) *engine.Call {
	f := fc.ast.file.f
	call := &engine.Call{Method: "", Timeout: 5 * time.Second, OnError: -1}
	var urlNode *yaml.Node
	for _, p := range f.pairs(n, "call", callKeys) {
		switch p.key.Value {
		case "url":
			urlNode = p.value
			if _, ok := f.str(p.value, "url"); ok {
				call.URL = c.template(f, p.value)
			}
		case "method":
			if s, ok := f.str(p.value, "method"); ok {
				s = strings.ToUpper(s)
				if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, s) {
					f.errorf(p.value, "method must be GET, POST, PUT, PATCH or DELETE")
				}
				call.Method = s
			}
		case "headers":
			for _, hp := range f.pairs(p.value, "headers", nil) {
				if _, ok := f.str(hp.value, "header "+hp.key.Value); ok {
					call.Headers = append(call.Headers, engine.Field{Name: hp.key.Value, Value: &engine.Value{Tmpl: c.template(f, hp.value)}})
				}
			}
		case "body":
			call.Body = c.fields(f, p.value, "body", nil, nil)
		case "timeout":
			call.Timeout = c.duration(f, p.value, "call.timeout", 30*time.Second)
		case "save":
			for _, sp := range f.pairs(p.value, "call.save", nil) {
				name := sp.key.Value
				if _, ok := c.varDecl[name]; !ok {
					d := f.errorf(sp.key, "call.save: %q is not a declared var", name)
					c.guess(fc, d, name)
					continue
				}
				path, ok := f.str(sp.value, "call.save path")
				if !ok {
					continue
				}
				call.Save = append(call.Save, engine.CallSave{Var: name, Path: strings.Split(path, ".")})
				c.write(fc, name)
			}
		case "on_error":
			call.OnError = c.cardRef(fc, p.value, "on_error")
		}
	}
	if call.Method == "" {
		call.Method = "GET"
		if call.Body != nil {
			call.Method = "POST"
		}
	}
	if urlNode == nil {
		if n.Kind == yaml.MappingNode {
			f.errorf(n, "call needs `url:`")
		}
		return call
	}
	raw := urlNode.Value
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		f.errorf(urlNode, "call url must start with https:// (or http://)")
		return call
	}
	host, ok := staticHost(raw)
	switch {
	case !ok:
		f.errorf(urlNode, "call url must name its host literally; only the path and query may use {{ }}")
	case !c.hostAllowed(host):
		d := f.errorf(urlNode, "host %q is not in allow_hosts", host)
		d.Detail = fmt.Sprintf("add it at the top: allow_hosts: [%s]", host)
	}
	return call
}

// recordFields lists the fields each record kind takes; nested objects
// list theirs under "kind.field".
var recordFields = map[string][]string{
	"lead":             {"title", "person", "organization", "value", "currency", "owner", "labels", "source", "note", "custom"},
	"deal":             {"title", "value", "currency", "stage", "pipeline", "person", "organization", "owner", "expected_close", "note", "custom"},
	"person":           {"name", "email", "phone", "organization", "owner", "note", "custom"},
	"organization":     {"name", "domain", "owner", "note", "custom"},
	"task":             {"subject", "due", "assignee", "type", "note", "custom"},
	"note":             {"content", "about", "custom"},
	"person-ref":       {"name", "email", "phone"},
	"organization-ref": {"name", "domain"},
}

var requiredField = map[string]string{"lead": "title", "deal": "title", "task": "subject", "note": "content", "person": "", "organization": "name"}

// fieldTypes are the types that fields with these names must have.
var fieldTypes = map[string]engine.Type{"value": engine.TypeNumber, "due": engine.TypeAny, "expected_close": engine.TypeAny}

var recordKinds = []string{"lead", "deal", "person", "organization", "task", "note"}

func (c *compiler) create(f *fileCtx, card *engine.Card, n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		for _, p := range f.pairs(it, "create", recordKinds) {
			kind := p.key.Value
			cr := &engine.Create{Kind: engine.RecordKind(kind), Pos: f.rng(p.key)}
			if p.value.Kind == yaml.ScalarNode && p.value.Tag == "!!null" {
				p.value.Kind = yaml.MappingNode // `task:` with nothing under it
			}
			cr.Fields = c.fields(f, p.value, kind, recordFields[kind], nil)
			if req := requiredField[kind]; req != "" && p.value.Kind == yaml.MappingNode {
				found := false
				for _, fl := range cr.Fields {
					found = found || fl.Name == req
				}
				if !found {
					d := f.errorf(p.key, "a %s needs `%s:`", kind, req)
					d.Detail = fmt.Sprintf("for example %s: {%s: \"...\"}", kind, req)
				}
			}
			card.Create = append(card.Create, cr)
		}
	}
}

// fields compiles a mapping of record or body fields. allowed nil accepts
// any name.
func (c *compiler) fields(f *fileCtx, n *yaml.Node, what string, allowed []string, _ []string) []engine.Field {
	var out []engine.Field
	for _, p := range f.pairs(n, what, allowed) {
		name := p.key.Value
		fl := engine.Field{Name: name}
		switch p.value.Kind {
		case yaml.MappingNode:
			var sub []string
			switch {
			case name == "person" && allowed != nil:
				sub = recordFields["person-ref"]
			case name == "organization" && allowed != nil:
				sub = recordFields["organization-ref"]
			}
			fl.Fields = c.fields(f, p.value, what+"."+name, sub, nil)
		case yaml.SequenceNode:
			fl.Value = &engine.Value{Lit: c.literal(f, p.value, engine.TypeList, name)}
			if allowed != nil && name != "labels" {
				c.recordLiteral(f, p.value, what, name, fl.Value.Lit)
			}
		default:
			fl.Value = c.value(f, p.value, fieldTypes[name])
			switch {
			case allowed == nil || fl.Value == nil:
			case fl.Value.Lit != nil:
				c.recordLiteral(f, p.value, what, name, fl.Value.Lit)
			case fl.Value.Tmpl != nil && !strings.Contains(p.value.Value, "{{"):
				c.recordLiteral(f, p.value, what, name, p.value.Value) // quoted text
			}
		}
		out = append(out, fl)
	}
	return out
}

// recordLiteral refuses a record field written out in the playbook that
// the CRM would refuse while chatting (and then lose the record).
func (c *compiler) recordLiteral(f *fileCtx, n *yaml.Node, kind, name string, lit any) {
	switch {
	case kind == "note" && name == "about":
		switch a := strings.ToLower(strings.TrimSpace(fmt.Sprint(lit))); a {
		case "", "person", "lead", "deal", "owner":
		default:
			d := f.errorf(n, "a note is about a person, lead, deal or owner, not %q", fmt.Sprint(lit))
			d.Detail = "write about: person (the default), lead, deal or owner"
		}
	case kind == "note" && name == "content":
		if strings.TrimSpace(fmt.Sprint(lit)) == "" {
			d := f.errorf(n, "a note with no content is not kept")
			d.Detail = "write what the note says, such as content: \"{{ question }}\""
		}
	case name == "custom":
		d := f.errorf(n, "custom holds your own fields, such as custom: {plan: pro}, not %s", written(n))
		d.Detail = "write the fields under it, or an expression that makes a map"
	case name == "person" || name == "organization":
		if _, ok := lit.(string); !ok {
			d := f.errorf(n, "%s is a name (a text) or {name: ...}, not %s", name, written(n))
			d.Detail = fmt.Sprintf("for example %s: {name: \"...\"}", name)
		}
	}
}

// written names what n holds for a message: a value as it is written.
func written(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// value compiles one field value: quoted text is text (a template if it has
// {{ }}); a plain value is an expression when it reads as one (it uses an
// operator or parenthesis, or only known names), else text. YAML numbers and
// booleans are literals.
func (c *compiler) value(f *fileCtx, n *yaml.Node, want engine.Type) *engine.Value {
	if n.Tag == "!!null" {
		return &engine.Value{}
	}
	if strings.Contains(n.Value, "{{") || isString(n) && !isPlain(n) {
		if t := c.template(f, n); t != nil {
			return &engine.Value{Tmpl: t}
		}
		return nil
	}
	switch n.Tag {
	case "!!int", "!!float", "!!bool":
		return &engine.Value{Lit: c.literal(f, n, engine.TypeAny, "value")}
	}
	s := n.Value
	if n.Tag == "!!timestamp" {
		return &engine.Value{Lit: s}
	}
	// A plain value is an expression only when it uses a var, visitor or a
	// built-in; "follow-up", "1-10" or "We'll call" stay text. One that
	// nearly names something (a typo such as "budjet * 12") must compile.
	known, near := c.namesIn(s)
	if !known && !near {
		if want == engine.TypeNumber {
			if _, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64); err != nil {
				d := f.errorf(n, "%q is not a number, and the CRM keeps only a number here", s)
				d.Detail = "write a number (1200) or an expression (budget * 12)"
			}
		}
		return &engine.Value{Lit: s}
	}
	if _, err := c.env.Compile(s, want); err == nil || near || known {
		// a field that is just a var is left empty when the var is unset
		c.inHole = identRE.MatchString(s)
		e := c.compileExpr(f, n, want, "value")
		c.inHole = false
		if e != nil {
			return &engine.Value{Expr: e}
		}
		return nil
	}
	return &engine.Value{Lit: s}
}

var wordRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// namesIn reports whether s uses a known name (a var, visitor, a built-in),
// and whether it uses a word that is a likely typo of one.
func (c *compiler) namesIn(s string) (known, near bool) {
	names := c.env.Names()
	for _, w := range wordRE.FindAllString(s, -1) {
		if slices.Contains(names, w) {
			known = true
		} else if len(w) > 3 && source.Suggest(w, names) != "" {
			near = true
		}
	}
	return known, near
}

func (c *compiler) branch(fc *flatCard, card *engine.Card, n *yaml.Node) {
	f := fc.ast.file.f
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		f.errorf(n, "branch must be a list of {if: condition, goto: card}")
		return
	}
	for i, e := range n.Content {
		var b engine.Branch
		b.Goto = -1
		hasGoto := false
		for _, p := range f.pairs(e, "branch", branchKeys) {
			switch p.key.Value {
			case "if":
				b.If = c.compileExpr(f, p.value, engine.TypeBool, "branch if")
			case "goto":
				hasGoto = true
				b.Goto = c.cardRef(fc, p.value, "branch goto")
			}
		}
		if e.Kind != yaml.MappingNode {
			continue
		}
		if !hasGoto {
			f.errorf(e, "each branch needs `goto:`")
		}
		if b.If == nil && i < len(n.Content)-1 {
			if _, hasIf := findKey(e, "if"); !hasIf {
				f.warnf(n.Content[i+1], "this branch never runs: the one above has no `if` and always wins")
			}
		}
		card.Branch = append(card.Branch, b)
	}
}

// variantsWith are the card keys a card with variants may not have: each
// picks where the conversation goes, or waits, and the variant does that.
var variantsWith = []string{"ask", "choices", "handoff", "call", "include", "branch", "goto", "end"}

// variants compiles an A/B experiment: `variants:` (a list of {name,
// weight, goto}) and the optional `experiment:` name.
func (c *compiler) variants(fc *flatCard, card *engine.Card, p pair) {
	ca := fc.ast
	f := ca.file.f
	for _, k := range variantsWith {
		if kp, ok := ca.keys[k]; ok {
			d := f.errorf(kp.key, "a card with `variants` cannot have `%s`: the variant picks where the conversation goes", k)
			d.Detail = "put the " + k + " in a card of its own, such as the card a variant goes to"
		}
	}
	x := &engine.Experiment{Name: fc.name, Pos: f.rng(p.key)}
	nameNode := p.key
	if ep, ok := ca.keys["experiment"]; ok {
		if s, ok := f.str(ep.value, "experiment"); ok {
			if !cardNameRE.MatchString(s) {
				f.errorf(ep.value, "experiment name %q must be letters, digits, _ and -, like pricing-copy", s)
			}
			x.Name = fc.ns.prefix + s
			nameNode = ep.value
		}
	}
	if c.experiments == nil {
		c.experiments = map[string]*yaml.Node{}
	}
	if first, dup := c.experiments[x.Name]; dup {
		d := f.errorf(nameNode, "experiment %q is also at line %d", x.Name, first.Line)
		d.Detail = "give each experiment its own name with `experiment:`; a visitor's variant is kept per name"
	} else {
		c.experiments[x.Name] = nameNode
	}
	n := p.value
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d := f.errorf(n, "variants must be a list of {name, weight, goto}")
		d.Detail = "for example variants: [{name: a, goto: card-a}, {name: b, goto: card-b}]"
		return
	}
	if len(n.Content) < 2 {
		d := f.errorf(n, "an experiment needs at least two variants")
		d.Detail = "add another {name, goto}; with one variant there is nothing to compare"
	}
	names := map[string]*yaml.Node{}
	for _, e := range n.Content {
		e = resolveAlias(e)
		v := engine.Variant{Weight: 1, Goto: -1, Pos: f.rng(e)}
		hasName, hasGoto := false, false
		for _, vp := range f.pairs(e, "variant", variantKeys) {
			switch vp.key.Value {
			case "name":
				s, ok := f.str(vp.value, "variant name")
				if !ok {
					continue
				}
				hasName = true
				if !cardNameRE.MatchString(s) {
					f.errorf(vp.value, "variant name %q must be letters, digits, _ and -, like a or short-copy", s)
				}
				if first, dup := names[s]; dup {
					d := f.errorf(vp.value, "duplicate variant name %q", s)
					d.Detail = fmt.Sprintf("the same name is at line %d; the funnel could not tell them apart", first.Line)
				} else {
					names[s] = vp.value
				}
				v.Name = s
			case "weight":
				w, err := strconv.Atoi(vp.value.Value)
				if vp.value.Kind != yaml.ScalarNode || err != nil || w < 1 || w > 1000000 {
					d := f.errorf(vp.value, "weight must be a whole number above 0, not %s", quoteNode(vp.value))
					d.Detail = "weights are shares: 50 and 50 split evenly, 90 and 10 send one visitor in ten to the second"
					continue
				}
				v.Weight = w
			case "goto":
				hasGoto = true
				v.Goto = c.cardRef(fc, vp.value, "variant goto")
			}
		}
		if e.Kind != yaml.MappingNode {
			continue
		}
		if !hasName {
			f.errorf(e, "each variant needs `name:`")
		}
		if !hasGoto {
			d := f.errorf(e, "each variant needs `goto:`")
			d.Detail = "the card visitors in this variant go to"
		}
		x.Variants = append(x.Variants, v)
		x.Total += v.Weight
	}
	card.Experiment = x
}

// quoteNode shows a YAML value in a message: a scalar quoted, else its kind.
func quoteNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

func findKey(n *yaml.Node, key string) (*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], true
		}
	}
	return nil, false
}

// article puts "a" or "an" before a type name.
func article(t string) string {
	if t != "" && strings.ContainsRune("aeiou", rune(t[0])) {
		return "an " + t
	}
	return "a " + t
}

// fitsVar reports whether e's value surely fits a var of type t, as its
// type is known when the playbook loads: a number for a number var, a
// whole number for an int var, a text for a text var. A value whose type
// is only known while chatting (a map field, an any var, x ?? y of two
// types, mean()) may not.
func fitsVar(e *engine.Expr, t engine.Type) bool {
	if t == engine.TypeAny || t == "" {
		return true
	}
	return fitsNode(e.Prog.Node(), t)
}

func fitsNode(n ast.Node, t engine.Type) bool {
	switch x := n.(type) {
	case *ast.BinaryNode:
		if x.Operator == "??" {
			return fitsNode(x.Left, t) && fitsNode(x.Right, t)
		}
	case *ast.ConditionalNode:
		return fitsNode(x.Exp1, t) && fitsNode(x.Exp2, t)
	case *ast.NilNode:
		return true // unset, as written
	case *ast.BuiltinNode:
		if x.Name == "mean" || x.Name == "median" {
			return t == engine.TypeNumber // expr types mean(1, 2) as an int
		}
	}
	got := n.Type()
	if got == nil || got == durationType {
		return false
	}
	want := reflect.TypeOf(engine.ZeroOf(t))
	switch {
	case got == want:
		return true
	case t == engine.TypeNumber:
		return got.Kind() >= reflect.Int && got.Kind() <= reflect.Float64
	case t == engine.TypeInt:
		return got.Kind() >= reflect.Int && got.Kind() <= reflect.Uint64
	case t == engine.TypeString || t == engine.TypeEmail || t == engine.TypePhone || t == engine.TypeURL:
		return got.Kind() == reflect.String
	case t == engine.TypeList:
		return got.Kind() == reflect.Slice || got.Kind() == reflect.Array
	}
	return false
}
