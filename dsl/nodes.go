package dsl

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
)

// pair is one key and value of a YAML mapping, in file order.
type pair struct {
	key   *yaml.Node
	value *yaml.Node
}

// fileCtx is one source file being compiled: its name, text and the
// diagnostics found so far.
type fileCtx struct {
	name  string
	src   []byte
	lines *lineIndex
	diags *source.Diagnostics
}

func (f *fileCtx) rng(n *yaml.Node) source.Range {
	if n == nil {
		return source.Range{Filename: f.name}
	}
	start := source.Pos{Line: n.Line, Column: n.Column}
	end := start
	if n.Kind == yaml.ScalarNode && n.Style == 0 && !strings.ContainsAny(n.Value, "\n") {
		end.Column += len([]rune(n.Value))
	}
	return source.Range{Filename: f.name, Start: start, End: end}
}

// rngAt returns the position of rune offset off inside scalar n's value.
func (f *fileCtx) rngAt(n *yaml.Node, off, length int) source.Range {
	p := f.lines.valuePos(n, off)
	end := p
	if length > 0 {
		e := f.lines.valuePos(n, off+length)
		if e.Line == p.Line {
			end = e
		}
	}
	return source.Range{Filename: f.name, Start: p, End: end}
}

func (f *fileCtx) errorf(n *yaml.Node, format string, args ...any) *source.Diagnostic {
	return f.diags.Errorf(f.rng(n), format, args...)
}

func (f *fileCtx) warnf(n *yaml.Node, format string, args ...any) *source.Diagnostic {
	return f.diags.Warnf(f.rng(n), format, args...)
}

// suggest adds "did you mean" to d when a candidate is close to name.
func suggest(d *source.Diagnostic, name string, candidates []string) {
	if s := source.Suggest(name, candidates); s != "" {
		d.Detail = fmt.Sprintf("did you mean %q?", s)
	}
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
	}
	return "an alias"
}

// pairs returns the pairs of mapping n, reporting an error (and returning
// nil) when n is not a mapping, and errors for keys not in allowed (with a
// suggestion) or repeated. what names the thing for messages ("card", "bot").
func (f *fileCtx) pairs(n *yaml.Node, what string, allowed []string) []pair {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "%s must be a mapping of keys, not %s", what, kindName(n))
		return nil
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if first := seen[k.Value]; first != nil {
			if what == "cards" {
				d := f.errorf(k, "card %q is defined twice: here and at line %d", k.Value, first.Line)
				d.Detail = fmt.Sprintf("the first %q is at line %d, column %d; rename one of them (a goto would not know which one you mean)", k.Value, first.Line, first.Column)
			} else {
				d := f.errorf(k, "%s has %q twice", what, k.Value)
				d.Detail = fmt.Sprintf("the first is at line %d; keep one", first.Line)
			}
			continue
		}
		seen[k.Value] = k
		if allowed != nil && !contains(allowed, k.Value) {
			if what == "create" {
				d := f.errorf(k, "unknown record kind %q", k.Value)
				d.Detail = "the kinds are " + strings.Join(allowed, ", ")
				if s := source.Suggest(k.Value, allowed); s != "" {
					d.Detail = fmt.Sprintf("did you mean %q? The kinds are %s", s, strings.Join(allowed, ", "))
				}
				continue
			}
			d := f.errorf(k, "unknown key %q in %s", k.Value, what)
			suggest(d, k.Value, allowed)
			if n.Style&yaml.FlowStyle != 0 && v.Kind == yaml.ScalarNode && v.Tag == "!!null" && i > 0 {
				// {label: Yes, please, goto: b}: the comma ended the label
				prev := n.Content[i-2]
				d.Summary = fmt.Sprintf("unknown key %q in %s: the comma before it ended the %s", k.Value, what, prev.Value)
				d.Detail = fmt.Sprintf("inside {…} a comma separates keys; quote a text that has a comma: {%s: \"%s, %s\", ...}", prev.Value, n.Content[i-1].Value, k.Value)
			}
			continue
		}
		out = append(out, pair{k, v})
	}
	return out
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str returns a scalar's value, reporting an error when n is not a scalar.
func (f *fileCtx) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		f.errorf(n, "%s must be a single value, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList accepts one string or a list of strings.
func (f *fileCtx) strList(n *yaml.Node, what string) ([]string, []*yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		s, ok := f.str(n, what)
		if !ok {
			return nil, nil
		}
		return []string{s}, []*yaml.Node{n}
	}
	if n.Kind != yaml.SequenceNode {
		f.errorf(n, "%s must be a value or a list of values, not %s", what, kindName(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		c = resolveAlias(c)
		if s, ok := f.str(c, what); ok {
			out = append(out, s)
			nodes = append(nodes, c)
		}
	}
	return out, nodes
}

func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0)
}

func isPlain(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}
