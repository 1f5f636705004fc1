package engine

import "time"

// PreviewCreates evaluates, for session s at now, the fields of the first
// lead and the first deal that p's create cards make, in card order: what
// the bot would fill in from what it has collected so far, for an agent's
// "Create lead" and "Create deal" forms. A field that fails (a var not
// collected yet, a template over one) is left out, and so are nested fields
// (a record's person). s is not changed. Kinds p never creates are absent.
func PreviewCreates(p *Program, s *Session, now time.Time) map[RecordKind]map[string]any {
	out := map[RecordKind]map[string]any{}
	if p == nil || s == nil {
		return out
	}
	cp := *s // fail marks the copy failed, never s
	cp.Vars = make(map[string]any, len(s.Vars)+2)
	for k, v := range s.Vars {
		cp.Vars[k] = v
	}
	r := runners.Get().(*runner)
	defer r.release()
	r.p, r.s = p, &cp
	r.world = World{now: now, locale: cp.Locale, hours: p.Hours}
	normalizeVars(p, &cp)
	cp.Vars[visitorVar] = &cp.Visitor
	cp.Vars[worldVar] = &r.world
	for _, c := range p.Cards {
		for _, cr := range c.Create {
			if cr.Kind != RecordLead && cr.Kind != RecordDeal || out[cr.Kind] != nil {
				continue
			}
			m := map[string]any{}
			for i := range cr.Fields {
				f := &cr.Fields[i]
				if f.Fields != nil || f.Value == nil {
					continue
				}
				if v, ok := r.value(c, f.Value); ok && v != nil {
					m[f.Name] = v
				}
			}
			out[cr.Kind] = m
		}
	}
	return out
}
