package playtest

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

const salesBook = `playbook: sales
allow_hosts: [api.example.com]
vars:
  email: email
  size: string
  budget: number
  score: {type: int, default: 0}
  plan: string
cards:
  welcome:
    say:
      - Hi there!
      - What brings you here?
    choices:
      - {label: Talk to sales, value: sales, goto: email}
      - {label: Just browsing, goto: browsing}
      - {label: My plan, goto: plan}
  browsing:
    say: Enjoy!
    end: nurture
  email:
    ask: What's your work email?
    input: email
    save: email
  size:
    ask: How many employees?
    choices: ["1-10", "51-200"]
    save: size
  budget:
    ask: Monthly budget?
    input: number
    save: budget
    set:
      score: '(size == "51-200" ? 2 : 0) + (budget >= 1000 ? 1 : 0)'
  sales:
    handoff: {team: sales, say: Connecting you…, wait: 2m, offline: capture}
  capture:
    say: We'll email {{ email }}.
    create:
      - lead: {title: "{{ email }} ({{ size }})", person: {email: "{{ email }}"}, value: budget * 12}
      - task: {subject: "Call {{ email }}"}
    end: qualified
  plan:
    say: Checking…
    call:
      url: https://api.example.com/plan?u=1
      save: {plan: data.plan}
      on_error: no_plan
  has_plan:
    say: You are on {{ plan }}.
    end: plan_shown
  no_plan:
    say: Sorry, I could not check.
    end: plan_failed
`

func load(t *testing.T, src string) *engine.Program {
	t.Helper()
	p, diags := dsl.Load("sales.yaml", []byte(src))
	if p == nil {
		t.Fatalf("playbook does not load:\n%v", diags)
	}
	return p
}

func parseOne(t *testing.T, src string) *Test {
	t.Helper()
	f, diags := Parse("sales.test.yaml", []byte(src))
	if diags.HasErrors() || len(f.Tests) != 1 {
		t.Fatalf("test file does not parse:\n%v", diags)
	}
	return f.Tests[0]
}

func TestRun(t *testing.T) {
	p := load(t, salesBook)
	tests := []struct {
		name string
		test string // the test's YAML, without the header
		// fail is "" for a passing test, else "line:col summary" and the
		// want and got it must report.
		fail, want, got string
	}{
		{name: "bot lines consume messages in order", test: `
    script:
      - bot: Hi there!
      - bot: /brings you/
      - buttons: [Talk to sales, Just browsing, My plan]
      - click: Just browsing
      - bot: Enjoy!
    expect: {outcome: nurture, status: ended, created: []}`},
		{name: "unread messages are skipped by the next action", test: `
    script:
      - click: sales
      - visitor: ana@acme.io
      - bot: How many employees?
    expect: {status: waiting}`},
		{name: "a wrong bot line", test: `
    script:
      - bot: Hi there!
      - bot: What brings you?`,
			fail: "6:14 the bot said something else", want: `"What brings you?"`, got: `"What brings you here?"`},
		{name: "nothing more to say", test: `
    script:
      - click: Just browsing
      - bot: Enjoy!
      - bot: Bye!`,
			fail: "7:14 the bot said nothing more", want: `"Bye!"`, got: "(nothing more; the conversation is ended)"},
		{name: "wrong buttons", test: `
    script:
      - buttons: [Talk to sales, Just browsing]`,
			fail: "5:18 the buttons are different", want: `["Talk to sales", "Just browsing"]`, got: `["Talk to sales", "Just browsing", "My plan"]`},
		{name: "no such button", test: `
    script:
      - click: Pricing`,
			fail: "5:16 there is no such button to click", want: `"Pricing"`},
		{name: "nobody online: lead and task, numbers by value", test: `
    agents_online: {sales: 0}
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 51-200
      - visitor: "2500"
      - bot: We'll email ana@acme.io.
    expect:
      outcome: qualified
      vars: {score: 3.0, budget: 2500, size: 51-200}
      created:
        - lead: {title: "ana@acme.io (51-200)", person: {email: ana@acme.io}, value: 30000}
        - task`},
		{name: "created in another order", test: `
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 51-200
      - visitor: "2500"
    expect:
      created: [task, lead]`,
			fail: "10:17 record 1 is a lead, not a task", want: "task, lead", got: "lead, task"},
		{name: "a field differs", test: `
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 1-10
      - visitor: "10"
    expect:
      vars: {score: 0}
      created: [{lead: {value: 100}}, task]`,
			fail: "11:18 the lead's value is different", want: "100", got: "120"},
		{name: "too few records", test: `
    script:
      - click: Just browsing
    expect:
      created: [{note: {}}]`,
			fail: "7:18 record 1 was not created", want: "note", got: "(none)"},
		{name: "more records than listed", test: `
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 1-10
      - visitor: "10"
    expect:
      created: [lead]`,
			fail: "10:7 more records were created than the test lists", want: "lead", got: "lead, task"},
		{name: "a var differs", test: `
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
    expect:
      vars: {email: bo@acme.io, size: null}`,
			fail: "8:14 var email is different", want: `"bo@acme.io"`, got: `"ana@acme.io"`},
		{name: "an unknown var", test: `
    script: []
    expect:
      vars: {emial: x}`,
			fail: `6:14 the playbook has no var "emial" (did you mean "email"?)`},
		{name: "outcome and status", test: `
    script:
      - click: Talk to sales
    expect:
      status: waiting
      outcome: qualified`,
			fail: "8:16 the outcome is different", want: `"qualified"`, got: "(no outcome)"},
		{name: "handoff, then nobody accepts within the wait", test: `
    agents_online: {sales: 1}
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 1-10
      - visitor: "10"
      - bot: Connecting you…
      - wait: 1m
      - bot: /We'll email/`,
			fail: "12:14 the bot said nothing more", want: "/We'll email/", got: "(nothing more; the conversation is handoff)"},
		{name: "the handoff wait runs out", test: `
    agents_online: {sales: 1}
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 1-10
      - visitor: "10"
      - wait: 1m
      - wait: 1m
      - bot: We'll email ana@acme.io.
    expect: {handoff: sales, outcome: qualified, status: ended}`},
		{name: "an agent joins and leaves", test: `
    agents_online: {sales: 1}
    script:
      - click: Talk to sales
      - visitor: ana@acme.io
      - click: 1-10
      - visitor: "10"
      - agent_joins: alice
      - wait: 5m
      - visitor: hello?
      - agent_leaves: alice
    expect: {handoff: sales, status: ended, outcome: handoff, created: []}`},
		{name: "resume at an unknown card", test: `
    script:
      - resume: welcom`,
			fail: `5:17 there is no card "welcom" (did you mean "welcome"?)`},
		{name: "no handoff happened", test: `
    script:
      - click: Just browsing
    expect: {handoff: sales}`,
			fail: "6:23 no handoff to sales happened", want: "handoff to sales", got: "(no handoff)"},
		{name: "a call answered from a mock", test: `
    http:
      "GET https://api.example.com/plan?u=1": {status: 200, body: {data: {plan: Pro}}}
    script:
      - click: My plan
      - bot: Checking…
      - bot: You are on Pro.
    expect:
      outcome: plan_shown
      vars: {plan: Pro}
      calls: ["GET https://api.example.com/plan"]`},
		{name: "a call with no mock fails", test: `
    script:
      - click: My plan
      - bot: Checking…
      - bot: Sorry, I could not check.
    expect:
      outcome: plan_failed
      calls: ["GET https://api.example.com/plan?u=1"]`},
		{name: "a mock error status", test: `
    http:
      "GET https://api.example.com/plan": {status: 503}
    script:
      - click: My plan
    expect: {outcome: plan_failed, calls: []}`,
			fail: "8:36 more calls were made than the test lists", want: "(none)", got: "GET https://api.example.com/plan?u=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := parseOne(t, "playbook: sales\ntests:\n  - name: x"+tc.test+"\n")
			r := Run(p, tt)
			if tc.fail == "" {
				if !r.Passed() {
					t.Fatalf("failed: %v\n%s", r.Failure, strings.Join(r.Transcript, "\n"))
				}
				return
			}
			if r.Passed() {
				t.Fatalf("passed, want failure %q\n%s", tc.fail, strings.Join(r.Transcript, "\n"))
			}
			f := r.Failure
			got := strings.TrimPrefix(f.Pos.String(), "sales.test.yaml:") + " " + f.Summary
			if got != tc.fail {
				t.Errorf("failure:\n got  %s\n want %s", got, tc.fail)
			}
			if tc.want != "" && f.Want != tc.want {
				t.Errorf("want = %s, expected %s", f.Want, tc.want)
			}
			if tc.got != "" && f.Got != tc.got {
				t.Errorf("got = %s, expected %s", f.Got, tc.got)
			}
		})
	}
}

func TestRunRuntimeError(t *testing.T) {
	p := load(t, `playbook: broken
vars:
  n: int
  m: map
cards:
  a:
    ask: A number?
    input: int
    save: n
    set: {m: "{plan: n}"}
  b:
    say: "{{ repeat('ab', m.plan) }}"
    end: done
`)
	tt := parseOne(t, `playbook: broken
tests:
  - name: a text too large to keep
    script:
      - visitor: "50000"
      - bot: x
`)
	r := Run(p, tt)
	if r.Passed() || r.Failure.Summary != "the bot stopped with a runtime error" || r.Failure.Pos.Start.Line != 5 {
		t.Fatalf("failure = %+v", r.Failure)
	}
	tt.Expect.Status = &Want{Value: "failed"}
	tt.Script = tt.Script[:1]
	if r := Run(p, tt); !r.Passed() {
		t.Fatalf("expecting status failed: %v", r.Failure)
	}
}

func TestSimTimers(t *testing.T) {
	p := load(t, salesBook)
	s := NewSim(p, "t", DefaultNow)
	var fired []time.Time
	s.OnTimer = func(tm engine.Timer) { fired = append(fired, s.Now) }
	s.SetOnline(map[string]int{"sales": 1})
	for _, step := range []func() error{
		func() error { return s.Start(engine.Visitor{}, "") },
		func() error { return s.Click("Talk to sales") },
		func() error { return s.Text("ana@acme.io") },
		func() error { return s.Click("1-10") },
		func() error { return s.Text("10") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Timers()) != 1 || s.Session.Status != engine.StatusHandoff {
		t.Fatalf("timers = %v, status %s", s.Timers(), s.Session.Status)
	}
	if err := s.Advance(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(fired) != 1 || !fired[0].Equal(DefaultNow.Add(2*time.Minute)) {
		t.Errorf("fired at %v, want once at 10:02", fired)
	}
	if !s.Now.Equal(DefaultNow.Add(10 * time.Minute)) {
		t.Errorf("clock = %v, want 10:10", s.Now)
	}
	if s.Session.Outcome != "qualified" || len(s.Created) != 2 || len(s.Timers()) != 0 {
		t.Errorf("outcome %q, %d records, %d timers", s.Session.Outcome, len(s.Created), len(s.Timers()))
	}
	if err := s.Advance(-time.Second); err == nil {
		t.Error("the clock went back")
	}
}

func TestRunFilesCoverage(t *testing.T) {
	p := load(t, salesBook)
	set := &dsl.Set{
		Programs: []*engine.Program{p},
		ByID:     map[string]*engine.Program{"sales": p},
		ByFile:   map[string]*engine.Program{"sales.yaml": p},
		Files: map[string][]byte{
			"sales.test.yaml": []byte(`playbook: sales
tests:
  - name: browsing
    script: [{click: Just browsing}]
    expect: {outcome: nurture}
  - name: plan
    script: [{click: My plan}]
    expect: {outcome: plan_shown}
`),
			"other.test.yaml": []byte("tests:\n  - name: x\n    script: []\n"),
		},
	}
	rep := RunFiles(set, []string{"sales.test.yaml", "other.test.yaml"}, Options{})
	passed, failed := rep.Counts()
	if passed != 1 || failed != 1 || rep.OK() {
		t.Errorf("passed %d, failed %d, ok %v", passed, failed, rep.OK())
	}
	if len(rep.Diagnostics) != 1 || !strings.Contains(rep.Diagnostics[0].Error(), "other.test.yaml:1:1: error: the test file does not say which playbook it tests") {
		t.Errorf("diagnostics: %v", rep.Diagnostics)
	}
	cov := rep.Coverage["sales"]
	if cov == nil || cov.Tests != 2 {
		t.Fatalf("coverage = %+v", cov)
	}
	// welcome, browsing, plan, no_plan
	if cov.Covered() != 4 || len(cov.Cards) != 10 {
		t.Errorf("covered %d of %d: %v", cov.Covered(), len(cov.Cards), cov.Uncovered())
	}
	want := "email size budget sales capture has_plan"
	if got := strings.Join(cov.Uncovered(), " "); got != want {
		t.Errorf("uncovered = %s, want %s", got, want)
	}

	rep = RunFiles(set, []string{"sales.test.yaml"}, Options{Match: func(name string) bool { return name == "browsing" }})
	if passed, failed := rep.Counts(); passed != 1 || failed != 0 || !rep.OK() {
		t.Errorf("filtered: passed %d, failed %d", passed, failed)
	}
}

func TestRunNeverPanics(t *testing.T) {
	tt := parseOne(t, "playbook: x\ntests:\n  - name: x\n    script: [{visitor: hi}, {wait: 1h}, {agent_joins: a}, {resume: a}]\n")
	if r := Run(nil, tt); r.Passed() {
		t.Error("a test with no playbook passed")
	}
	p := engine.NewProgram(&engine.Program{ID: "empty"})
	r := Run(p, tt)
	_ = r // any result will do, as long as nothing panics
}

func TestCreatedRecordsGoThroughTheCRMDryRun(t *testing.T) {
	e := &Expect{HasCreated: true, Created: []*RecordWant{{Kind: "note"}}}
	got := []*engine.Record{{Kind: engine.RecordNote, Key: "k", Fields: map[string]any{"content": "", "about": "person"}}}
	f := checkCreated(got, e)
	if f == nil || !strings.Contains(f.Summary, "the CRM would refuse record 1: note: content is empty") {
		t.Fatalf("failure = %v", f)
	}
	got[0].Fields["content"] = "Call back"
	if f := checkCreated(got, e); f != nil {
		t.Fatalf("a good note fails: %v", f)
	}
}
