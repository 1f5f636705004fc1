package dsl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/engine"
)

// freeText compiles what a question does with free text: `other` on a
// choices card, and `intents` with `fallback` and `min_confidence`.
func (c *compiler) freeText(fc *flatCard, a *engine.Ask) {
	ca := fc.ast
	f := ca.file.f
	a.Fallback = -1
	pIn, hasIntents := ca.keys["intents"]
	if p, ok := ca.keys["other"]; ok {
		if !ca.has("choices") {
			d := f.errorf(p.key, "other only works on a question with `choices`")
			d.Detail = "it says where free text goes when it matches no choice"
		} else {
			a.Other = c.other(fc, p.value)
		}
	}
	if hasIntents && ca.has("choices") {
		f.errorf(pIn.key, "a question takes either `choices` or `intents`, not both")
		return
	}
	for _, k := range []string{"fallback", "min_confidence"} {
		if p, ok := ca.keys[k]; ok && !hasIntents {
			d := f.errorf(p.key, "%s only works on a question with `intents`", k)
			d.Detail = "add `intents:` with example phrases, or remove it"
		}
	}
	if !hasIntents {
		return
	}
	a.Input = engine.InputIntent
	c.intents(fc, a, pIn.value)
	if p, ok := ca.keys["fallback"]; ok {
		a.Fallback = c.cardRef(fc, p.value, "fallback")
	}
	if p, ok := ca.keys["min_confidence"]; ok {
		v, err := strconv.ParseFloat(p.value.Value, 64)
		if p.value.Kind != yaml.ScalarNode || err != nil || v <= 0 || v > 1 {
			d := f.errorf(p.value, "min_confidence must be a number above 0 and at most 1, like 0.6")
			d.Detail = fmt.Sprintf("the built-in matcher's default is %g", engine.DefaultMinConfidence)
		} else {
			a.MinConfidence = v
		}
	}
}

// other reads `other: card`, `other: true` (go on with the card's own
// flow) or `other: {save: var, goto: card}`. The typed text goes into the
// card's `save` var unless the mapping names another.
func (c *compiler) other(fc *flatCard, n *yaml.Node) *engine.Other {
	ca := fc.ast
	f := ca.file.f
	o := &engine.Other{Goto: -1}
	if p, ok := ca.keys["save"]; ok {
		o.Save = p.value.Value
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!bool":
		if n.Value != "true" {
			f.errorf(n, "other: false is the same as no `other`; remove it")
		}
	case n.Kind == yaml.ScalarNode:
		o.Goto = c.cardRef(fc, n, "other")
	case n.Kind == yaml.MappingNode:
		for _, p := range f.pairs(n, "other", otherKeys) {
			switch p.key.Value {
			case "goto":
				o.Goto = c.cardRef(fc, p.value, "other.goto")
			case "save":
				name, ok := f.str(p.value, "other.save")
				if !ok {
					continue
				}
				v, ok := c.varDecl[name]
				if !ok {
					d := f.errorf(p.value, "other.save: %q is not a declared var", name)
					suggest(d, name, c.varNames())
					continue
				}
				o.Save = name
				c.write(fc, name)
				c.checkText(f, p.value, v)
			}
		}
	default:
		f.errorf(n, "other takes a card name, true, or {save: var, goto: card}")
	}
	if o.Save != "" {
		if v := c.varDecl[o.Save]; v != nil && ca.keys["save"].value != nil && o.Save == ca.keys["save"].value.Value {
			c.checkText(f, ca.keys["save"].value, v)
		}
	}
	return o
}

// checkText reports a var that cannot hold what a visitor typed.
func (c *compiler) checkText(f *fileCtx, n *yaml.Node, v *engine.VarDecl) {
	if v.Type != engine.TypeString && v.Type != engine.TypeAny {
		d := f.errorf(n, "%s is %s, but `other` saves the text the visitor typed", v.Name, article(string(v.Type)))
		d.Detail = fmt.Sprintf("declare %s as type string", v.Name)
	}
}

// intents reads the list of {name, examples, goto}.
func (c *compiler) intents(fc *flatCard, a *engine.Ask, n *yaml.Node) {
	f := fc.ast.file.f
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		f.errorf(n, "intents must be a list of {name, examples, goto}")
		return
	}
	seen := map[string]int{}
	for _, e := range n.Content {
		e = resolveAlias(e)
		in := &engine.Intent{Goto: -1}
		var nameNode *yaml.Node
		for _, p := range f.pairs(e, "intent", intentKeys) {
			switch p.key.Value {
			case "name":
				if s, ok := f.str(p.value, "intent name"); ok {
					in.Name, nameNode = s, p.value
					if !slugRE.MatchString(s) && !cardNameRE.MatchString(s) {
						f.errorf(p.value, "intent name %q may only have letters, digits, dashes and underscores", s)
					}
				}
			case "examples":
				in.Examples = c.phrases(f, p.value, "examples")
				for _, l := range c.locales {
					if len(in.Examples[l]) == 0 && len(in.Examples[""]) == 0 {
						d := f.warnf(p.value, "intent %q has no examples in %s", in.Name, l)
						d.Detail = "visitors writing in " + l + " are matched against the other languages' examples only"
					}
				}
				if ex, ok := in.Examples[""]; ok {
					in.Examples[c.locale] = append(in.Examples[c.locale], ex...)
					delete(in.Examples, "")
				}
			case "goto":
				in.Goto = c.cardRef(fc, p.value, "goto")
			}
		}
		if e.Kind != yaml.MappingNode {
			continue
		}
		if nameNode == nil {
			f.errorf(e, "an intent needs a `name`")
			continue
		}
		if in.Examples == nil {
			d := f.errorf(nameNode, "intent %q needs `examples:`", in.Name)
			d.Detail = "list a few phrases a visitor might write, like examples: [how much is it, pricing]"
		}
		if line, dup := seen[in.Name]; dup {
			d := f.errorf(nameNode, "duplicate intent %q", in.Name)
			d.Detail = fmt.Sprintf("the same intent is at line %d", line)
			continue
		}
		seen[in.Name] = nameNode.Line
		a.Intents = append(a.Intents, in)
	}
}

// phrases reads a list of phrases (for every locale, key "") or a mapping
// of locale to a list of phrases.
func (c *compiler) phrases(f *fileCtx, n *yaml.Node, what string) map[string][]string {
	out := map[string][]string{}
	switch n.Kind {
	case yaml.SequenceNode, yaml.ScalarNode:
		list, _ := f.strList(n, what)
		out[""] = nonEmpty(list)
	case yaml.MappingNode:
		for _, p := range f.pairs(n, what, nil) {
			l := p.key.Value
			if !slices.Contains(c.locales, l) {
				d := f.errorf(p.key, "%s: %q is not one of the playbook's locales (%s)", what, l, strings.Join(c.locales, ", "))
				suggest(d, l, c.locales)
				continue
			}
			list, _ := f.strList(p.value, what)
			out[l] = nonEmpty(list)
		}
	default:
		f.errorf(n, "%s must be a list of phrases, or a map of locale to a list", what)
	}
	return out
}

func nonEmpty(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
