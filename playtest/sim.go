package playtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/langdetect"
)

// Message is one bot message as the visitor would see it.
type Message struct {
	Card    string // the card that said it
	Text    string
	Buttons []engine.Button
	Image   string
	Links   []engine.LinkOut
}

// Sim runs one session of a program in a mock world: a clock that moves
// only when told ([Sim.Advance]), presence and opening hours set by hand,
// timers kept in due order, records collected instead of stored, and HTTP
// calls answered from [Mock]s instead of sent. `playbook test` and
// `playbook chat` both drive the engine through it.
//
// A Sim is not safe for concurrent use. Its methods never panic: a crash
// inside the engine comes back as an error.
type Sim struct {
	Program *engine.Program
	Session *engine.Session

	Now    time.Time       // the mock clock
	Online map[string]int  // agents online per team; missing = nobody
	Open   map[string]bool // teams within opening hours; missing = closed
	Mocks  []*Mock         // answers for calls; a call with none gets a transport error
	// Pins put the conversation in these variants (experiment name to
	// variant name) from the start, whatever the visitor's id would draw.
	Pins map[string]string

	// OnEffect, when set, is called with every effect the engine returns,
	// in order, after the Sim has carried it out.
	OnEffect func(engine.Effect)
	// OnCallResult, when set, is called with each dry-run answer to a call
	// before the engine gets it.
	OnCallResult func(*engine.CallRequest, *engine.CallResult)
	// OnTimer, when set, is called when a timer fires, before the engine
	// hears of it.
	OnTimer func(engine.Timer)
	// OnVisit, when set, is called with the index of every card entered.
	OnVisit func(card int)
	// Matcher picks intents at intent cards; nil is the built-in one.
	Matcher engine.IntentMatcher
	// OnIntent, when set, is called with each guess at an intent card.
	OnIntent func(engine.IntentGuess)

	Messages []Message                // every bot message so far
	Created  []*engine.Record         // every record the bot would create
	Calls    []*engine.CallRequest    // every HTTP call the bot made
	Handoffs []*engine.HandoffRequest // every handoff requested
	Errors   []*engine.RuntimeError   // runtime errors that stopped the bot
	Entered  map[int]bool             // cards entered, by index
	Edges    map[engine.Edge]bool     // edges taken (see engine.Program.Edges)
	Intents  []IntentTaken            // every message an intent card matched, in order
	Locales  map[string]bool          // the locales the conversation ran in
	Effects  []engine.Effect          // every effect, in order
	buttons  []engine.Button          // buttons on offer now
	wrote    bool                     // the visitor typed or clicked already: no first message to come
	timers   []engine.Timer           // pending, sorted by At
	pending  []*engine.CallRequest    // calls not answered yet
	id       string
	page     string    // the page the visitor opened (OpenPage)
	pageAt   time.Time // when
	onPage   bool
}

// maxChain bounds how many timer firings or call answers one action may
// cause, so a playbook that keeps setting timers cannot hang a test.
const maxChain = 1000

// NewSim returns a Sim whose clock starts at now. The session is created
// by [Sim.Start].
func NewSim(p *engine.Program, id string, now time.Time) *Sim {
	return &Sim{
		Program: p,
		Now:     now,
		Online:  map[string]int{},
		Open:    map[string]bool{},
		Entered: map[int]bool{},
		Edges:   map[engine.Edge]bool{},
		Locales: map[string]bool{},
		id:      id,
	}
}

// Start opens the conversation: a new session, then the start event with
// the visitor and their browser language.
func (s *Sim) Start(v engine.Visitor, locale string) (err error) {
	if s.Program == nil {
		return fmt.Errorf("no playbook to run")
	}
	defer catch(&err)
	s.Session = engine.NewSession(s.Program, s.id, s.Now)
	if len(s.Pins) > 0 {
		s.Session.Variants = maps.Clone(s.Pins)
	}
	s.timers, s.pending, s.buttons = nil, nil, nil
	if v.Language == "" {
		v.Language = locale
	}
	return s.send(engine.Event{Kind: engine.EventStart, Visitor: &v, Locale: locale})
}

// IntentTaken is what an intent card made of a message: the matcher's
// guess, and whether it was sure enough to take the intent.
type IntentTaken struct {
	engine.IntentGuess
	Taken bool
}

// Text sends what the visitor typed. At an intent card the Sim's matcher
// classifies it first and the guess goes with the event.
func (s *Sim) Text(text string) error {
	ev := engine.Event{Kind: engine.EventText, Text: text}
	if s.Session != nil && s.Session.Status == engine.StatusWaiting {
		if i := s.Session.Card; i >= 0 && i < len(s.Program.Cards) {
			if a := s.Program.Cards[i].Ask; a != nil && len(a.Intents) > 0 {
				m := s.Matcher
				if m == nil {
					m = engine.BuiltinMatcher{}
				}
				g := m.MatchIntent(text, s.Session.Locale, a.Intents)
				ev.Intent = &g
				minc := a.MinConfidence
				if minc <= 0 {
					minc = engine.DefaultMinConfidence
				}
				taken := false
				for _, in := range a.Intents {
					taken = taken || (in.Name == g.Name && g.Confidence >= minc)
				}
				s.Intents = append(s.Intents, IntentTaken{g, taken})
				if s.OnIntent != nil {
					s.OnIntent(g)
				}
			}
		}
	}
	return s.send(ev)
}

// Buttons returns the buttons on offer: those of the last bot message, or
// of the question the bot waits on when that message has none.
func (s *Sim) Buttons() []engine.Button { return s.buttons }

// FindButton returns the button on offer whose label or value is
// labelOrValue (exactly, else ignoring case and surrounding spaces).
func (s *Sim) FindButton(labelOrValue string) (engine.Button, bool) {
	for _, b := range s.buttons {
		if b.Label == labelOrValue || b.Value == labelOrValue {
			return b, true
		}
	}
	norm := strings.ToLower(strings.TrimSpace(labelOrValue))
	for _, b := range s.buttons {
		if strings.ToLower(b.Label) == norm || strings.ToLower(b.Value) == norm {
			return b, true
		}
	}
	return engine.Button{}, false
}

// Click clicks the button on offer with this label or value.
func (s *Sim) Click(labelOrValue string) error {
	b, ok := s.FindButton(labelOrValue)
	if !ok {
		if len(s.buttons) == 0 {
			return fmt.Errorf("there is no button %q: the bot offers no buttons now", labelOrValue)
		}
		return fmt.Errorf("there is no button %q: the buttons are %s", labelOrValue, Format(ButtonLabels(s.buttons)))
	}
	return s.ClickButton(b)
}

// ClickButton clicks b.
func (s *Sim) ClickButton(b engine.Button) error {
	v := b.Value
	if v == "" {
		v = b.Label
	}
	return s.send(engine.Event{Kind: engine.EventButton, Button: v})
}

// ButtonLabels returns the labels of bs.
func ButtonLabels(bs []engine.Button) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Label
	}
	return out
}

// AgentJoins has agent take the chat.
func (s *Sim) AgentJoins(agent string) error {
	return s.send(engine.Event{Kind: engine.EventAgentJoined, Agent: agent})
}

// AgentLeaves has agent leave the chat.
func (s *Sim) AgentLeaves(agent string) error {
	return s.send(engine.Event{Kind: engine.EventAgentLeft, Agent: agent})
}

// Resume hands the chat back to the bot at the card named card.
func (s *Sim) Resume(card string) error {
	if _, ok := s.Program.Card(card); !ok {
		names := make([]string, len(s.Program.Cards))
		for i, c := range s.Program.Cards {
			names[i] = c.Name
		}
		return unknownCard(card, names)
	}
	if _, err := s.Program.CanResumeAt(card, s.Session); err != nil {
		return err
	}
	return s.send(engine.Event{Kind: engine.EventResume, Card: card})
}

// SetOnline sets how many agents of each team in online are online; other
// teams keep theirs.
func (s *Sim) SetOnline(online map[string]int) {
	maps.Copy(s.Online, online)
}

// OpenPage has the visitor open page: their page changes and the time on
// the page (for a trigger's delay) starts now.
func (s *Sim) OpenPage(page string) {
	s.page, s.pageAt, s.onPage = page, s.Now, true
	if s.Session != nil {
		s.Session.Visitor.Page = page
	}
}

// Triggers reports whether the playbook's trigger would start a chat now:
// the visitor's page matches one of its pages, they have been on it for its
// delay, and its when holds for the visitor. why says what decided it.
func (s *Sim) Triggers() (bool, string) {
	t := s.Program.Trigger
	if t == nil {
		return false, "the playbook has no trigger"
	}
	var vis engine.Visitor
	if s.Session != nil {
		vis = s.Session.Visitor
	}
	page := vis.Page
	if s.onPage {
		page = s.page
	}
	if !t.MatchesPage(page) {
		return false, fmt.Sprintf("page %s is not one of %s", page, Format(t.Pages))
	}
	if t.Delay > 0 {
		on := s.Now.Sub(s.pageAt)
		if !s.onPage {
			on = 0
		}
		if on < t.Delay {
			return false, fmt.Sprintf("the visitor has been on the page %s of the %s delay", FormatDuration(on), FormatDuration(t.Delay))
		}
	}
	if t.When != nil {
		ok, err := t.WhenHolds(&vis, s.Now)
		if err != nil {
			return false, "when fails: " + err.Error()
		}
		if !ok {
			return false, "when " + t.When.Src + " is false"
		}
	}
	return true, "page, delay and when all hold"
}

// SetOpen sets the opening hours of each team in open; other teams keep
// theirs.
func (s *Sim) SetOpen(open map[string]bool) {
	maps.Copy(s.Open, open)
}

// Timers returns the pending timers, soonest first.
func (s *Sim) Timers() []engine.Timer { return slices.Clone(s.timers) }

// Advance moves the clock by d. Timers that fall due fire in order, each at
// its own time, and the clock ends at the old time plus d.
func (s *Sim) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("the clock cannot go back")
	}
	target := s.Now.Add(d)
	for range maxChain {
		if len(s.timers) == 0 || s.timers[0].At.After(target) {
			s.Now = target
			return nil
		}
		t := s.timers[0]
		s.timers = s.timers[1:]
		if t.At.After(s.Now) {
			s.Now = t.At
		}
		if s.OnTimer != nil {
			s.OnTimer(t)
		}
		if err := s.send(engine.Event{Kind: engine.EventTimer, Timer: t.ID}); err != nil {
			return err
		}
	}
	return fmt.Errorf("more than %d timers fired in one wait (does the playbook keep setting timers?)", maxChain)
}

// send steps the session with ev, carries out the effects, and answers the
// calls they make.
func (s *Sim) send(ev engine.Event) (err error) {
	if s.Session == nil {
		return fmt.Errorf("the conversation has not started")
	}
	defer catch(&err)
	s.step(ev)
	for range maxChain {
		if len(s.pending) == 0 {
			return nil
		}
		c := s.pending[0]
		s.pending = s.pending[1:]
		res := s.answer(c)
		if s.OnCallResult != nil {
			s.OnCallResult(c, res)
		}
		s.step(engine.Event{Kind: engine.EventCallResult, Call: res})
	}
	return fmt.Errorf("more than %d calls in a row (does the playbook loop through call cards?)", maxChain)
}

func (s *Sim) step(ev engine.Event) {
	ev.Now = s.Now
	ev.Online = maps.Clone(s.Online)
	ev.Open = maps.Clone(s.Open)
	if ev.Kind == engine.EventText || ev.Kind == engine.EventButton {
		// The first message's language, when sure, picks the
		// playbook's texts, as serve does.
		langdetect.OnFirstMessage(s.Program, s.Session, ev, !s.wrote)
		s.wrote = true
	}
	sess, effects := engine.StepTraced(s.Program, s.Session, ev, &engine.Trace{Card: s.visit, Edge: s.edge})
	if sess != nil {
		s.Session = sess
		if sess.Locale != "" {
			s.Locales[sess.Locale] = true
		}
	}
	for _, e := range effects {
		s.apply(e)
	}
}

func (s *Sim) edge(e engine.Edge) { s.Edges[e] = true }

func (s *Sim) visit(card int) {
	s.Entered[card] = true
	if s.OnVisit != nil {
		s.OnVisit(card)
	}
}

func (s *Sim) apply(e engine.Effect) {
	s.Effects = append(s.Effects, e)
	switch e.Kind {
	case engine.EffectSay:
		s.Messages = append(s.Messages, Message{Card: e.Card, Text: e.Text, Buttons: e.Buttons, Image: e.Image, Links: e.Links})
		s.buttons = e.Buttons
	case engine.EffectWait:
		if len(e.Buttons) > 0 && len(s.buttons) == 0 {
			s.buttons = e.Buttons
		}
	case engine.EffectHandoff:
		if e.Handoff != nil {
			s.Handoffs = append(s.Handoffs, e.Handoff)
		}
	case engine.EffectCreate:
		if e.Record != nil {
			s.Created = append(s.Created, e.Record)
		}
	case engine.EffectCall:
		if e.Call != nil {
			s.Calls = append(s.Calls, e.Call)
			s.pending = append(s.pending, e.Call)
		}
	case engine.EffectTimer:
		if e.Timer != nil {
			s.cancel(e.Timer.ID)
			i, _ := slices.BinarySearchFunc(s.timers, e.Timer.At, func(t engine.Timer, at time.Time) int {
				if t.At.After(at) {
					return 1
				}
				return -1 // equal times keep the order they were set in
			})
			s.timers = slices.Insert(s.timers, i, *e.Timer)
		}
	case engine.EffectCancel:
		if e.Timer != nil {
			s.cancel(e.Timer.ID)
		}
	case engine.EffectError:
		if e.Error != nil {
			s.Errors = append(s.Errors, e.Error)
		}
	}
	if s.OnEffect != nil {
		s.OnEffect(e)
	}
}

func (s *Sim) cancel(id string) {
	s.timers = slices.DeleteFunc(s.timers, func(t engine.Timer) bool { return t.ID == id })
}

// answer finds the mock for c: "METHOD URL" exactly, else a mock without a
// query string for the same URL without its query.
func (s *Sim) answer(c *engine.CallRequest) *engine.CallResult {
	m := FindMock(s.Mocks, c.Method, c.URL)
	if m == nil {
		return &engine.CallResult{
			ID:    c.ID,
			Error: fmt.Sprintf("dry run: nothing is sent, and there is no mock for %q", strings.ToUpper(c.Method)+" "+c.URL),
		}
	}
	return &engine.CallResult{ID: c.ID, Status: m.Status, Body: jsonLike(m.Body), Error: m.Error}
}

// FindMock returns the mock for method and url, or nil: the one for
// exactly that URL, else one without a query string for the URL without
// its query, else the first whose URL pattern (with *) matches.
func FindMock(mocks []*Mock, method, url string) *Mock {
	method = strings.ToUpper(method)
	for _, m := range mocks {
		if m.Method == method && m.URL == url {
			return m
		}
	}
	base, _, _ := strings.Cut(url, "?")
	for _, m := range mocks {
		if m.Method == method && !strings.Contains(m.URL, "?") && m.URL == base {
			return m
		}
	}
	// A URL with * answers any URL it matches, * standing for any run of
	// characters: "GET https://api.example.com/orders/*".
	for _, m := range mocks {
		if m.Method == method && strings.Contains(m.URL, "*") {
			if engine.GlobMatch(m.URL, url) || !strings.Contains(m.URL, "?") && engine.GlobMatch(m.URL, base) {
				return m
			}
		}
	}
	return nil
}

// jsonLike returns v as it would arrive decoded from a JSON response
// (numbers as float64, dates as strings).
func jsonLike(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// catch turns a panic in the engine into an error, so one broken playbook
// or engine bug fails one test instead of the whole run.
func catch(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the engine crashed: %v", r)
	}
}

func unknownCard(name string, names []string) error {
	if s := source.Suggest(name, names); s != "" {
		return fmt.Errorf("there is no card %q (did you mean %q?)", name, s)
	}
	return fmt.Errorf("there is no card %q", name)
}
