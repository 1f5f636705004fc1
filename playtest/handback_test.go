package playtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/engine"
)

const handbackBook = `playbook: handback
vars:
  budget: number
  email: email
  plan: {type: string, default: Pro}
cards:
  welcome:
    say: Hi!
    choices:
      - {label: Human, goto: human}
      - {label: Budget, goto: ask_budget}
  ask_budget:
    ask: Budget?
    input: number
    save: budget
  summary:
    say: "That is {{ budget * 12 }} a year on {{ upper(plan) }}."
    goto: mail
  mail:
    say: "We write to {{ email ?? 'you' }}."
    end: done
  human:
    handoff: {team: sales, offline: mail}
`

// handedOff returns a session of handbackBook that an agent owns, after
// the visitor skipped the budget question.
func handedOff(t *testing.T) *Sim {
	t.Helper()
	p := load(t, handbackBook)
	s := NewSim(p, "t", DefaultNow)
	s.SetOnline(map[string]int{"sales": 1})
	for _, step := range []func() error{
		func() error { return s.Start(engine.Visitor{}, "") },
		func() error { return s.Click("Human") },
		func() error { return s.AgentJoins("alice") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if s.Session.Status != engine.StatusAgent {
		t.Fatalf("status %s, want agent", s.Session.Status)
	}
	return s
}

// A hand-back to a card that reads a var the session never set is refused
// with the var's name, and the agent keeps the chat: before, the bot took
// the chat back and the conversation ended as failed.
func TestHandBackToCardReadingUnsetVar(t *testing.T) {
	s := handedOff(t)
	err := s.Resume("summary")
	if err == nil || !strings.Contains(err.Error(), `"budget"`) {
		t.Fatalf("resume at summary: err = %v, want a refusal naming budget", err)
	}
	if s.Session.Status != engine.StatusAgent {
		t.Fatalf("status %s after a refused hand-back, want agent", s.Session.Status)
	}

	// The engine refuses on its own too, whoever sends the event.
	sess, out := engine.Step(s.Program, s.Session, engine.Event{Kind: engine.EventResume, Card: "summary", Now: s.Now})
	if sess.Status != engine.StatusAgent {
		t.Fatalf("engine: status %s after a refused hand-back, want agent", sess.Status)
	}
	if len(out) != 1 || out[0].Kind != engine.EffectError || !strings.Contains(out[0].Error.Msg, `"budget"`) {
		t.Fatalf("engine: effects %+v, want one error naming budget", out)
	}

	// Cards that need nothing unset are fine: mail reads email only under ??.
	if err := s.Resume("mail"); err != nil {
		t.Fatal(err)
	}
	if s.Session.Status != engine.StatusEnded || s.Session.Outcome != "done" {
		t.Fatalf("status %s, outcome %q", s.Session.Status, s.Session.Outcome)
	}
}

func TestCanResumeAt(t *testing.T) {
	s := handedOff(t)
	p := s.Program
	for card, want := range map[string][]string{
		"welcome":    nil,
		"ask_budget": nil,        // sets budget before summary reads it
		"summary":    {"budget"}, // plan has a default
		"mail":       nil,
		"human":      nil,
	} {
		missing, err := p.CanResumeAt(card, s.Session)
		if (err != nil) != (want != nil) || !slices.Equal(missing, want) {
			t.Errorf("CanResumeAt(%s) = %v, %v; want %v", card, missing, err, want)
		}
	}
	if _, err := p.CanResumeAt("nope", s.Session); err == nil {
		t.Error("CanResumeAt of an unknown card gives no error")
	}
	if got := p.ResumeCards(s.Session); slices.Contains(got, "summary") || !slices.Contains(got, "mail") {
		t.Errorf("ResumeCards = %v", got)
	}
	s.Session.Vars["budget"] = 100.0
	if missing, err := p.CanResumeAt("summary", s.Session); missing != nil || err != nil {
		t.Errorf("with budget set, summary still misses %v", missing)
	}
}

// A hand-back with no card continues below the card the session stopped
// at. That card was never proved safe for this session: an agent who took
// the chat at the budget question, or at a handoff card whose next card
// reads the budget, handed it back and the conversation ended as failed
// ("budget * 12: a var used here has no value yet"). Now it is refused like
// a hand-back to a named card, and the agent keeps the chat.
func TestHandBackBelowACardReadingUnsetVar(t *testing.T) {
	p := load(t, `playbook: below
vars:
  budget: number
cards:
  welcome:
    say: Hi!
    choices:
      - {label: Human, goto: human}
      - {label: Budget, goto: ask_budget}
  ask_budget:
    ask: Budget?
    input: number
    save: budget
  summary:
    say: "That is {{ budget * 12 }} a year."
    end: done
  human:
    handoff: {team: sales, offline: bye}
  after_human:
    say: "Back with {{ budget * 2 }}."
    end: done
  bye:
    say: Bye.
    end: done
`)
	for _, tc := range []struct{ click, refused string }{{"Budget", "summary"}, {"Human", "after_human"}} {
		s := NewSim(p, "t", DefaultNow)
		s.SetOnline(map[string]int{"sales": 1})
		for _, step := range []func() error{
			func() error { return s.Start(engine.Visitor{}, "") },
			func() error { return s.Click(tc.click) },
			func() error { return s.AgentJoins("alice") },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		sess, out := engine.Step(s.Program, s.Session, engine.Event{Kind: engine.EventResume, Now: s.Now})
		if sess.Status != engine.StatusAgent {
			t.Errorf("%s: status %s after a hand-back below %s, want agent", tc.click, sess.Status, tc.refused)
		}
		if len(out) != 1 || out[0].Kind != engine.EffectError || out[0].Card != tc.refused || !strings.Contains(out[0].Error.Msg, `"budget"`) {
			t.Errorf("%s: effects %+v, want one refusal at %s naming budget", tc.click, out, tc.refused)
		}
	}
}

// A handoff's back_to limits where an agent may hand a chat that waits
// there back to: the inbox offers those cards only (ResumeCards), and
// the engine refuses any other, whoever sends the event.
func TestHandBackOnlyToBackTo(t *testing.T) {
	p := load(t, `playbook: backto
vars:
  budget: {type: number, default: 0}
cards:
  welcome:
    say: Hi!
    choices:
      - {label: Human, goto: human}
      - {label: Budget, goto: ask_budget}
  ask_budget:
    ask: Budget?
    input: number
    save: budget
  summary:
    say: "That is {{ budget * 12 }} a year."
    end: done
  human:
    handoff: {team: sales, offline: summary, back_to: [ask_budget, thanks]}
  thanks:
    say: Thanks for chatting.
    end: helped
`)
	s := NewSim(p, "t", DefaultNow)
	s.SetOnline(map[string]int{"sales": 1})
	for _, step := range []func() error{
		func() error { return s.Start(engine.Visitor{}, "") },
		func() error { return s.Click("Human") },
		func() error { return s.AgentJoins("alice") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.ResumeCards(s.Session); !slices.Equal(got, []string{"ask_budget", "thanks"}) {
		t.Errorf("ResumeCards = %v, want [ask_budget thanks]", got)
	}
	if err := s.Resume("summary"); err == nil || !strings.Contains(err.Error(), `only to "ask_budget", "thanks"`) {
		t.Errorf("resume at summary: err = %v, want a refusal naming back_to", err)
	}
	sess, out := engine.Step(p, s.Session, engine.Event{Kind: engine.EventResume, Card: "welcome", Now: s.Now})
	if sess.Status != engine.StatusAgent || len(out) != 1 || out[0].Kind != engine.EffectError {
		t.Errorf("engine: status %s, effects %+v; want the agent keeps the chat and one error", sess.Status, out)
	}
	// thanks is below human: a hand-back with no card may go there.
	if err := s.send(engine.Event{Kind: engine.EventResume}); err != nil {
		t.Fatal(err)
	}
	if s.Session.Status != engine.StatusEnded || s.Session.Outcome != "helped" {
		t.Fatalf("status %s, outcome %q; want ended, helped", s.Session.Status, s.Session.Outcome)
	}
}
