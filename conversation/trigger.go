package conversation

import (
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
	now := r.now()
	for _, p := range r.All() {
		t := p.Trigger
		if t == nil || !t.MatchesPage(page) {
			continue
		}
		if ok, err := t.WhenHolds(vis, now); err != nil || !ok {
			continue
		}
		return p
	}
	return nil
}
