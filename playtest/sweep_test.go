package playtest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/builtin"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
)

// sweepBook declares a var of each type (with a default where one can be
// written, so an expression that reads it validates; the data replace
// them); the show card renders EXPR.
const sweepBook = `playbook: sweep
allow_hosts: [api.example.com]
vars:
  t: {type: string, default: ""}
  n: {type: int, default: 0}
  x: {type: number, default: 0}
  b: {type: bool, default: false}
  d: {type: date, default: 2026-01-05}
  l: list
  m: map
  v: {type: any, default: 0}
cards:
  go:
    ask: Go?
    input: text
  show:
SHOW
  no:
    say: "n"
    end: done
  yes:
    say: "y"
    end: done
`

// sweepUses are the places an expression is used: a template hole, a
// branch condition, a set of a var of each type.
var sweepUses = []string{
	`    say: "{{ EXPR }}"`,
	"    branch: [{if: \"EXPR\", goto: \"yes\"}]",
	"    set: {v: \"EXPR\"}",
	"    set: {n: \"EXPR\"}",
	"    set: {x: \"EXPR\"}",
	"    set: {t: \"EXPR\"}",
	"    set: {l: \"EXPR\"}",
	"    set: {m: \"EXPR\"}",
	"    set: {d: \"EXPR\"}",
	"    set: {b: \"EXPR\"}",
	// A record's fields read v, set to EXPR first: a quoted field is a
	// text, not an expression, and a plain one cannot hold every EXPR.
	"    set: {v: \"EXPR\"}\n    create: {lead: {title: x, value: v}}",
	"    set: {v: \"EXPR\"}\n    create: {task: {subject: x, due: v}}",
	"    set: {v: \"EXPR\"}\n    create: {deal: {title: x, expected_close: v, value: v}}",
	"    set: {v: \"EXPR\"}\n    create: {organization: {name: v}}",
	"    set: {v: \"EXPR\"}\n    create: {note: {content: v}}",
	"    set: {v: \"EXPR\"}\n    create: {note: {content: hi, about: v}}",
	"    set: {v: \"EXPR\"}\n    create: {person: {name: v}}",
	"    set: {v: \"EXPR\"}\n    create: {person: {email: a@example.com, custom: v}}",
	"    set: {v: \"EXPR\"}\n    create: {lead: {title: x, person: v, organization: v, labels: v, currency: v}}",
	"    set: {v: \"EXPR\"}\n    create: {deal: {title: v, person: {name: v}, organization: {domain: v}, owner: v}}",
	"    set: {v: \"EXPR\"}\n    create: {task: {subject: v, type: v, assignee: v}}",
	"    set: {v: \"EXPR\"}\n    create: {person: {name: a, phone: v, email: v, organization: v}}",
	"    call: {url: \"https://api.example.com/x\", method: POST, body: {g: \"EXPR\"}}",
	"    say: \"{{ EXPR }}\"\n    links: [{label: \"{{ EXPR }}\", url: \"https://example.com/{{ EXPR }}\"}]",
}

// sweepData are values each var may hold while chatting: what visitors
// type, what calls return (JSON: numbers are float64, lists and maps of
// anything), at the edges.
func sweepData() []map[string]any {
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	return []map[string]any{
		{"t": "abc", "n": 0, "x": 0.0, "b": false, "d": day, "l": []any{}, "m": map[string]any{}, "v": "x"},
		{"t": "", "n": -1, "x": -2.5, "b": true, "d": day, "l": []any{"a", 1.0, nil, map[string]any{"k": 1.0}, []any{}}, "m": map[string]any{"k": nil, "l": []any{1.0}}, "v": map[string]any{"k": "v"}},
		{"t": "12", "n": 1 << 53, "x": 1e308, "b": true, "d": day, "l": []any{1.0, 2.0, 3.0}, "m": map[string]any{"k": "x", "total": 5.0}, "v": []any{1.0, "b"}},
		{"t": "2026-02-30", "n": -(1 << 53), "x": -1e-300, "b": false, "d": day, "l": []any{"b", "a"}, "m": map[string]any{"k": []any{}}, "v": 0.0},
		{"t": "ünï ☃ \x00 " + strings.Repeat("z", 300), "n": 7, "x": math.MaxFloat64, "b": true, "d": day, "l": []any{[]any{"k", 1.0}, []any{}}, "m": map[string]any{"k": map[string]any{}}, "v": true},
	}
}

var sweepArgs = []string{"t", "n", "x", "b", "d", "l", "m", "v", "m.k", "l[0]", "v.k", "l[n]", "split(t, ',')",
	"'a'", "0", "-1", "2", "1.5", "true", "[1, 'a']", "[2, 1]", "{a: 1}", "today()", "duration('1h')",
	"#", ".k", "# > 1", "#acc + #", "nil"}

// sweepSecond are the second arguments tried with each first one (all of
// sweepArgs would be 80,000 loads, too slow for CI under -race).
var sweepSecond = []string{"t", "n", "l", "v", "'a'", "2", "duration('1h')", "# > 1", "#acc + #"}

// sweepThree are calls with three arguments.
var sweepThree = []string{
	"reduce(l, #acc + #, 0)", "reduce(l, #acc + #, '')", "reduce(m.k, #acc + #, 0)",
	"date(t, '2006-01-02', 'Europe/Berlin')", "date(t, '2006-01-02', t)", "date('2026-01-05', '2006-01-02', t)",
	"replace(t, t, t)", "replace(t, 'a', n)", "slice(l, n, n)", "t[n:n]", "l[n:-1]", "substr(t, n, n)",
	"timezone(t)", "date(t, t)", "format(d, t)", "repeat(t, n)", "repeat(t, 100000)", "indexOf(t, t)", "lastIndexOf(t, 'a')",
	"splitAfter(t, '', n)", "split(t, '', n)", "trim(t, t)", "trimPrefix(t, t)", "sortBy(l, #, t)", "sort(l, t)",
	"toJSON(x)", "toJSON(m)", "fromPairs(l)", "toPairs(v)", "get(v, t)", "get(l, n)", "n .. 100000000", "0 .. n",
	"x ** n", "n ** n", "abs(n)", "int(x)", "int(t) ?? 0", "string(m)", "max(l)", "min(l)", "mean(l)", "median(l)",
	"bitnot(n)", "first(l)", "last(v)", "concat(l, v)", "flatten(l)", "uniq(l)", "keys(v)", "values(v)", "groupBy(l, #)",
	"count(l)", "count(v)", "all(l, #)", "any(v, #)", "one(l, #)", "none(l, # > 1)", "sum(l, #)", "find(l, # > 1)",
	"findIndex(l, #)", "findLast(v, #)", "map(l, # * 2)", "map(l, #index)", "filter(v, #.k)", "len(t) / n", "ceil(x / n)",
}

// sweepOverflow are expressions whose number is too large to be one (or
// is no number: NaN), X standing for the data's x (1e308 in two of the
// data sets); each is tried in every use, not only in one.
var sweepOverflow = []string{
	"X * 10", "X + X", "-X - X", "X / 0.5", "X * 10 - X * 10", "sum([X, X])", "[X * 10, 1]",
	"{a: X * 10}", "mean([X, X])", "X * 10 > 0 ? X * 10 : 0", "1e308 * 10", "[n, X * 10]",
}

// sweepExprs are calls of every expr built-in and ours with up to two
// arguments from sweepArgs, and the operators between two of them.
func sweepExprs(short bool) []string {
	names := map[string]bool{}
	for _, f := range builtin.Builtins {
		names[f.Name] = true
	}
	for _, n := range engine.Builtins {
		names[n] = true
	}
	var out []string
	for name := range names {
		out = append(out, name+"()")
		for _, a := range sweepArgs {
			out = append(out, name+"("+a+")")
			if short {
				continue
			}
			for _, b := range sweepSecond {
				out = append(out, name+"("+a+", "+b+")")
			}
		}
	}
	out = append(out, sweepThree...)
	for _, e := range sweepOverflow {
		for range sweepUses {
			out = append(out, strings.ReplaceAll(e, "X", "(x ?? 1e308)"))
		}
	}
	for _, op := range []string{"+", "-", "*", "/", "%", "**", "..", "in", "<", "==", "??", "contains", "startsWith", "matches", "and"} {
		right := sweepArgs
		if short {
			right = sweepSecond
		}
		for _, a := range sweepArgs {
			for _, b := range right {
				out = append(out, a+" "+op+" "+b)
			}
		}
	}
	for _, a := range sweepArgs {
		out = append(out, a+"[n]", a+"[1:n]", a+".k", "-"+a, "not "+a, a+" ? 1 : 2")
	}
	return out
}

// documentedLimit reports whether msg is one of the stops the language's
// docs list ("When something goes wrong while chatting"): a value too
// large to keep, expr's memory budget.
func documentedLimit(msg string) bool {
	return strings.Contains(msg, "the value is too large") || strings.Contains(msg, "memory budget exceeded")
}

// keepable is an error when what the run left could not be kept or sent:
// a session, a record or a call's body that does not encode as JSON (an
// infinite number) stops the bot in serve, and a message with "+Inf" or
// "NaN" in it means nothing to a visitor.
func keepable(s *Sim) error {
	if _, err := json.Marshal(s.Session); err != nil {
		return fmt.Errorf("the session cannot be saved: %w", err)
	}
	for _, r := range s.Created {
		if _, err := json.Marshal(r); err != nil {
			return fmt.Errorf("the %s cannot be sent to the CRM: %w", r.Kind, err)
		}
		if _, err := crm.Draft(*r); err != nil {
			return fmt.Errorf("the CRM would refuse the %s: %w", r.Kind, err)
		}
	}
	for _, c := range s.Calls {
		if _, err := json.Marshal(c.Body); err != nil {
			return fmt.Errorf("the call's body cannot be sent: %w", err)
		}
	}
	for _, m := range s.Messages {
		texts := []string{m.Text}
		for _, l := range m.Links {
			texts = append(texts, l.Label, l.URL)
		}
		for _, x := range texts {
			if strings.Contains(x, "Inf") || strings.Contains(x, "NaN") {
				return fmt.Errorf("the bot said %q", x)
			}
		}
	}
	return nil
}

// TestNothingThatValidatesFailsWhileChatting runs every expression of the
// sweep that validates against every data set: none may stop the bot.
func TestNothingThatValidatesFailsWhileChatting(t *testing.T) {
	short := testing.Short() || race.Enabled // the whole sweep is ~35k loads
	exprs := sweepExprs(short)
	loaded, failed, limits := 0, 0, 0
	for k, e := range exprs {
		use := sweepUses[k%len(sweepUses)]
		src := strings.Replace(strings.ReplaceAll(sweepBook, "SHOW", use), "EXPR", strings.ReplaceAll(e, `"`, `\"`), -1)
		p, _ := dsl.Load("sweep.yaml", []byte(src))
		if p == nil {
			continue
		}
		loaded++
		for i, data := range sweepData() {
			s := NewSim(p, "t", DefaultNow)
			if err := s.Start(engine.Visitor{}, ""); err != nil {
				t.Fatal(err)
			}
			for k, v := range data {
				s.Session.Vars[k] = v
			}
			err := s.Text("go")
			if err == nil {
				err = keepable(s)
			}
			if err == nil && len(s.Errors) == 1 && documentedLimit(s.Errors[0].Error()) {
				limits++
				continue
			}
			if err != nil || len(s.Errors) > 0 || s.Session.Status != engine.StatusEnded {
				failed++
				if failed <= 40 || testing.Verbose() {
					t.Errorf("`%s` in %q with data %d: err %v, errors %v, status %s", e, strings.TrimSpace(use), i, err, s.Errors, s.Session.Status)
				}
			}
		}
	}
	t.Logf("%d expressions, %d validate, %d runs stopped the bot, %d at a documented limit", len(exprs), loaded, failed, limits)
	if loaded < 100 {
		t.Fatalf("only %d expressions validate: the sweep tests little", loaded)
	}
}
