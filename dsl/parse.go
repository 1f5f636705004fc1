package dsl

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
)

var (
	topKeys  = []string{"playbook", "title", "locale", "locales", "fallback", "bot", "trigger", "prechat", "allow_hosts", "vars", "cards"}
	cardKeys = []string{"say", "image", "links", "ask", "input", "choices", "other", "intents", "fallback", "min_confidence", "save", "skip_if", "validate", "retry", "set", "branch", "goto", "handoff", "create", "call", "end", "include", "experiment", "variants"}

	choiceKeys = []string{"label", "value", "goto", "synonyms"}
	otherKeys  = []string{"save", "goto"}
	intentKeys = []string{"name", "examples", "goto"}

	botKeys      = []string{"name", "avatar", "color"}
	linkKeys     = []string{"label", "url"}
	validateKeys = []string{"if", "say"}
	retryKeys    = []string{"max", "say", "then"}
	branchKeys   = []string{"if", "goto"}
	variantKeys  = []string{"name", "weight", "goto"}

	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	cardNameRE = regexp.MustCompile(`^[\p{L}\p{N}_][\p{L}\p{N}_-]*$`)
)

// fileAST is one playbook file after decoding: its top-level keys and its
// cards in file order, each still pointing at its YAML nodes.
type fileAST struct {
	f      *fileCtx
	id     string
	idNode *yaml.Node
	top    map[string]pair
	cards  []*cardAST
	byName map[string]*cardAST
}

// cardAST is one card: its name and its keys by name.
type cardAST struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
	keys map[string]pair
	file *fileAST
}

func (c *cardAST) has(k string) bool { _, ok := c.keys[k]; return ok }

// parseFile decodes src into a fileAST. It returns nil when the YAML cannot
// be read at all; structural problems are reported and skipped.
func parseFile(f *fileCtx) *fileAST {
	var doc yaml.Node
	if err := yaml.Unmarshal(f.src, &doc); err != nil {
		rng := yamlErrorRange(f.name, err)
		d := f.diags.Errorf(rng, "%s", yamlErrorMessage(err))
		if sum, detail := yamlTrap(f.src, rng.Start.Line, d.Summary); sum != "" {
			d.Summary, d.Detail = sum, detail
		}
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		f.diags.Errorf(source.At(f.name, 1, 1), "the file is empty: a playbook needs at least `playbook:` and `cards:`")
		return nil
	}
	root := resolveAlias(doc.Content[0])
	fa := &fileAST{f: f, top: map[string]pair{}, byName: map[string]*cardAST{}}
	for _, p := range f.pairs(root, "the playbook", topKeys) {
		fa.top[p.key.Value] = p
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	if p, ok := fa.top["playbook"]; ok {
		if id, ok := f.str(p.value, "playbook"); ok {
			fa.id, fa.idNode = id, p.value
			if !slugRE.MatchString(id) {
				f.errorf(p.value, "playbook id %q must be lowercase letters, digits and dashes, like website-sales", id)
			}
		}
	} else {
		f.diags.Errorf(f.rng(root), "missing `playbook:` id (a lowercase name such as website-sales)")
	}
	p, ok := fa.top["cards"]
	if !ok {
		f.diags.Errorf(f.rng(root), "missing `cards:`: a playbook needs at least one card")
		return fa
	}
	if p.value.Kind == yaml.MappingNode && len(p.value.Content) == 0 {
		f.errorf(p.key, "`cards` is empty: a playbook needs at least one card")
	}
	for _, cp := range f.pairs(p.value, "cards", nil) {
		name := cp.key.Value
		if !cardNameRE.MatchString(name) {
			f.errorf(cp.key, "card name %q may only have letters, digits, dashes and underscores", name)
			continue
		}
		c := &cardAST{name: name, key: cp.key, val: cp.value, keys: map[string]pair{}, file: fa}
		fa.cards = append(fa.cards, c)
		fa.byName[name] = c
		if cp.value.Kind == yaml.ScalarNode && cp.value.Tag == "!!null" {
			f.errorf(cp.key, "card %q is empty: give it a `say`, `ask`, `handoff` or another key", name)
			continue
		}
		for _, kp := range f.pairs(cp.value, "card "+quote(name), cardKeys) {
			c.keys[kp.key.Value] = kp
		}
	}
	return fa
}

func quote(s string) string { return "\"" + s + "\"" }

func yamlErrorRange(name string, err error) source.Range {
	var le *yaml.LoadError
	if errors.As(err, &le) && le.Mark.Line > 0 {
		return source.At(name, le.Mark.Line, max(le.Mark.Column, 1))
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return source.At(name, 1, 1)
	}
	return source.At(name, 1, 1)
}

func yamlErrorMessage(err error) string {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg := "YAML syntax: " + le.Message
		if le.ContextMsg != "" {
			msg += " (" + le.ContextMsg
			if le.ContextMark.Line > 0 {
				msg += " started at line " + strconv.Itoa(le.ContextMark.Line)
			}
			msg += ")"
		}
		return msg
	}
	return "YAML syntax: " + err.Error()
}

// yamlTrap explains the YAML errors that texts fall into, with the quoting
// that fixes them: `: ` or `? ` in an unquoted text, `\d` in double quotes.
// It returns "" when msg is not one of them.
func yamlTrap(src []byte, line int, msg string) (summary, detail string) {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return "", ""
	}
	text := strings.TrimRight(lines[line-1], "\r")
	indent := text[:len(text)-len(strings.TrimLeft(text, " -"))]
	key, value, hasKey := strings.Cut(strings.TrimLeft(text, " -"), ": ")
	value, comment := cutComment(value)
	quoted := func() string {
		return indent + key + ": \"" + strings.ReplaceAll(strings.ReplaceAll(value, `\`, `\\`), `"`, `\"`) + "\"" + comment
	}
	switch {
	case strings.Contains(msg, "mapping values are not allowed") && hasKey && strings.Contains(value, ": "):
		return "YAML syntax: this text has `: ` (a colon and a space) in it, which YAML reads as the start of a new key",
			"quote the whole text: " + strings.TrimSpace(quoted())
	case strings.Contains(msg, "mapping keys are not allowed") && hasKey && (strings.HasPrefix(value, "? ") || strings.Contains(value, " ? ")):
		return "YAML syntax: this text has `? ` (a question mark and a space), which YAML reads as the start of a key",
			"quote the whole text: " + strings.TrimSpace(quoted())
	case strings.Contains(msg, "found unknown escape character"):
		return "YAML syntax: inside double quotes a backslash starts an escape such as \\n, and this one is not a YAML escape (a pattern's \\d, \\s or \\.?)",
			"write the text in single quotes, where a backslash is just a backslash ('\\d+'), or double each backslash (\"\\\\d+\"); inside an expression in single quotes, write its strings in double quotes"
	}
	return "", ""
}

// cutComment splits a plain YAML value from a trailing " # comment".
func cutComment(v string) (string, string) {
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimRight(v[:i], " "), " " + strings.TrimLeft(v[i:], " ")
	}
	return strings.TrimRight(v, " "), ""
}
