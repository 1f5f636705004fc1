package playtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Result is the outcome of one test.
type Result struct {
	Test *Test
	// Failure is the first mismatch; nil when the test passed.
	Failure *Failure
	// Transcript is the conversation as it ran, one line per message,
	// visitor action or effect ("bot: Hi!", "visitor: hello",
	// "· handoff to sales (wait 2m)"), for verbose output.
	Transcript []string
	// Entered lists the indices of the cards the test entered, ascending.
	Entered []int
	// Edges are the edges the test took; Locales the locales it ran in.
	Edges   map[engine.Edge]bool
	Locales map[string]bool
	// Status and Outcome are the session's when the test stopped.
	Status  engine.Status
	Outcome string
}

// Passed reports whether the test passed.
func (r *Result) Passed() bool { return r.Failure == nil }

// Failure is the first thing in a test that did not go as written.
type Failure struct {
	// Pos is where the test file says what did not happen: the script
	// step, or the expect entry.
	Pos source.Range
	// Summary says what went wrong, in one line: "the bot said something
	// else", "the outcome is different".
	Summary string
	// Want and Got are what the test expected and what happened, formatted
	// for display; both empty when there is nothing to compare.
	Want, Got string
}

func (f *Failure) Error() string {
	s := f.Pos.String() + ": " + f.Summary
	if f.Want != "" || f.Got != "" {
		s += fmt.Sprintf(" (want %s, got %s)", f.Want, f.Got)
	}
	return s
}

// Run replays t against p in a fresh [Sim] and checks its expectations. It
// stops at the first mismatch. It never panics: an engine crash is a
// failure.
func Run(p *engine.Program, t *Test) *Result { return RunWith(p, t, nil) }

// RunWith is [Run] with m matching intents (nil: the built-in matcher), such
// as a language-model classifier or a fake of one.
func RunWith(p *engine.Program, t *Test, m engine.IntentMatcher) *Result {
	r := &Result{Test: t}
	if p == nil {
		r.Failure = &Failure{Pos: t.Pos, Summary: "there is no playbook to test"}
		return r
	}
	sim := NewSim(p, "test", t.Now)
	sim.SetOnline(t.Online)
	sim.SetOpen(t.Open)
	sim.Mocks = t.HTTP
	sim.Matcher = m
	sim.OnIntent = func(g engine.IntentGuess) {
		if g.Name == "" {
			r.Transcript = append(r.Transcript, "· no intent matched")
			return
		}
		r.Transcript = append(r.Transcript, fmt.Sprintf("· intent %s (confidence %.2f)", g.Name, g.Confidence))
	}
	sim.OnEffect = func(e engine.Effect) {
		switch e.Kind {
		case engine.EffectSay:
			line := "bot: " + e.Text
			if len(e.Buttons) > 0 {
				line += "  " + Format(ButtonLabels(e.Buttons))
			}
			r.Transcript = append(r.Transcript, line)
		case engine.EffectWait:
		default:
			if d := Describe(e); d != "" {
				r.Transcript = append(r.Transcript, "· "+d)
			}
		}
	}
	sim.OnCallResult = func(_ *engine.CallRequest, res *engine.CallResult) {
		r.Transcript = append(r.Transcript, "· "+DescribeResult(res))
	}
	sim.OnTimer = func(tm engine.Timer) {
		r.Transcript = append(r.Transcript, "· timer fired at "+tm.At.UTC().Format("15:04:05"))
	}
	r.Failure = run(sim, t, r)
	r.Entered = slices.Sorted(maps.Keys(sim.Entered))
	r.Edges, r.Locales = sim.Edges, sim.Locales
	if sim.Session != nil {
		r.Status, r.Outcome = sim.Session.Status, sim.Session.Outcome
	}
	return r
}

func run(sim *Sim, t *Test, r *Result) *Failure {
	expectFailed := t.Expect.Status != nil && t.Expect.Status.Value == string(engine.StatusFailed)
	nerr := 0
	// checkErr fails at pos when the engine or the bot broke during the step.
	checkErr := func(pos source.Range, err error) *Failure {
		if err != nil {
			return &Failure{Pos: pos, Summary: err.Error()}
		}
		if len(sim.Errors) > nerr && !expectFailed {
			e := sim.Errors[nerr]
			return &Failure{Pos: pos, Summary: "the bot stopped with a runtime error", Got: e.Error()}
		}
		nerr = len(sim.Errors)
		return nil
	}
	pins, f := variantPins(sim.Program, t.Script)
	if f != nil {
		return f
	}
	sim.Pins = pins
	for _, exp := range slices.Sorted(maps.Keys(pins)) {
		r.Transcript = append(r.Transcript, "· pinned to variant "+pins[exp]+" of experiment "+exp)
	}
	if f := checkErr(t.Pos, sim.Start(t.Visitor, t.Locale)); f != nil {
		return f
	}
	next := 0 // the first bot message not yet consumed
	for _, st := range t.Script {
		var err error
		switch st.Kind {
		case StepBot:
			if next >= len(sim.Messages) {
				got := "(nothing more)"
				if s := sim.Session.Status; s != engine.StatusWaiting {
					got = fmt.Sprintf("(nothing more; the conversation is %s)", statusName(s))
				}
				return &Failure{Pos: st.Pos, Summary: "the bot said nothing more", Want: quoteWant(st), Got: got}
			}
			// The first unread message that matches: a bot line may skip
			// earlier messages of the same turn, never go back.
			found := -1
			for i := next; i < len(sim.Messages); i++ {
				if matchText(st, sim.Messages[i].Text) {
					found = i
					break
				}
			}
			if found < 0 {
				return &Failure{Pos: st.Pos, Summary: "the bot said something else", Want: quoteWant(st), Got: quote(sim.Messages[next].Text)}
			}
			next = found + 1
			continue
		case StepButtons:
			got := ButtonLabels(sim.Buttons())
			if !slices.Equal(got, st.Buttons) {
				return &Failure{Pos: st.Pos, Summary: "the buttons are different", Want: Format(st.Buttons), Got: Format(got)}
			}
			continue
		case StepIntent:
			if len(sim.Intents) == 0 {
				return &Failure{Pos: st.Pos, Summary: "no message was matched to an intent yet", Want: st.Text, Got: "(none)"}
			}
			last := sim.Intents[len(sim.Intents)-1]
			got := "none"
			if last.Taken {
				got = last.Name
			}
			if got != st.Text {
				g := got
				if last.Name != "" {
					g = fmt.Sprintf("%s (best guess %s, confidence %.2f)", got, last.Name, last.Confidence)
				}
				return &Failure{Pos: st.Pos, Summary: "the message meant another intent", Want: st.Text, Got: g}
			}
			continue
		case StepOpenHours:
			sim.SetOpen(st.Open)
			r.Transcript = append(r.Transcript, "· open hours "+Format(st.Open))
			continue
		case StepLinks:
			var got []engine.LinkOut
			for i := len(sim.Messages) - 1; i >= 0 && got == nil; i-- {
				got = sim.Messages[i].Links
			}
			if f := checkLinks(st, got); f != nil {
				return f
			}
			continue
		case StepPage:
			sim.OpenPage(st.Text)
			r.Transcript = append(r.Transcript, "· visitor opens "+st.Text)
			continue
		case StepTriggers:
			if got, why := sim.Triggers(); got != st.Bool {
				return &Failure{Pos: st.Pos, Summary: "the trigger " + map[bool]string{true: "applies", false: "does not apply"}[got] + ": " + why,
					Want: fmt.Sprint(st.Bool), Got: fmt.Sprint(got)}
			}
			continue
		case StepVariant:
			continue // pinned before the start (variantPins)
		case StepAgentsOnline:
			sim.SetOnline(st.Online)
			r.Transcript = append(r.Transcript, "· agents online "+Format(st.Online))
			continue
		}
		// Every other step is an action: unread messages are skipped.
		next = len(sim.Messages)
		switch st.Kind {
		case StepVisitor:
			r.Transcript = append(r.Transcript, "visitor: "+st.Text)
			err = sim.Text(st.Text)
		case StepClick:
			if _, ok := sim.FindButton(st.Text); !ok {
				return &Failure{Pos: st.Pos, Summary: "there is no such button to click", Want: quote(st.Text), Got: Format(ButtonLabels(sim.Buttons()))}
			}
			r.Transcript = append(r.Transcript, "visitor clicks: "+st.Text)
			err = sim.Click(st.Text)
		case StepWait:
			r.Transcript = append(r.Transcript, "· wait "+FormatDuration(st.Wait))
			err = sim.Advance(st.Wait)
		case StepAgentJoins:
			r.Transcript = append(r.Transcript, "· agent "+st.Text+" joins")
			err = sim.AgentJoins(st.Text)
		case StepAgentLeaves:
			r.Transcript = append(r.Transcript, "· agent "+st.Text+" leaves")
			err = sim.AgentLeaves(st.Text)
		case StepResume:
			r.Transcript = append(r.Transcript, "· resume at "+st.Text)
			err = sim.Resume(st.Text)
		}
		next = min(next, len(sim.Messages))
		if f := checkErr(st.Pos, err); f != nil {
			return f
		}
	}
	return check(sim, &t.Expect)
}

// variantPins reads the script's `variant:` steps: each puts the
// conversation in a variant from its start, wherever it stands in the
// script, as a visitor keeps their variant for good. A variant no
// experiment has, one that two experiments have (without naming which),
// or two variants of one experiment fail the test at the step.
func variantPins(p *engine.Program, script []*Step) (map[string]string, *Failure) {
	var pins map[string]string
	for _, st := range script {
		if st.Kind != StepVariant {
			continue
		}
		var exps, all []string
		for _, c := range p.Cards {
			x := c.Experiment
			if x == nil || st.Experiment != "" && x.Name != st.Experiment {
				continue
			}
			for _, v := range x.Variants {
				all = append(all, v.Name)
				if v.Name == st.Text {
					exps = append(exps, x.Name)
				}
			}
		}
		switch {
		case len(exps) == 0:
			what := "the playbook has no variant " + quote(st.Text)
			if st.Experiment != "" {
				what = "experiment " + quote(st.Experiment) + " has no variant " + quote(st.Text)
				if len(all) == 0 {
					what = "the playbook has no experiment " + quote(st.Experiment)
				}
			}
			f := &Failure{Pos: st.Pos, Summary: what}
			if s := source.Suggest(st.Text, all); s != "" {
				f.Summary += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, f
		case len(exps) > 1:
			return nil, &Failure{Pos: st.Pos, Summary: fmt.Sprintf("experiments %s all have a variant %s: write `variant: {%s: %s}`", strings.Join(exps, ", "), quote(st.Text), exps[0], st.Text)}
		}
		if pins == nil {
			pins = map[string]string{}
		}
		if old, ok := pins[exps[0]]; ok && old != st.Text {
			return nil, &Failure{Pos: st.Pos, Summary: fmt.Sprintf("the test already put the visitor in variant %s of %s: a visitor keeps one variant", old, exps[0])}
		}
		pins[exps[0]] = st.Text
	}
	return pins, nil
}

func checkLinks(st *Step, got []engine.LinkOut) *Failure {
	show := func(ls []LinkWant) string {
		var out []string
		for _, l := range ls {
			if l.URL != "" {
				out = append(out, l.Label+" <"+l.URL+">")
			} else {
				out = append(out, l.Label)
			}
		}
		return Format(out)
	}
	var g []LinkWant
	for _, l := range got {
		g = append(g, LinkWant{l.Label, l.URL})
	}
	ok := len(g) == len(st.Links)
	for i := 0; ok && i < len(g); i++ {
		ok = g[i].Label == st.Links[i].Label && (st.Links[i].URL == "" || g[i].URL == st.Links[i].URL)
	}
	if !ok {
		return &Failure{Pos: st.Pos, Summary: "the links are different", Want: show(st.Links), Got: show(g)}
	}
	return nil
}

func matchText(st *Step, got string) bool {
	if st.Re != nil {
		return st.Re.MatchString(got)
	}
	return got == st.Text
}

func quoteWant(st *Step) string {
	if st.Re != nil {
		return st.Text
	}
	return quote(st.Text)
}

func quote(s string) string { return Format(s) }

func statusName(s engine.Status) string {
	if s == engine.StatusNew {
		return "not started"
	}
	return string(s)
}

// check compares the end state with the expectations, in the order they
// are listed in [Expect].
func check(sim *Sim, e *Expect) *Failure {
	s := sim.Session
	if w := e.Outcome; w != nil && s.Outcome != w.Value {
		got := quote(s.Outcome)
		if s.Outcome == "" {
			got = "(no outcome)"
		}
		return &Failure{Pos: w.Pos, Summary: "the outcome is different", Want: quote(w.Value), Got: got}
	}
	if w := e.Status; w != nil && string(s.Status) != w.Value {
		return &Failure{Pos: w.Pos, Summary: "the conversation status is different", Want: w.Value, Got: statusName(s.Status)}
	}
	if w := e.Handoff; w != nil {
		var teams []string
		for _, h := range sim.Handoffs {
			teams = append(teams, h.Team)
		}
		if !slices.Contains(teams, w.Value) {
			got := "(no handoff)"
			if len(teams) > 0 {
				got = "handoff to " + strings.Join(teams, ", ")
			}
			return &Failure{Pos: w.Pos, Summary: "no handoff to " + w.Value + " happened", Want: "handoff to " + w.Value, Got: got}
		}
	}
	for _, v := range e.Vars {
		if _, ok := sim.Program.Var(v.Name); !ok {
			names := make([]string, len(sim.Program.Vars))
			for i, d := range sim.Program.Vars {
				names[i] = d.Name
			}
			f := &Failure{Pos: v.Pos, Summary: fmt.Sprintf("the playbook has no var %q", v.Name)}
			if sug := source.Suggest(v.Name, names); sug != "" {
				f.Summary += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			return f
		}
		got, ok := s.Vars[v.Name]
		if !Match(v.Value, got) {
			g := Format(got)
			if !ok || got == nil {
				g = "(unset)"
			}
			return &Failure{Pos: v.Pos, Summary: fmt.Sprintf("var %s is different", v.Name), Want: Format(v.Value), Got: g}
		}
	}
	if e.HasCreated {
		if f := checkCreated(sim.Created, e); f != nil {
			return f
		}
	}
	if e.HasCalls {
		if f := checkCalls(sim.Calls, e); f != nil {
			return f
		}
	}
	return nil
}

func kinds(rs []*engine.Record) string {
	if len(rs) == 0 {
		return "(none)"
	}
	ks := make([]string, len(rs))
	for i, r := range rs {
		ks[i] = string(r.Kind)
	}
	return strings.Join(ks, ", ")
}

func checkCreated(got []*engine.Record, e *Expect) *Failure {
	wantKinds := make([]string, len(e.Created))
	for i, w := range e.Created {
		wantKinds[i] = w.Kind
	}
	for i, w := range e.Created {
		if i >= len(got) {
			return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("record %d was not created", i+1),
				Want: strings.Join(wantKinds, ", "), Got: kinds(got)}
		}
		g := got[i]
		if string(g.Kind) != w.Kind {
			return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("record %d is a %s, not a %s", i+1, g.Kind, w.Kind),
				Want: strings.Join(wantKinds, ", "), Got: kinds(got)}
		}
		// Dry-run through the CRM: what it would refuse fails the test.
		if _, err := crm.Draft(*g); err != nil {
			return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("the CRM would refuse record %d: %v", i+1, err)}
		}
		for _, k := range slices.Sorted(maps.Keys(w.Fields)) {
			gv, ok := g.Fields[k]
			if !Match(w.Fields[k], gv) {
				gs := Format(gv)
				if !ok {
					gs = "(no " + k + ")"
				}
				return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("the %s's %s is different", w.Kind, k),
					Want: Format(w.Fields[k]), Got: gs}
			}
		}
	}
	if len(got) > len(e.Created) {
		want := strings.Join(wantKinds, ", ")
		if want == "" {
			want = "(none)"
		}
		return &Failure{Pos: e.CreatedPos, Summary: "more records were created than the test lists",
			Want: want, Got: kinds(got)}
	}
	return nil
}

func callKey(c *engine.CallRequest) string { return strings.ToUpper(c.Method) + " " + c.URL }

// callMatches reports whether a call made matches an expected "METHOD URL":
// exactly, or, when want has no query string, ignoring the call's query.
func callMatches(want string, c *engine.CallRequest) bool {
	got := callKey(c)
	if got == want {
		return true
	}
	if strings.Contains(want, "*") && engine.GlobMatch(want, got) {
		return true
	}
	if !strings.Contains(want, "?") {
		base, _, _ := strings.Cut(got, "?")
		return base == want
	}
	return false
}

func checkCalls(got []*engine.CallRequest, e *Expect) *Failure {
	gotKeys := make([]string, len(got))
	for i, c := range got {
		gotKeys[i] = callKey(c)
	}
	list := func(ks []string) string {
		if len(ks) == 0 {
			return "(none)"
		}
		return strings.Join(ks, ", ")
	}
	wantKeys := make([]string, len(e.Calls))
	for i, w := range e.Calls {
		wantKeys[i] = w.Value
	}
	for i, w := range e.Calls {
		if i >= len(got) {
			return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("call %d was not made", i+1), Want: list(wantKeys), Got: list(gotKeys)}
		}
		if !callMatches(w.Value, got[i]) {
			return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("call %d is different", i+1), Want: quote(w.Value), Got: quote(gotKeys[i])}
		}
		if i < len(e.CallDetails) && e.CallDetails[i] != nil {
			cw := e.CallDetails[i]
			for _, name := range slices.Sorted(maps.Keys(cw.Headers)) {
				var gv any
				found := false
				for k, v := range got[i].Headers {
					if strings.EqualFold(k, name) {
						gv, found = v, true
					}
				}
				if !found || !Match(cw.Headers[name], gv) {
					g := Format(gv)
					if !found {
						g = "(no " + name + " header)"
					}
					return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("call %d's %s header is different", i+1, name), Want: Format(cw.Headers[name]), Got: g}
				}
			}
			for _, name := range slices.Sorted(maps.Keys(cw.Body)) {
				gv, found := got[i].Body[name]
				if !Match(cw.Body[name], gv) {
					g := Format(gv)
					if !found {
						g = "(no " + name + ")"
					}
					return &Failure{Pos: w.Pos, Summary: fmt.Sprintf("call %d's body field %s is different", i+1, name), Want: Format(cw.Body[name]), Got: g}
				}
			}
		}
	}
	if len(got) > len(e.Calls) {
		return &Failure{Pos: e.CallsPos, Summary: "more calls were made than the test lists", Want: list(wantKeys), Got: list(gotKeys)}
	}
	return nil
}
