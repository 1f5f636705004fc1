package engine

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr"
)

// MatchLocale picks the program locale for a browser language (see
// Event.Locale): exact, then by language, else the default locale.
func MatchLocale(p *Program, want string) string { return matchLocale(p, want) }

// RenderText renders a text outside any session, such as a trigger's
// campaign message: in locale (with the program's fallbacks), where
// expressions see only `visitor` and the time; vars are unset. A hole that
// fails renders as empty.
func RenderText(p *Program, t *Text, locale string, vis *Visitor, now time.Time) string {
	if t == nil {
		return ""
	}
	tm := t.ByLocale[locale]
	for _, l := range append([]string{p.Fallback, p.Locale}, p.Locales...) {
		if tm != nil {
			break
		}
		tm = t.ByLocale[l]
	}
	if tm == nil {
		return ""
	}
	if tm.IsStatic {
		return tm.Static
	}
	if vis == nil {
		vis = &Visitor{}
	}
	env := map[string]any{"visitor": vis, worldVar: &World{now: now}}
	var b []byte
	for _, part := range tm.Parts {
		if part.Expr == nil {
			b = append(b, part.Lit...)
			continue
		}
		if v, err := expr.Run(part.Expr.Prog, env); err == nil {
			b = appendValue(b, v)
		}
	}
	return string(b)
}

// EvalVisitorCond evaluates a condition over the visitor alone, such as a
// trigger's when, at time now.
func EvalVisitorCond(e *Expr, vis *Visitor, now time.Time) (bool, error) {
	if e == nil {
		return true, nil
	}
	if vis == nil {
		vis = &Visitor{}
	}
	out, err := expr.Run(e.Prog, map[string]any{"visitor": vis, worldVar: &World{now: now}})
	if err != nil {
		return false, err
	}
	if out == nil {
		return false, nil // nothing counts as false, as in a card's conditions
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("it is not true or false")
	}
	return b, nil
}
