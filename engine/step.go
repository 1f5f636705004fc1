package engine

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/playbook-dev/playbook/dsl/source"
)

// MaxCardsPerStep is how many cards one Step may enter before it stops the
// session as a runaway loop (status failed).
const MaxCardsPerStep = 1000

// DefaultHandoffWait is how long a handoff waits for an agent when the card
// gives no wait.
const DefaultHandoffWait = 2 * time.Minute

// Call timeouts: the default when a call card gives none, and the most any
// call may wait.
const (
	DefaultCallTimeout = 5 * time.Second
	MaxCallTimeout     = 30 * time.Second
)

// visitorVar is the env entry that carries the visitor into expressions.
const visitorVar = "visitor"

// halt is what a card step returns when the session stops moving in this
// Step (it waits, ended or failed); other results are card indices, and -1
// means the conversation falls off its end.
const halt = -2

// NewSession returns a session of p that has not started yet: status new,
// at Cards[0], in p's default locale, with the declared vars' defaults set.
// now is the session's start time. The caller then steps it with
// EventStart.
func NewSession(p *Program, id string, now time.Time) *Session {
	s := &Session{ID: id, StartedAt: now, UpdatedAt: now}
	if p == nil {
		return s
	}
	s.Playbook, s.Version, s.Locale = p.ID, p.Hash, p.Locale
	// two spare slots for the visitor and the world Step adds while it runs
	s.Vars = make(map[string]any, len(p.Vars)+2)
	for _, v := range p.Vars {
		if v.Default == nil {
			continue
		}
		if d, err := coerce(cloneValue(v.Default), v.Type, true); err == nil && d != nil {
			s.Vars[v.Name] = d
		}
	}
	return s
}

// Step moves s by one event ev and returns it (changed in place) with the
// effects the caller must carry out, in order. Step does no I/O, reads no
// clock (ev.Now is the time) and never panics on bad input: problems come
// back as EffectError. Every call increments s.Turn once, whatever the
// event, and sets s.UpdatedAt to ev.Now when it is not zero. The rules are
// those of docs/SPEC.md ("Cards and their keys", "Runtime"); where the spec
// is silent:
//
//   - EventStart on a session that has already started does nothing.
//     EventText or EventButton on a session that has not started starts it,
//     then answers the first question with the message.
//   - A message while a call is pending, or while the session is in
//     handoff, agent, ended or failed, does nothing. EventAgentLeft does
//     something only while an agent owns the chat. An EventTimer or
//     EventCallResult that is not the one the session waits for does
//     nothing.
//   - EventResume with an empty Card continues below the card the session
//     stopped at; an unknown card, or a card (named, or the one below)
//     that needs a var the session has not set (Card.Needs), is an
//     EffectError that leaves the session as it was.
//   - A handoff sets the provisional outcome "handoff", or the card's end
//     label when it has one; when the wait runs out the outcome is cleared
//     before the offline card runs.
//   - "The var unset" after a failed call or after the last invalid answer
//     means not set: a var keeps the value it had (its default, say). A
//     response that lacks a saved field (or has null there) leaves a var
//     with a default as it was, and counts as a failed call for a var
//     without one; a field that does not fit its var's type (a list into
//     a string var) counts as a failed call. So after a call that
//     succeeded every var it saves has a value. Response values are read generously ("49.5"
//     into a number var, 3.0 into an int var).
//   - The n of a record, call or timer id counts the ids made in the Step, so
//     ids stay unique when a loop enters the same card twice in one Step.
//   - A set whose Expr is Loose and whose value does not fit the var's type
//     reads it generously (as a call's answer), else leaves the var unset.
//   - After the last allowed invalid answer (retry.max) no hint is shown:
//     the then card speaks.
//
// A session started on another version of the program (s.Version !=
// p.Hash) is not moved: Step returns an EffectError and leaves it as it was.
func Step(p *Program, s *Session, ev Event) (*Session, []Effect) {
	return StepTrace(p, s, ev, nil)
}

// StepTrace is Step that also calls visit (when not nil) with the index of
// every card entered, in order, for coverage reports.
func StepTrace(p *Program, s *Session, ev Event, visit func(card int)) (*Session, []Effect) {
	if visit == nil {
		return step(p, s, ev, nil)
	}
	return step(p, s, ev, &Trace{Card: visit})
}

func step(p *Program, s *Session, ev Event, trace *Trace) (*Session, []Effect) {
	if s == nil {
		return nil, []Effect{errorEffect("", source.Range{}, "no session to step")}
	}
	s.Turn++
	if !ev.Now.IsZero() {
		s.UpdatedAt = ev.Now
	}
	if p == nil {
		return s, []Effect{errorEffect("", source.Range{}, "no program to run the session on")}
	}
	if s.Version != p.Hash {
		return s, []Effect{errorEffect("", source.Range{},
			"the session was started on version "+short(s.Version)+" of playbook "+s.Playbook+
				", but this is version "+short(p.Hash)+" of "+p.ID+"; step it with the version it started on")}
	}
	r := runners.Get().(*runner)
	r.p, r.s, r.ev, r.trace = p, s, ev, trace
	r.world = World{now: ev.Now, online: ev.Online, open: ev.Open, locale: s.Locale, hours: p.Hours}
	r.out = make([]Effect, 0, 4)
	normalizeVars(p, s)
	if s.Vars == nil {
		s.Vars = make(map[string]any, len(p.Vars)+2)
	}
	s.Vars[visitorVar] = &s.Visitor
	s.Vars[worldVar] = &r.world
	r.handle()
	delete(s.Vars, visitorVar)
	delete(s.Vars, worldVar)
	out := r.out
	r.release()
	return s, out
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	if hash == "" {
		return "(none)"
	}
	return hash
}

// runner is the state of one Step. Runners are pooled: a Step allocates
// neither the VM nor the World.
type runner struct {
	vm    vm.VM
	world World
	p     *Program
	s     *Session
	ev    Event
	trace *Trace
	out   []Effect
	buf   []byte // scratch for rendering and ids
	cards int    // cards entered in this Step
	seq   int    // ids made in this Step
}

var runners = sync.Pool{New: func() any { return new(runner) }}

func (r *runner) release() {
	r.buf = r.buf[:0]
	if cap(r.buf) > 4096 {
		r.buf = nil
	}
	r.p, r.s, r.ev, r.trace, r.out = nil, nil, Event{}, nil, nil
	r.world = World{}
	r.cards, r.seq = 0, 0
	runners.Put(r)
}

// handle dispatches the event on the session's status.
func (r *runner) handle() {
	s := r.s
	switch r.ev.Kind {
	case EventStart:
		if s.Status == StatusNew {
			r.start()
		}
	case EventText, EventButton:
		switch s.Status {
		case StatusNew:
			// A message before the start event starts the conversation and
			// answers its first question.
			r.start()
			if s.Status == StatusWaiting {
				r.answer()
			}
		case StatusWaiting:
			r.answer()
		}
	case EventAgentJoined:
		r.cancelTimer()
		s.Status, s.Agent, s.Call, s.Tries = StatusAgent, r.ev.Agent, "", 0
	case EventAgentLeft:
		if s.Status == StatusAgent {
			s.Status, s.Agent = StatusEnded, ""
			r.out = append(r.out, Effect{Kind: EffectEnd, Card: r.cardName(s.Card), Outcome: s.Outcome})
		}
	case EventTimer:
		if s.Status == StatusHandoff && s.Timer != "" && r.ev.Timer == s.Timer {
			s.Timer = ""
			c := r.current()
			if c == nil || c.Handoff == nil {
				r.fail(c, nil, "the session waits on a handoff, but its card has none")
				return
			}
			s.Outcome = "" // nobody accepted: the handoff did not happen
			r.edge(c, EdgeOffline, 0)
			r.run(c.Handoff.Offline)
		}
	case EventCallResult:
		if s.Status == StatusCalling && r.ev.Call != nil && s.Call != "" && r.ev.Call.ID == s.Call {
			r.callResult(r.ev.Call)
		}
	case EventResume:
		r.resume()
	default:
		r.out = append(r.out, errorEffect(r.cardName(s.Card), source.Range{}, "unknown event kind "+strconv.Quote(string(r.ev.Kind))))
	}
}

// start begins the conversation at Cards[0].
func (r *runner) start() {
	s := r.s
	if r.ev.Visitor != nil {
		s.Visitor = *r.ev.Visitor
	}
	loc := r.ev.Locale
	if loc == "" {
		loc = s.Visitor.Language
	}
	s.Locale = matchLocale(r.p, loc)
	r.world.locale = s.Locale
	if s.StartedAt.IsZero() {
		s.StartedAt = r.ev.Now
	}
	s.Tries, s.Outcome = 0, ""
	if len(r.p.Cards) == 0 {
		r.run(-1)
		return
	}
	r.run(0)
}

// resume hands the chat back to the bot at ev.Card; an empty Card means the
// card after the one the session stopped at.
func (r *runner) resume() {
	s := r.s
	idx := -1
	if r.ev.Card != "" {
		i, ok := r.p.cardByName[r.ev.Card]
		if !ok {
			r.out = append(r.out, errorEffect(r.ev.Card, source.Range{}, "cannot resume at card "+strconv.Quote(r.ev.Card)+": there is no such card"))
			return
		}
		if err := r.p.notBackTo(i, s); err != nil {
			r.out = append(r.out, errorEffect(r.ev.Card, r.p.Cards[i].Pos, err.Error()))
			return
		}
		if missing := r.p.Cards[i].missing(s); len(missing) > 0 {
			r.out = append(r.out, errorEffect(r.ev.Card, r.p.Cards[i].Pos, resumeRefusal(r.ev.Card, missing)))
			return
		}
		idx = i
	} else if c := r.current(); c != nil {
		idx = c.Next
		// The card below was never proved safe for this session: the
		// agent may have taken the chat at a question it never answered.
		if idx >= 0 {
			if err := r.p.notBackTo(idx, s); err != nil {
				r.out = append(r.out, errorEffect(r.p.Cards[idx].Name, r.p.Cards[idx].Pos, err.Error()))
				return
			}
			if missing := r.p.Cards[idx].missing(s); len(missing) > 0 {
				name := r.p.Cards[idx].Name
				r.out = append(r.out, errorEffect(name, r.p.Cards[idx].Pos, resumeRefusal(name, missing)))
				return
			}
		}
	}
	r.cancelTimer()
	s.Agent, s.Call, s.Tries = "", "", 0
	if s.Locale == "" {
		s.Locale = r.p.Locale
	}
	r.run(idx)
}

// resumeRefusal says why a hand-back to card is refused: the vars it
// reads that the session has not set.
func resumeRefusal(card string, missing []string) string {
	q := make([]string, len(missing))
	for i, v := range missing {
		q[i] = strconv.Quote(v)
	}
	msg := "cannot hand back to card " + strconv.Quote(card) + ": "
	if len(q) == 1 {
		return msg + "it reads var " + q[0] + ", which this conversation has not set; hand back to a card that asks for it first"
	}
	return msg + "it reads vars " + strings.Join(q, ", ") + ", which this conversation has not set; hand back to a card that asks for them first"
}

func (r *runner) cancelTimer() {
	if r.s.Timer != "" {
		r.out = append(r.out, Effect{Kind: EffectCancel, Card: r.cardName(r.s.Card), Timer: &Timer{ID: r.s.Timer}})
		r.s.Timer = ""
	}
}

// current returns the card the session stands at, or nil.
func (r *runner) current() *Card {
	if i := r.s.Card; i >= 0 && i < len(r.p.Cards) {
		return r.p.Cards[i]
	}
	return nil
}

func (r *runner) cardName(i int) string {
	if i >= 0 && i < len(r.p.Cards) {
		return r.p.Cards[i].Name
	}
	return ""
}

// run enters cards from idx until the session waits, ends or fails.
func (r *runner) run(idx int) {
	for idx != halt {
		if idx < 0 {
			r.end(r.current(), r.s.Outcome)
			return
		}
		if idx >= len(r.p.Cards) {
			r.fail(r.current(), nil, "goes to card #"+strconv.Itoa(idx)+", which does not exist")
			return
		}
		c := r.p.Cards[idx]
		if r.cards == MaxCardsPerStep {
			r.fail(c, nil, "ran "+strconv.Itoa(MaxCardsPerStep)+" cards without waiting for the visitor (loop?)")
			return
		}
		r.cards++
		if r.trace != nil && r.trace.Card != nil {
			r.trace.Card(idx)
		}
		r.s.Card = idx
		idx = r.enter(c)
	}
}

// enter runs card c from the top and returns where to go next.
func (r *runner) enter(c *Card) int {
	a := c.Ask
	if a != nil && a.SkipIf != nil {
		skip, ok := r.cond(c, a.SkipIf)
		if !ok {
			return halt
		}
		if skip {
			r.edge(c, EdgeSkip, 0)
			return r.after(c, phaseSet, -1)
		}
	}
	var buttons []Button
	if a != nil {
		var ok bool
		if buttons, ok = r.buttons(c, a); !ok {
			return halt
		}
	}
	onSay := buttons
	if a != nil && a.Prompt != nil {
		onSay = nil
	}
	if !r.say(c, onSay) {
		return halt
	}
	if a != nil {
		r.ask(c, buttons, false)
		return halt
	}
	return r.after(c, phaseSet, -1)
}

// say emits c's bubbles; the last one carries the image, the links and
// buttons.
func (r *runner) say(c *Card, buttons []Button) bool {
	n := len(c.Say)
	var links []LinkOut
	if len(c.Links) > 0 {
		links = make([]LinkOut, 0, len(c.Links))
		for _, l := range c.Links {
			label, _, ok := r.text(c, l.Label)
			if !ok {
				return false
			}
			links = append(links, LinkOut{Label: label, URL: l.URL})
		}
	}
	if n == 0 {
		if c.Image != "" || links != nil {
			r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Locale: r.s.Locale, Image: c.Image, Links: links, Buttons: buttons})
		}
		return true
	}
	for i, t := range c.Say {
		txt, loc, ok := r.text(c, t)
		if !ok {
			return false
		}
		e := Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc}
		if i == n-1 {
			e.Image, e.Links, e.Buttons = c.Image, links, buttons
		}
		r.out = append(r.out, e)
	}
	return true
}

// ask shows the question (again, after an invalid answer, when again) and
// waits for the visitor.
func (r *runner) ask(c *Card, buttons []Button, again bool) {
	a := c.Ask
	if a.Prompt != nil {
		txt, loc, ok := r.text(c, a.Prompt)
		if !ok {
			return
		}
		r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc, Buttons: buttons})
	} else if again && len(c.Say) > 0 {
		txt, loc, ok := r.text(c, c.Say[len(c.Say)-1])
		if !ok {
			return
		}
		r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc, Buttons: buttons})
	}
	r.out = append(r.out, Effect{Kind: EffectWait, Card: c.Name, Input: inputOf(a), Buttons: buttons})
	r.s.Status = StatusWaiting
}

func inputOf(a *Ask) InputType {
	switch {
	case len(a.Choices) > 0:
		return InputChoice
	case a.Input == "":
		return InputText
	}
	return a.Input
}

// buttons renders the question's buttons: its choices, or Yes and No.
func (r *runner) buttons(c *Card, a *Ask) ([]Button, bool) {
	if len(a.Choices) > 0 {
		bs := make([]Button, len(a.Choices))
		for i, ch := range a.Choices {
			label, _, ok := r.text(c, ch.Label)
			if !ok {
				return nil, false
			}
			if label == "" {
				label = ch.Value
			}
			bs[i] = Button{Label: label, Value: ch.Value}
		}
		return bs, true
	}
	if a.Input == InputYesNo {
		w := wordsFor(r.s.Locale)
		return []Button{{Label: w.yes, Value: "yes"}, {Label: w.no, Value: "no"}}, true
	}
	return nil, true
}

// answer takes the visitor's message as the answer to the question the
// session waits on.
func (r *runner) answer() {
	s := r.s
	c := r.current()
	if c == nil || c.Ask == nil {
		r.fail(c, nil, "the session waits on a card that asks nothing")
		return
	}
	a := c.Ask
	raw, button := r.ev.Text, r.ev.Kind == EventButton
	if button {
		raw = r.ev.Button
	}
	val, choice, ok := r.parse(a, raw, button)
	if s.Status == StatusFailed { // a choice label failed to render
		return
	}
	if len(a.Intents) > 0 {
		r.answerIntent(c, raw)
		return
	}
	if !ok && a.Other != nil && len(a.Choices) > 0 && !button && strings.TrimSpace(raw) != "" {
		r.answerOther(c, strings.TrimSpace(raw))
		return
	}
	var hint *Text
	var decl *VarDecl
	if ok && a.Save != "" {
		d, found := r.p.varByName[a.Save]
		if !found {
			r.fail(c, nil, "saves into "+a.Save+", which is not a declared var")
			return
		}
		decl = d
		v, err := coerce(val, d.Type, false)
		if err != nil {
			r.fail(c, nil, "cannot save the answer into "+a.Save+": "+err.Error())
			return
		}
		val = v
	}
	if ok && len(a.Validate) > 0 {
		// The new answer is visible in the checks under the saved var's name.
		var old any
		var had bool
		if decl != nil {
			old, had = s.Vars[a.Save]
			s.Vars[a.Save] = val
		}
		for i := range a.Validate {
			v := &a.Validate[i]
			pass, good := r.cond(c, v.If)
			if !good {
				return
			}
			if !pass {
				ok, hint = false, v.Say
				break
			}
		}
		if decl != nil && !ok {
			if had {
				s.Vars[a.Save] = old
			} else {
				delete(s.Vars, a.Save)
			}
		}
	}
	if !ok {
		s.Tries++
		if a.Retry.Max > 0 && s.Tries >= a.Retry.Max {
			s.Tries = 0
			r.edge(c, EdgeRetry, 0)
			if a.Retry.Then >= 0 {
				r.run(a.Retry.Then)
				return
			}
			r.run(r.after(c, phaseSet, -1)) // the var keeps what it had
			return
		}
		if hint == nil {
			hint = a.Retry.Say
		}
		if hint != nil {
			txt, loc, good := r.text(c, hint)
			if !good {
				return
			}
			r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc})
		} else {
			loc, txt := builtinHint(s.Locale, inputOf(a))
			r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc})
		}
		buttons, good := r.buttons(c, a)
		if !good {
			return
		}
		r.ask(c, buttons, true)
		return
	}
	s.Tries = 0
	if decl != nil {
		if val == nil {
			delete(s.Vars, a.Save)
		} else {
			s.Vars[a.Save] = val
		}
	}
	override := -1
	if choice != nil {
		override = choice.Goto
		for i, ch := range a.Choices {
			if ch == choice {
				r.edge(c, EdgeChoice, i)
			}
		}
	}
	r.run(r.after(c, phaseSet, override))
}

// answerOther saves free text that matched no choice into the other's var
// and goes on from there.
func (r *runner) answerOther(c *Card, text string) {
	o := c.Ask.Other
	if o.Save != "" {
		if !r.setVar(c, o.Save, text, nil) {
			return
		}
	}
	r.s.Tries = 0
	r.edge(c, EdgeOther, 0)
	r.run(r.after(c, phaseSet, o.Goto))
}

// answerIntent matches the message to one of the card's intents: with the
// caller's guess when the event brings one, else with the built-in
// matcher. A sure enough match saves the intent's name and takes its goto;
// otherwise the fallback card runs, or the message counts as an invalid
// answer.
func (r *runner) answerIntent(c *Card, raw string) {
	a, s := c.Ask, r.s
	var g IntentGuess
	if r.ev.Intent != nil {
		g = *r.ev.Intent
	} else {
		g = MatchIntent(raw, s.Locale, a.Intents)
	}
	min := a.MinConfidence
	if min <= 0 {
		min = DefaultMinConfidence
	}
	var in *Intent
	idx := -1
	if g.Name != "" && g.Confidence >= min {
		for i, x := range a.Intents {
			if x.Name == g.Name {
				in, idx = x, i
				break
			}
		}
	}
	if in == nil {
		if a.Fallback >= 0 {
			s.Tries = 0
			r.edge(c, EdgeFallback, 0)
			r.run(a.Fallback)
			return
		}
		s.Tries++
		if a.Retry.Max > 0 && s.Tries >= a.Retry.Max {
			s.Tries = 0
			r.edge(c, EdgeRetry, 0)
			if a.Retry.Then >= 0 {
				r.run(a.Retry.Then)
				return
			}
			r.run(r.after(c, phaseSet, -1))
			return
		}
		hint := a.Retry.Say
		if hint != nil {
			txt, loc, good := r.text(c, hint)
			if !good {
				return
			}
			r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc})
		} else {
			loc, txt := builtinHint(s.Locale, InputIntent)
			r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc})
		}
		r.ask(c, nil, true)
		return
	}
	s.Tries = 0
	if a.Save != "" {
		if !r.setVar(c, a.Save, in.Name, nil) {
			return
		}
	}
	r.edge(c, EdgeIntent, idx)
	r.run(r.after(c, phaseSet, in.Goto))
}

// parse reads raw as an answer to a. ch is the chosen choice, if any.
func (r *runner) parse(a *Ask, raw string, button bool) (val any, ch *Choice, ok bool) {
	if len(a.Choices) > 0 {
		ch = r.matchChoice(a, raw, button)
		if ch == nil {
			return nil, nil, false
		}
		return ch.Value, ch, true
	}
	v, ok := parseInput(a.Input, raw, r.s.Locale, r.ev.Now)
	return v, nil, ok
}

// Phases of a card after its question, in order.
const (
	phaseSet = iota
	phaseCreate
	phaseAction // call, handoff or include
	phaseEnd
)

// after runs card c from phase on (its question answered or skipped) and
// returns where to go next. override, when >= 0, is a choice's goto, which
// wins over the card's branch and goto.
func (r *runner) after(c *Card, phase, override int) int {
	if phase <= phaseSet {
		for i := range c.Set {
			as := &c.Set[i]
			var v any
			var ok bool
			if as.Tmpl != nil {
				v, ok = r.render(c, as.Tmpl)
			} else {
				v, ok = r.eval(c, as.Expr)
			}
			if !ok {
				return halt
			}
			if !r.setVar(c, as.Var, v, as.Expr) {
				return halt
			}
		}
	}
	if phase <= phaseCreate {
		for _, cr := range c.Create {
			if !r.create(c, cr) {
				return halt
			}
		}
	}
	if phase <= phaseAction {
		switch {
		case c.Call != nil:
			r.call(c)
			return halt
		case c.Handoff != nil:
			return r.handoff(c)
		case c.Include != "":
			return c.Next
		}
	}
	if c.HasEnd {
		r.end(c, c.End)
		return halt
	}
	if override >= 0 {
		return override
	}
	if c.Experiment != nil {
		i := r.variant(c)
		r.edge(c, EdgeVariant, i)
		return c.Experiment.Variants[i].Goto
	}
	for i := range c.Branch {
		b := &c.Branch[i]
		if b.If == nil {
			r.edge(c, EdgeBranch, i)
			return b.Goto
		}
		ok, good := r.cond(c, b.If)
		if !good {
			return halt
		}
		if ok {
			r.edge(c, EdgeBranch, i)
			return b.Goto
		}
	}
	if len(c.Branch) > 0 {
		r.edge(c, EdgeNoBranch, 0)
	}
	return c.Next
}

// end ends the bot part with outcome.
func (r *runner) end(c *Card, outcome string) {
	s := r.s
	r.cancelTimer()
	s.Status, s.Outcome, s.Tries = StatusEnded, outcome, 0
	name := ""
	if c != nil {
		name = c.Name
	}
	r.out = append(r.out, Effect{Kind: EffectEnd, Card: name, Outcome: outcome})
}

// fail stops the session with a runtime error in card c at e (or at the
// card when e is nil).
func (r *runner) fail(c *Card, e *Expr, msg string) {
	name, pos := "", source.Range{}
	if c != nil {
		name, pos = c.Name, c.Pos
	}
	if e != nil && e.Pos.Start.IsValid() {
		pos = e.Pos
	}
	r.s.Status = StatusFailed
	r.out = append(r.out, errorEffect(name, pos, msg))
}

func errorEffect(card string, pos source.Range, msg string) Effect {
	return Effect{Kind: EffectError, Card: card, Error: &RuntimeError{Card: card, Pos: pos, Msg: msg}}
}

// setVar sets var name to v, coerced to its declared type.
func (r *runner) setVar(c *Card, name string, v any, e *Expr) bool {
	d, ok := r.p.varByName[name]
	if !ok {
		r.fail(c, e, "sets "+name+", which is not a declared var")
		return false
	}
	v, _ = finite(v, 0) // fromPairs's map fits a map var
	cv, err := coerce(v, d.Type, false)
	if err != nil && e != nil && e.Loose {
		// A set whose value's type is only known while chatting (a map
		// field, an any var, x ?? y of two types) and does not fit: read
		// it generously, as a call's answer is, else the var has no value
		// (the checker made its reads say what then).
		if cv, err = coerce(v, d.Type, true); err != nil {
			cv, err = nil, nil
		}
	}
	if err != nil {
		r.fail(c, e, "cannot set "+name+": "+err.Error())
		return false
	}
	// A number too large to be one (1e308 * 10) is the largest there
	// is, in a list or a map too: the conversation could not be saved
	// with an infinite number in it, and the var keeps a value, so its
	// reads need no ??.
	cv, _ = finite(cv, 0)
	if tooLarge(cv, 0) {
		r.fail(c, e, "cannot set "+name+": the value is too large (texts up to 64 KiB, lists and maps up to 1,000 items, nested up to 10 levels)")
		return false
	}
	if cv == nil {
		delete(r.s.Vars, name)
	} else {
		r.s.Vars[name] = cv
	}
	return true
}

// finite is v as a session can keep it (as JSON): each number that is
// not finite made one, +Inf and -Inf (1e308 * 10) the largest number
// there is and its negative, NaN (the difference of two of those) 0; a
// map with keys that are not texts (fromPairs's) with their texts as
// keys. It reports whether it changed v (v itself, no copy, when not).
func finite(v any, depth int) (any, bool) {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return finiteNumber(x), true
		}
	case []any:
		if depth > maxVarDepth {
			return v, false
		}
		var out []any
		for i, e := range x {
			f, changed := finite(e, depth+1)
			if changed && out == nil {
				out = append(make([]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, f)
			}
		}
		if out != nil {
			return out, true
		}
	case []float64:
		for _, e := range x {
			if math.IsInf(e, 0) || math.IsNaN(e) {
				out := make([]float64, len(x))
				for i, e := range x {
					out[i] = finiteNumber(e)
				}
				return out, true
			}
		}
	case map[any]any:
		// fromPairs's map: JSON keys are texts, so 1 is kept as "1".
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[string(appendValue(nil, k))], _ = finite(e, depth+1)
		}
		return out, true
	case nil, string, bool, int, time.Time:
	default:
		// groupBy's map[any][]any and the like: keys as texts too.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Map && rv.Type().Key().Kind() != reflect.String {
			out := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				out[string(appendValue(nil, it.Key().Interface()))], _ = finite(it.Value().Interface(), depth+1)
			}
			return out, true
		}
	case map[string]any:
		if depth > maxVarDepth {
			return v, false
		}
		var out map[string]any
		for k, e := range x {
			f, changed := finite(e, depth+1)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
				for k, e := range x {
					out[k] = e
				}
			}
			out[k] = f
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// finiteNumber is f, or for +Inf, -Inf and NaN the largest number, its
// negative and 0.
func finiteNumber(f float64) float64 {
	switch {
	case math.IsNaN(f):
		return 0
	case math.IsInf(f, 1):
		return math.MaxFloat64
	case math.IsInf(f, -1):
		return -math.MaxFloat64
	}
	return f
}

// Limits on what a var may hold, so a playbook cannot grow a session
// without bound (a text doubled on every message, say).
const (
	MaxVarText  = 64 << 10
	MaxVarItems = 1000
	maxVarDepth = 10
)

func tooLarge(v any, depth int) bool {
	if depth > maxVarDepth {
		return true
	}
	switch x := v.(type) {
	case string:
		return len(x) > MaxVarText
	case []any:
		if len(x) > MaxVarItems {
			return true
		}
		for _, e := range x {
			if tooLarge(e, depth+1) {
				return true
			}
		}
	case map[string]any:
		if len(x) > MaxVarItems {
			return true
		}
		for _, e := range x {
			if tooLarge(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// id returns a new id "<session id>:<turn>:<card>:<n>", n counting the ids
// made in this Step.
func (r *runner) id(c *Card) string {
	b := r.buf[:0]
	b = append(b, r.s.ID...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.s.Turn), 10)
	b = append(b, ':')
	b = append(b, c.Name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.seq), 10)
	r.seq++
	r.buf = b
	return string(b)
}

// create emits one record.
func (r *runner) create(c *Card, cr *Create) bool {
	fields, ok := r.fields(c, cr.Fields)
	if !ok {
		return false
	}
	// A value or a due that data only known while chatting made something
	// the CRM cannot read ("N/A" from a call) is left out: the record is
	// kept without it rather than refused.
	if v, has := fields["value"]; has && v != nil && !numberLike(v) {
		delete(fields, "value")
	}
	if v, has := fields["due"]; has && v != nil && !timeLike(v) {
		delete(fields, "due")
	}
	if !keepRecord(cr.Kind, fields) {
		return true
	}
	r.out = append(r.out, Effect{Kind: EffectCreate, Card: c.Name, Record: &Record{Kind: cr.Kind, Key: r.id(c), Fields: fields}})
	return true
}

// handoff queues the chat when an agent of the team is online; otherwise it
// says so (EffectAway: the chat belongs to the team all the same) and
// returns the offline card.
func (r *runner) handoff(c *Card) int {
	h := c.Handoff
	if r.ev.Online[h.Team] <= 0 {
		r.edge(c, EdgeOffline, 0)
		r.out = append(r.out, Effect{Kind: EffectAway, Card: c.Name, Handoff: &HandoffRequest{Team: h.Team, Priority: h.Priority}})
		return h.Offline
	}
	if h.Say != nil {
		txt, loc, ok := r.text(c, h.Say)
		if !ok {
			return halt
		}
		r.out = append(r.out, Effect{Kind: EffectSay, Card: c.Name, Text: txt, Locale: loc})
	}
	wait := h.Wait
	if wait <= 0 {
		wait = DefaultHandoffWait
	}
	id := r.id(c)
	r.edge(c, EdgeHandoff, 0)
	r.out = append(r.out,
		Effect{Kind: EffectHandoff, Card: c.Name, Handoff: &HandoffRequest{Team: h.Team, Wait: wait, Priority: h.Priority}},
		Effect{Kind: EffectTimer, Card: c.Name, Timer: &Timer{ID: id, At: r.ev.Now.Add(wait)}})
	s := r.s
	s.Status, s.Timer, s.Outcome = StatusHandoff, id, "handoff"
	if c.HasEnd && c.End != "" {
		s.Outcome = c.End // an end label on a handoff card names a handoff's outcome
	}
	return halt
}

// call renders the request and waits for its result.
func (r *runner) call(c *Card) {
	cl := c.Call
	url, ok := r.render(c, cl.URL)
	if !ok {
		return
	}
	req := &CallRequest{Method: cl.Method, URL: url, Timeout: cl.Timeout}
	if len(cl.Headers) > 0 {
		req.Headers = make(map[string]string, len(cl.Headers))
		for i := range cl.Headers {
			f := &cl.Headers[i]
			v, ok := r.value(c, f.Value)
			if !ok {
				return
			}
			r.buf = appendValue(r.buf[:0], v)
			req.Headers[f.Name] = string(r.buf)
		}
	}
	if len(cl.Body) > 0 {
		if req.Body, ok = r.fields(c, cl.Body); !ok {
			return
		}
	}
	if req.Method == "" {
		req.Method = "GET"
		if req.Body != nil {
			req.Method = "POST"
		}
	}
	switch {
	case req.Timeout <= 0:
		req.Timeout = DefaultCallTimeout
	case req.Timeout > MaxCallTimeout:
		req.Timeout = MaxCallTimeout
	}
	req.ID = r.id(c)
	r.out = append(r.out, Effect{Kind: EffectCall, Card: c.Name, Call: req})
	r.s.Status, r.s.Call = StatusCalling, req.ID
}

// callResult saves the response into vars and carries on after the call
// card; a failed call (or a response whose fields do not fit the vars) sets
// no var and goes to on_error, or carries on.
func (r *runner) callResult(res *CallResult) {
	s := r.s
	s.Call = ""
	c := r.current()
	if c == nil || c.Call == nil {
		r.fail(c, nil, "the session waits on a call, but its card makes none")
		return
	}
	cl := c.Call
	ok := res.Error == "" && res.Status >= 200 && res.Status <= 299
	if ok { // check every field first, so a bad one sets none
		for _, sv := range cl.Save {
			d, found := r.p.varByName[sv.Var]
			if !found {
				r.fail(c, nil, "saves into "+sv.Var+", which is not a declared var")
				return
			}
			// A missing field for a var without a default, a value of the
			// wrong type, or one too large to keep makes the call a failed
			// one: after a call that succeeded, every var it saves has a
			// value (the response's, or its default).
			v, found := lookupPath(res.Body, sv.Path)
			if !found || v == nil {
				if d.Default == nil {
					ok = false
					break
				}
				continue
			}
			if cv, err := coerce(v, d.Type, true); err != nil || cv == nil || tooLarge(cv, 0) {
				ok = false
				break
			}
		}
	}
	if ok {
		for _, sv := range cl.Save {
			x, found := lookupPath(res.Body, sv.Path)
			if !found || x == nil {
				continue // a var with a default keeps what it has
			}
			v, _ := coerce(cloneValue(x), r.p.varByName[sv.Var].Type, true)
			s.Vars[sv.Var] = v
		}
	}
	if !ok {
		r.edge(c, EdgeCallError, 0)
	} else {
		r.edge(c, EdgeCallOK, 0)
	}
	if !ok && cl.OnError >= 0 {
		r.run(cl.OnError)
		return
	}
	r.run(r.after(c, phaseEnd, -1))
}

// keepRecord leaves out of a record's fields what data only known while
// chatting made and the CRM would refuse, so the record is kept without
// it: custom that is not a map (and its fields past 50), a person or an
// organization that is neither a text nor a map (and a map's fields but
// name, email, phone or name, domain), a note's about that is not
// person, lead, deal or owner. It reports false, and the record is not
// made, when nothing is left to keep: an organization with neither a
// name nor a domain, a note with no content.
func keepRecord(kind RecordKind, fields map[string]any) bool {
	if v, has := fields["custom"]; has && v != nil {
		m, ok := v.(map[string]any)
		switch {
		case !ok:
			delete(fields, "custom")
		case len(m) > maxCustom:
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			kept := make(map[string]any, maxCustom)
			for _, k := range keys[:maxCustom] {
				kept[k] = m[k]
			}
			fields["custom"] = kept
		}
	}
	for _, ref := range recordRefs {
		name, sub := ref.name, ref.fields
		v, has := fields[name]
		if !has || v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
		case map[string]any:
			var kept map[string]any
			for k := range x {
				if !slices.Contains(sub, k) {
					if kept == nil {
						kept = maps.Clone(x)
					}
					delete(kept, k)
				}
			}
			if kept != nil {
				fields[name] = kept
			}
		default:
			delete(fields, name)
		}
	}
	switch kind {
	case RecordNote:
		if a, has := fields["about"]; has && a != nil {
			switch strings.ToLower(strings.TrimSpace(fieldText(a))) {
			case "", "person", "lead", "deal", "owner":
			default:
				delete(fields, "about")
			}
		}
		return strings.TrimSpace(fieldText(fields["content"])) != ""
	case RecordOrganization:
		return strings.TrimSpace(fieldText(fields["name"])) != "" || strings.TrimSpace(fieldText(fields["domain"])) != ""
	}
	return true
}

// recordRefs are the fields naming another record, and what the CRM
// reads of a map there.
var recordRefs = [...]struct {
	name   string
	fields []string
}{{"person", []string{"name", "email", "phone"}}, {"organization", []string{"name", "domain"}}}

// maxCustom is the CRM's limit on a record's own fields.
const maxCustom = 50

// fieldText is v as the CRM reads a text field (a list or a map as Go
// prints it: [] is not empty).
func fieldText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any, map[string]any, []string, map[any]any:
		return fmt.Sprint(x)
	}
	return string(appendValue(nil, v))
}

// numberLike reports whether the CRM reads v as a number: a number, or a
// text of one (with thousands commas).
func numberLike(v any) bool {
	if _, ok := toFloat(v); ok {
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	_, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	return err == nil
}

// timeLike reports whether the CRM reads v as a time: a time, an RFC 3339
// or ISO date text, or an empty text (no due).
func timeLike(v any) bool {
	switch x := v.(type) {
	case time.Time:
		return !x.IsZero()
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return true
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return true
		}
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	}
	return false
}
