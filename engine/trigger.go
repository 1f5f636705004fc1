package engine

import (
	"strings"
	"time"
)

// MatchesPage reports whether page is one of the trigger's pages (every
// page when it lists none). serve and `playbook test` both ask it.
func (t *Trigger) MatchesPage(page string) bool {
	if len(t.Pages) == 0 {
		return true
	}
	for _, g := range t.Pages {
		if GlobMatch(g, page) {
			return true
		}
	}
	return false
}

// WhenHolds evaluates the trigger's when for the visitor at now (true when
// it has none). The delay is measured on the page, by the widget or the
// test's simulated clock, not here.
func (t *Trigger) WhenHolds(vis *Visitor, now time.Time) (bool, error) {
	return EvalVisitorCond(t.When, vis, now)
}

// GlobMatch matches s against a pattern where * is any run of characters
// (including /); without a *, s must equal the pattern.
func GlobMatch(glob, s string) bool {
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
