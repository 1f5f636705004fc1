package conversation

import (
	"strings"

	"github.com/expr-lang/expr"

	"github.com/playbook-dev/playbook/engine"
)

// Pick chooses the playbook a new conversation gets: the one named (nil
// when it is not live), else the first whose trigger applies to the page
// and the visitor, else defaultID, else the demo's website-sales, else the
// first live one by id. It returns nil when no playbook is live.
func (r *Registry) Pick(name, page string, vis *engine.Visitor, defaultID string) *engine.Program {
	if name != "" {
		p, _ := r.Current(name)
		return p
	}
	if p := r.MatchTrigger(page, vis); p != nil {
		return p
	}
	for _, id := range []string{defaultID, "website-sales"} {
		if p, ok := r.Current(id); ok {
			return p
		}
	}
	if all := r.All(); len(all) > 0 {
		return all[0]
	}
	return nil
}

// MatchTrigger returns the first live playbook (by id) whose trigger
// applies to the page and the visitor, nil when none does.
func (r *Registry) MatchTrigger(page string, vis *engine.Visitor) *engine.Program {
	for _, p := range r.All() {
		t := p.Trigger
		if t == nil {
			continue
		}
		if len(t.Pages) > 0 {
			ok := false
			for _, g := range t.Pages {
				ok = ok || globMatch(g, page)
			}
			if !ok {
				continue
			}
		}
		if t.When != nil {
			out, err := expr.Run(t.When.Prog, map[string]any{"visitor": vis})
			if b, isBool := out.(bool); err != nil || !isBool || !b {
				continue
			}
		}
		return p
	}
	return nil
}

// globMatch matches a page path against a glob where * is any run of
// characters (including /).
func globMatch(glob, s string) bool {
	parts := strings.Split(glob, "*")
	if len(parts) == 1 {
		return glob == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
