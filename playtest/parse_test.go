package playtest

import (
	"strings"
	"testing"
	"time"
)

const goodFile = `playbook: website-sales
tests:
  - name: qualified visitor
    agents_online: {sales: 0}
    open_hours: {sales: true}
    locale: es
    visitor: {name: Ana, page: /pricing, returning: true, visits: 3, utm: {utm_source: google}}
    now: 2026-02-01T09:30:00Z
    http:
      "GET https://api.example.com/plans?x=1": {status: 200, body: {plan: pro, seats: 5}}
      "post https://api.example.com/leads": {error: timeout}
    script:
      - bot: Hi there!
      - bot: /doesn't look like/
      - buttons: [Talk to sales, Just browsing]
      - visitor: 2500
      - click: Talk to sales
      - wait: 2m
      - agents_online: {sales: 1}
      - agent_joins: alice
      - agent_leaves: alice
      - resume: welcome
    expect:
      outcome: qualified
      status: ended
      vars: {score: 3, email: ana@acme.io}
      handoff: sales
      created: [{lead: {title: "ana@acme.io (51-200)"}}, {task: {}}, note]
      calls: ["GET https://api.example.com/plans"]
  - name: defaults
    script:
      - visitor: hi
`

func TestParseGood(t *testing.T) {
	f, diags := Parse("sales.test.yaml", []byte(goodFile))
	if len(diags) != 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	if f.Playbook != "website-sales" || f.PlaybookPos.Start.Line != 1 || f.PlaybookPos.Start.Column != 11 {
		t.Errorf("playbook = %q at %v", f.Playbook, f.PlaybookPos)
	}
	if len(f.Tests) != 2 {
		t.Fatalf("got %d tests, want 2", len(f.Tests))
	}
	tt := f.Tests[0]
	if tt.Name != "qualified visitor" || tt.Locale != "es" || tt.Online["sales"] != 0 || !tt.Open["sales"] {
		t.Errorf("test header: %+v", tt)
	}
	if v := tt.Visitor; v.Name != "Ana" || v.Page != "/pricing" || !v.Returning || v.Visits != 3 || v.UTM["source"] != "google" {
		t.Errorf("visitor: %+v", v)
	}
	if !tt.Now.Equal(time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("now = %v", tt.Now)
	}
	if len(tt.HTTP) != 2 || tt.HTTP[0].Key() != "GET https://api.example.com/plans?x=1" || tt.HTTP[0].Status != 200 {
		t.Fatalf("http: %+v", tt.HTTP)
	}
	if !Match(map[string]any{"plan": "pro", "seats": 5}, tt.HTTP[0].Body) {
		t.Errorf("mock body = %v", Format(tt.HTTP[0].Body))
	}
	if m := tt.HTTP[1]; m.Key() != "POST https://api.example.com/leads" || m.Error != "timeout" || m.Status != 0 {
		t.Errorf("error mock: %+v", m)
	}
	kinds := []StepKind{StepBot, StepBot, StepButtons, StepVisitor, StepClick, StepWait, StepAgentsOnline, StepAgentJoins, StepAgentLeaves, StepResume}
	if len(tt.Script) != len(kinds) {
		t.Fatalf("got %d steps, want %d", len(tt.Script), len(kinds))
	}
	for i, k := range kinds {
		if tt.Script[i].Kind != k {
			t.Errorf("step %d kind = %s, want %s", i, tt.Script[i].Kind, k)
		}
	}
	if s := tt.Script[0]; s.Text != "Hi there!" || s.Re != nil || s.Pos.Start.Line != 13 || s.Pos.Start.Column != 14 {
		t.Errorf("bot step: %+v", s)
	}
	if s := tt.Script[1]; s.Re == nil || !s.Re.MatchString("That doesn't look like an email") {
		t.Errorf("regexp step: %+v", s)
	}
	if s := tt.Script[3]; s.Text != "2500" {
		t.Errorf("visitor text = %q, want the number as typed", s.Text)
	}
	if s := tt.Script[5]; s.Wait != 2*time.Minute {
		t.Errorf("wait = %v", s.Wait)
	}
	e := tt.Expect
	if e.Outcome.Value != "qualified" || e.Status.Value != "ended" || e.Handoff.Value != "sales" {
		t.Errorf("expect: %+v", e)
	}
	if len(e.Vars) != 2 || e.Vars[0].Name != "score" || e.Vars[0].Value != 3 {
		t.Errorf("vars: %+v", e.Vars)
	}
	if !e.HasCreated || len(e.Created) != 3 || e.Created[0].Kind != "lead" || e.Created[0].Fields["title"] != "ana@acme.io (51-200)" || e.Created[2].Kind != "note" {
		t.Errorf("created: %+v", e.Created)
	}
	if !e.HasCalls || len(e.Calls) != 1 {
		t.Errorf("calls: %+v", e.Calls)
	}
	d := f.Tests[1]
	if !d.Now.Equal(DefaultNow) || d.Expect.HasCreated || d.Online != nil {
		t.Errorf("defaults: %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col: summary" substrings, in order
	}{
		{
			name: "yaml syntax",
			src:  "playbook: x\ntests: [\n",
			want: []string{"3:1: YAML syntax:"},
		},
		{
			name: "empty",
			src:  "",
			want: []string{"1:1: the test file is empty"},
		},
		{
			name: "missing tests",
			src:  "playbook: x\n",
			want: []string{"1:1: missing `tests:`"},
		},
		{
			name: "unknown keys with suggestions",
			src: `playbook: x
tests:
  - name: a
    scrpt:
      - bot: hi
    expect: {outcom: x}
`,
			want: []string{
				"3:5: this test has no `script:`",
				`4:5: unknown key "scrpt" (did you mean "script"?)`,
				`6:14: unknown key "outcom" (did you mean "outcome"?)`,
			},
		},
		{
			name: "bad steps",
			src: `playbook: x
tests:
  - name: a
    script:
      - bto: hi
      - wait: soon
      - bot: /(/
      - bot: a
        visitor: b
      - buttons: yes
      - click: ""
`,
			want: []string{
				`5:9: unknown script step "bto" (did you mean "bot"?)`,
				"6:15: `wait` needs a duration",
				"7:14: bad pattern /(/",
				"8:9: a script step has one key",
				"10:18: `buttons` must be a list of labels",
				"11:16: `click` needs a value",
			},
		},
		{
			name: "bad values",
			src: `playbook: x
tests:
  - name: a
    agents_online: {sales: many}
    open_hours: {sales: maybe}
    now: tomorrow
    http:
      "FETCH /x": {status: 200}
      "GET https://x.example.com": {status: 999}
    script: []
    expect:
      status: done
      created: [{leed: {}}, {lead: 3}]
  - name: a
    script: []
`,
			want: []string{
				`4:28: agents online for "sales" must be a whole number`,
				`5:25: open_hours for "sales" must be true or false`,
				`6:10: "tomorrow" is not a date and time`,
				`8:7: "FETCH /x" is not "METHOD URL"`,
				`9:45: status must be an HTTP status code`,
				`12:15: unknown status "done"`,
				`13:18: unknown record kind "leed" (did you mean "lead"?)`,
				`13:36: the fields of a lead must be a mapping`,
				`14:5: two tests are named "a"`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("t.test.yaml", []byte(tc.src))
			var got []string
			for _, d := range diags {
				s := strings.TrimPrefix(d.Error(), "t.test.yaml:")
				s = strings.Replace(s, ": error: ", ": ", 1)
				got = append(got, s)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("diagnostic %d:\n got  %s\n want %s", i, got[i], w)
				}
			}
		})
	}
}

func TestMatch(t *testing.T) {
	date := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		want, got any
		ok        bool
	}{
		{3, 3.0, true},
		{3.0, 3, true},
		{3, 4, false},
		{2500, "2500", true},
		{"2500", 2500.0, true},
		{"x", "x", true},
		{"x", "X", false},
		{nil, nil, true},
		{nil, "", false},
		{"", nil, false},
		{true, true, true},
		{true, "true", false},
		{"2026-01-06", date, true},
		{date, date, true},
		{"2m", 2 * time.Minute, true},
		{map[string]any{"a": 1}, map[string]any{"a": 1.0, "b": 2}, true},
		{map[string]any{"a": 1, "c": 3}, map[string]any{"a": 1.0}, false},
		{map[string]any{"c": nil}, map[string]any{"a": 1.0}, true},
		{map[string]any{"email": "a@b.c"}, map[string]string{"email": "a@b.c"}, true},
		{[]any{1, "x"}, []any{1.0, "x"}, true},
		{[]any{1}, []any{1.0, 2.0}, false},
		{map[string]any{}, "x", false},
	}
	for _, tc := range tests {
		if got := Match(tc.want, tc.got); got != tc.ok {
			t.Errorf("Match(%s, %s) = %v, want %v", Format(tc.want), Format(tc.got), got, tc.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{"a b", `"a b"`},
		{2500.0, "2500"},
		{2.5, "2.5"},
		{map[string]any{"title": "x", "person": map[string]any{"email": "a@b.c"}, "value": 30000.0}, `{person: {email: "a@b.c"}, title: "x", value: 30000}`},
		{[]string{"Yes", "No"}, `["Yes", "No"]`},
		{time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC), "2026-01-06"},
		{time.Date(2026, 1, 6, 10, 0, 0, 0, time.UTC), "2026-01-06T10:00:00Z"},
		{2 * time.Minute, "2m"},
		{90 * time.Minute, "1h30m"},
		{48 * time.Hour, "2d"},
	}
	for _, tc := range tests {
		if got := Format(tc.v); got != tc.want {
			t.Errorf("Format(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
