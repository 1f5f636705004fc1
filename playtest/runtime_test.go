package playtest

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// runtimeBook asks for a text t and an int n, then shows SHOW (a card's
// body, indented four spaces).
const runtimeBook = `playbook: rt
vars:
  t: string
  n: int
  k: int
  items: {type: list, default: [a, b]}
  m: map
  v: any
cards:
  init:
    set: {m: "{total: 5, name: 'Ann'}"}
  ask_t:
    ask: Text?
    save: t
  ask_n:
    ask: Number?
    input: int
    save: n
  show:
SHOW
    end: done
`

// TestDataDependentFailures gives each built-in or operator that can meet
// bad data while chatting (a text that is not a number or a date, an index
// past the end, a zero divisor, a pattern from a var) a playbook that used
// to validate and then stop the conversation as failed. Now each is either
// refused by the checker, with the fix, or has a value: nothing, which `??`
// replaces and a template shows as nothing.
func TestDataDependentFailures(t *testing.T) {
	type run struct{ t, n, want string }
	tests := []struct {
		name string
		card string // the show card's body
		diag string // the checker's error, or "" when the playbook loads
		runs []run
	}{
		{name: "int of a text, with ??", card: `say: "{{ int(t) ?? -1 }}"`,
			runs: []run{{"abc", "1", "-1"}, {" 42 ", "1", "42"}}},
		{name: "int of a text, used", card: `say: "{{ int(t) + 1 }}"`,
			diag: "`int(t)` has no value when t is not a number"},
		{name: "int of a number", card: `say: "{{ int(2.7) + n }}"`,
			runs: []run{{"x", "1", "3"}}},
		{name: "float of a text, with ??", card: `say: "{{ (float(t) ?? 0) * 2 }}"`,
			runs: []run{{"x", "1", "0"}, {"2.5", "1", "5"}}},
		{name: "float of a text, used", card: `say: "{{ float(t) * 2 }}"`,
			diag: "`float(t)` has no value when t is not a number"},
		{name: "index past the end, with ??", card: `say: "{{ items[n] ?? 'none' }}"`,
			runs: []run{{"x", "5", "none"}, {"x", "1", "b"}, {"x", "-1", "b"}, {"x", "-3", "none"}}},
		{name: "index past the end, shown", card: `say: "<{{ items[n] }}>"`,
			runs: []run{{"x", "5", "<>"}}},
		{name: "index past the end, used", card: `say: "{{ upper(items[n]) }}"`,
			diag: "`items[n]` has no value when the index is past the end"},
		{name: "split, then index", card: `say: "{{ upper(split(t, '@')[1] ?? '?') }}"`,
			runs: []run{{"abc", "1", "?"}, {"a@b", "1", "B"}}},
		{name: "split, first and last item", card: `say: "{{ upper(split(t, '@')[0]) }} {{ upper(split(t, '@')[-1]) }}"`,
			runs: []run{{"abc", "1", "ABC ABC"}, {"a@b", "1", "A B"}}},
		{name: "index in a ?: used", card: `say: "{{ (n > 0 ? items[n] : 'x') + '!' }}"`,
			diag: "`items[n]` has no value when the index is past the end"},
		{name: "division by zero, with ??", card: `say: "{{ (100 / n) ?? 0 }}"`,
			runs: []run{{"x", "0", "0"}, {"x", "4", "25"}}},
		{name: "division by zero, used", card: `say: "{{ 100 / n + 1 }}"`,
			diag: "`100 / n` has no value when n is 0"},
		{name: "division by a number", card: `say: "{{ n / 4 + 1 }}"`,
			runs: []run{{"x", "2", "1.5"}}},
		{name: "modulo by zero, with ??", card: `say: "{{ (7 % n) ?? 0 }}"`,
			runs: []run{{"x", "0", "0"}, {"x", "4", "3"}}},
		{name: "modulo by zero, used", card: `say: "{{ 7 % n + 1 }}"`,
			diag: "`7 % n` has no value when n is 0"},
		{name: "date of free text, with ??", card: `say: "{{ format(date(t) ?? today(), 'iso') }}"`,
			runs: []run{{"next blue moon", "1", "2026-01-05"}, {"2026-03-01", "1", "2026-03-01"}}},
		{name: "date of free text, used", card: `say: "{{ format(date(t), 'long') }}"`,
			diag: "`date(t)` has no value when t is not a date"},
		{name: "duration of free text, with ??", card: `say: "{{ now() + (duration(t) ?? duration('1d')) > now() }}"`,
			runs: []run{{"soon", "1", "true"}, {"2h", "1", "true"}}},
		{name: "duration of free text, used", card: `say: "{{ now() + duration(t) }}"`,
			diag: "`duration(t)` has no value when t is not a duration"},
		{name: "a pattern from a var", card: `say: "{{ 'abc' matches t }}"`,
			diag: "the pattern after `matches` must be written in the playbook"},
		{name: "set from a text that may not be a number", card: "set: {k: int(t)}\n  show_k:\n    say: \"{{ k + 1 }}\"",
			diag: `var "k" may have no value here`},
		{name: "set from int(), read with ??", card: "set: {k: int(t)}\n  show_k:\n    say: \"{{ (k ?? 0) + 1 }}\"",
			runs: []run{{"abc", "1", "1"}, {"41", "1", "42"}}},
		{name: "repeat a negative number of times", card: `say: "<{{ repeat('ab', n) }}>"`,
			runs: []run{{"x", "-1", "<>"}, {"x", "2", "<abab>"}}},
		{name: "fromBase64 of bad base64", card: `say: "{{ lower(fromBase64(t) ?? 'BAD') }}"`,
			runs: []run{{"!", "1", "bad"}, {"QUI=", "1", "ab"}}},
		{name: "fromBase64 of bad base64, used", card: `say: "{{ lower(fromBase64(t)) }}"`,
			diag: "`fromBase64(t)` has no value when t is not base64"},
		{name: "join a list with a number in it", card: `say: "{{ join(concat(items, [n]), '-') }}"`,
			runs: []run{{"x", "7", "a-b-7"}}},
		{name: "take a negative number of items", card: `say: "<{{ join(take(items, n), ',') }}>"`,
			runs: []run{{"x", "-3", "<>"}, {"x", "1", "<a>"}, {"x", "9", "<a,b>"}}},
		{name: "reduce without a start value", card: `say: "{{ reduce(items, #acc + #) }}"`,
			diag: "reduce() of an empty list has no start value"},
		{name: "reduce with a start value", card: `say: "{{ reduce(items, #acc + #, '') }}"`,
			runs: []run{{"x", "1", "ab"}}},
		{name: "fromJSON of bad JSON", card: `say: "{{ fromJSON(t) ?? 'bad' }}"`,
			runs: []run{{"{", "1", "bad"}, {"7", "1", "7"}}},
		// Lists whose items are of different kinds (a text and a number).
		{name: "sum of mixed items, with ??", card: `say: "{{ sum(concat(items, [n])) ?? 'mixed' }}"`,
			runs: []run{{"x", "1", "mixed"}}},
		{name: "sum of mixed items, used", card: `say: "{{ sum(concat(items, [n])) + 1 }}"`,
			diag: "has no value when its items are not all numbers"},
		{name: "sum of numbers in a list var", card: "set: {v: \"[n, 2.5]\"}\n  show_a:\n    say: \"{{ sum(v) ?? 'mixed' }}\"",
			runs: []run{{"x", "1", "3.5"}}},
		{name: "sum of numbers", card: `say: "{{ sum([n, 2]) + 1 }}"`,
			runs: []run{{"x", "1", "4"}}},
		{name: "min and max of mixed items", card: `say: "{{ min(concat(items, [n])) ?? 'mixed' }} {{ max(concat([n], items)) ?? 'mixed' }}"`,
			runs: []run{{"x", "1", "mixed mixed"}}},
		{name: "max of numbers in a list", card: `say: "{{ max(concat([n], [3.5])) ?? 'mixed' }} {{ max(n, 2) }}"`,
			runs: []run{{"x", "7", "7 7"}, {"x", "1", "3.5 2"}}},
		{name: "sort mixed items", card: `say: "{{ join(sort(concat(items, [n, 'A'])), ',') }}"`,
			runs: []run{{"x", "7", "7,A,a,b"}}},
		{name: "sort mixed items, descending", card: `say: "{{ join(sort(concat(items, [n]), 'desc'), ',') }}"`,
			runs: []run{{"x", "7", "b,a,7"}}},
		{name: "sortBy a key of mixed kinds", card: "set: {v: \"[{k: 'b'}, {k: n}, {k: 'a'}]\"}\n  show_a:\n    say: \"{{ join(map(sortBy(v, .k), .k), ',') }}\"",
			runs: []run{{"x", "7", "7,a,b"}}},
		// Bit shifts are not part of the language.
		{name: "a bit shift", card: `say: "{{ bitshl(1, n) }}"`,
			diag: `unknown function "bitshl"`},
		// A map field or an any var holding a value of another type.
		{name: "upper of a number in a map", card: `say: "{{ upper(m.total) }} {{ lower(m.name) }}"`,
			runs: []run{{"x", "1", "5 ann"}}},
		{name: "text built-ins of an any var holding a number", card: "set: {v: n}\n  show_a:\n    say: \"{{ trim(v) }} {{ hasPrefix(v, '4') }} {{ split(v, '2')[0] }} {{ replace(v, '4', 'x') }}\"",
			runs: []run{{"x", "42", "42 true 4 x2"}}},
		{name: "len of an any var holding a number", card: "set: {v: n}\n  show_a:\n    say: \"{{ len(v) }}\"",
			runs: []run{{"x", "42", "2"}}},
		{name: "arithmetic on a text in a map", card: `say: "{{ (m.name * 2) ?? 'not a number' }}"`,
			runs: []run{{"x", "1", "not a number"}}},
		{name: "arithmetic on a number in a map", card: `say: "{{ (m.total * 2) ?? 'not a number' }}"`,
			runs: []run{{"x", "1", "10"}}},
		{name: "a number in a map where a yes/no is needed", card: `say: "{{ not m.total }} {{ m.total ? 1 : 2 }} {{ m.total and true }} {{ m.total or false }}"`,
			runs: []run{{"x", "1", "true 2 false false"}}},
		{name: "a number in a map where a list is needed", card: `say: "{{ 5 in m.total }} {{ len(filter(m.total, # > 1)) }} {{ count(m.total, # > 1) }} {{ len(concat(m.total, [1])) }} {{ len(reverse(m.total)) }} {{ reduce(m.total, #acc + 1, 0) }}"`,
			runs: []run{{"x", "1", "false 0 0 1 0 0"}}},
		{name: "a number in a map where a map is needed", card: `say: "{{ len(keys(m.total)) }} {{ m.total.y ?? 'none' }} {{ m.name.first ?? 'none' }}"`,
			runs: []run{{"x", "1", "0 none none"}}},
		{name: "a list in a map, filtered and read", card: "set: {m: \"{tags: [{k: 'a'}, {k: 2}]}\"}\n  show_m:\n    say: \"{{ len(filter(m.tags, .k == 2)) }} {{ first(m.tags).k }} {{ 'a' in map(m.tags, .k) }}\"",
			runs: []run{{"x", "1", "1 a true"}}},
		{name: "a number in a map as a condition", card: "branch: [{if: m.total, goto: show_y}]\n  show_n:\n    say: \"n\"\n    end: done\n  show_y:\n    say: \"y\"",
			runs: []run{{"x", "1", "n"}}},
		{name: "format of a map field", card: `say: "{{ format(m.total, 'long') }}"`,
			diag: "format() needs a date, and `m.total` may hold anything while chatting"},
		{name: "format of a map field read as a date", card: "set: {m: \"{day: t}\"}\n  show_m:\n    say: \"{{ format(date(m.day) ?? today(), 'iso') }}\"",
			runs: []run{{"2026-03-01", "1", "2026-03-01"}, {"someday", "1", "2026-01-05"}}},
		{name: "a map field divided by a number", card: `say: "{{ (m.name / 2) ?? 'not a number' }} {{ (m.total / 2) ?? 'not a number' }}"`,
			runs: []run{{"x", "1", "not a number 2.5"}}},
		{name: "a map field divided by a number, used", card: `say: "{{ m.name / 2 + 1 }}"`,
			diag: "`m.name / 2` has no value when m.name is not a number"},
		{name: "a map field that is not a list, sliced, ranged, got", card: `say: "{{ len(m.total[1:2]) }} {{ len(m.name .. 3) }} {{ get(m.total, 1) ?? 'none' }} {{ m.total in m }} {{ m.name in m }}"`,
			runs: []run{{"x", "1", "0 0 none false false"}}},
		{name: "date of an any var", card: "set: {v: t}\n  show_v:\n    say: \"{{ format(date(v) ?? today(), 'iso') }} {{ date(v) == today() }}\"",
			runs: []run{{"2026-03-01", "1", "2026-03-01 false"}, {"tomorrow", "1", "2026-01-06 false"}, {"today", "1", "2026-01-05 true"}, {"someday", "1", "2026-01-05 false"}}},
		{name: "date of an any var, used", card: "set: {v: t}\n  show_v:\n    say: \"{{ format(date(v), 'iso') }}\"",
			diag: "`date(v)` has no value when v is not a date"},
		{name: "lists and maps from a call, grouped and paired", card: "set: {m: \"{maps: [{a: 1}, {a: 1}, {a: 'x'}], lists: [[1], ['k', 2]]}\"}\n  show_m:\n    say: \"{{ len(groupBy(m.maps, #)) }} {{ len(groupBy(m.maps, .a)) }} {{ fromPairs(m.lists).k }} {{ m.maps[0].a }} {{ m.maps[n].a ?? 'none' }} {{ m.maps[0] in m.maps }}\"",
			runs: []run{{"x", "1", "2 2 2 1 1 true"}, {"x", "7", "2 2 2 1 none true"}}},
		// Found by TestNothingThatValidatesFailsWhileChatting: each validated
		// and then stopped the bot whatever the visitor typed.
		{name: "count of a list of numbers, without a condition", card: `say: "{{ count([n, 2]) }}"`,
			diag: "count() without a condition counts the items that are true"},
		{name: "count of a list with a condition", card: `say: "{{ count([n, 2], # > 1) }}"`,
			runs: []run{{"x", "5", "2"}}},
		{name: "round of a duration", card: `say: "{{ round(duration('90m')) }}"`,
			diag: "round() needs a number, and `duration(\"90m\")` is a duration"},
		{name: "max of a number and a duration", card: `say: "{{ max(n, duration('1h')) }}"`,
			diag: "max() needs a number, and `duration(\"1h\")` is a duration"},
		{name: "sort in an order that is not asc or desc", card: `say: "{{ join(sort([n, 1], 'down'), ',') }}"`,
			diag: `sort() orders "asc" (the default) or "desc", not "down"`},
		{name: "sort in an order the visitor typed", card: `say: "{{ join(sort([n, 1, 3], t), ',') }}"`,
			runs: []run{{"desc", "2", "3,2,1"}, {"whatever", "2", "1,2,3"}}},
		// A set whose value's type is only known while chatting, into a
		// var of one type: read generously, else the var has no value.
		{name: "a text in a map set into an int var", card: "set: {k: m.name}\n  show_k:\n    say: \"{{ (k ?? 0) + 1 }}\"",
			runs: []run{{"x", "1", "1"}}},
		{name: "a number in a map set into an int var", card: "set: {k: m.total}\n  show_k:\n    say: \"{{ (k ?? 0) + 1 }}\"",
			runs: []run{{"x", "1", "6"}}},
		{name: "a map field set into an int var, read as it is", card: "set: {k: m.total}\n  show_k:\n    say: \"{{ k + 1 }}\"",
			diag: "Card \"show\" sets it to `m.total`, which may have no value"},
		{name: "x ?? y of two types set into a text var", card: "set: {t: \"n ?? 'none'\"}\n  show_t:\n    say: \"<{{ t }}>\"",
			runs: []run{{"x", "7", "<7>"}}},
		{name: "the mean of whole numbers set into an int var", card: "set: {k: \"mean(n, 2)\"}\n  show_k:\n    say: \"<{{ k }}>\"",
			runs: []run{{"x", "3", "<>"}, {"x", "4", "<3>"}}},
		{name: "a power too large to be a number, with ??", card: `say: "{{ (10.0 ** n) ?? 'too large' }} {{ 2 ** 10 }}"`,
			runs: []run{{"x", "400", "too large 1024"}, {"x", "2", "100 1024"}, {"x", "-1", "0.1 1024"}}},
		{name: "a power used as it is", card: `say: "{{ 10.0 ** n + 1 }}"`,
			diag: "`10 ** n` has no value when the result is too large to be a number"},
		{name: "count of a list var or an any var, without a condition", card: "set: {v: \"[n, true, 'a']\"}\n  show_v:\n    say: \"{{ count(items) }} {{ count(concat(items, [n > 0, true])) }} {{ count(v) }}\"",
			runs: []run{{"x", "1", "0 2 1"}, {"x", "0", "0 1 1"}}},
		{name: "a map field and a duration", card: `say: "{{ (m.name + duration('1h')) ?? 'none' }} {{ (m.total * duration('1m')) ?? 'none' }}"`,
			runs: []run{{"x", "1", "none 5m0s"}}},
		{name: "a map field and a duration, shown as it is", card: `say: "<{{ m.name + duration('1h') }}>"`,
			runs: []run{{"x", "1", "<>"}}},
		{name: "a map field and a duration, set", card: "set: {v: \"m.name + duration('1h')\"}\n  show_v:\n    say: \"{{ v + 1 }}\"",
			diag: "may have no value"},
		{name: "a map field in a text", card: `say: "{{ m.name in t }}"`,
			diag: "`in` looks in a list or a map, and `t` is a text, so the conversation would stop"},
		{name: "a map field in a date", card: `say: "{{ m.name in today() }}"`,
			diag: "`in` looks in a list or a map, and `today()` is neither, so the conversation would stop"},
		{name: "a map field in a list or a map", card: `say: "{{ m.name in ['Ann'] }} {{ 'total' in m }} {{ m.total in m }}"`,
			runs: []run{{"x", "1", "true true false"}}},
		{name: "an any var holding a text, under ?? as a condition", card: "set: {v: t}\n  show_v:\n    branch: [{if: \"v ?? true\", goto: show_y}]\n  show_n:\n    say: \"n\"\n    end: done\n  show_y:\n    say: \"y\"",
			runs: []run{{"x", "1", "n"}}},
		{name: "round of a text in an any var", card: "set: {v: t}\n  show_a:\n    say: \"{{ round(v) ?? 'not a number' }}\"",
			runs: []run{{"x", "1", "not a number"}, {"2.6", "1", "not a number"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(runtimeBook, "SHOW", "    "+tc.card, 1)
			p, diags := dsl.Load("rt.yaml", []byte(src))
			if tc.diag != "" {
				if p != nil || !strings.Contains(diags.Error(), tc.diag) {
					t.Fatalf("want the error %q, got:\n%v", tc.diag, diags)
				}
				return
			}
			if p == nil {
				t.Fatalf("does not load:\n%v", diags)
			}
			for _, r := range tc.runs {
				s := NewSim(p, "t", DefaultNow)
				for _, step := range []func() error{
					func() error { return s.Start(engine.Visitor{}, "") },
					func() error { return s.Text(r.t) },
					func() error { return s.Text(r.n) },
				} {
					if err := step(); err != nil {
						t.Fatal(err)
					}
				}
				if s.Session.Status != engine.StatusEnded || len(s.Errors) > 0 {
					t.Errorf("t=%q n=%q: status %s, errors %v", r.t, r.n, s.Session.Status, s.Errors)
					continue
				}
				if got := s.Messages[len(s.Messages)-1].Text; got != r.want {
					t.Errorf("t=%q n=%q: the bot said %q, want %q", r.t, r.n, got, r.want)
				}
			}
		})
	}
}

// date(answer) reads the visitor's text in the conversation's language and
// relative to its day: "01.03.2026" is 1 March in German, "morgen" is the
// day after. It read every text as English with no day to count from: the
// first was 3 January, the second had no value.
func TestDateOfAnswerReadsTheConversationsLanguage(t *testing.T) {
	p, diags := dsl.Load("de.yaml", []byte(`playbook: de
locale: de
vars:
  t: string
cards:
  a:
    ask: Wann?
    save: t
  b:
    say: "{{ date(t) ?? 'nichts' }}"
    end: done
`))
	if p == nil {
		t.Fatal(diags)
	}
	for in, want := range map[string]string{
		"01.03.2026": "2026-03-01", "morgen": "2026-01-06", "1. März 2026": "2026-03-01", "irgendwann": "nichts",
	} {
		s := NewSim(p, "t", DefaultNow)
		if err := s.Start(engine.Visitor{}, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Text(in); err != nil {
			t.Fatal(err)
		}
		if got := s.Messages[len(s.Messages)-1].Text; got != want {
			t.Errorf("date(%q) = %q, want %q", in, got, want)
		}
	}
}

// A record's value or due from data only known while chatting ("N/A" in
// a call's answer) is left out, and the record is kept: the CRM refused
// the whole record before ("lead: value must be a number, not the text
// "N/A""). A value written as text in the playbook is a load error.
func TestRecordFieldsFromDataAreKept(t *testing.T) {
	p := load(t, `playbook: rec
vars:
  m: map
cards:
  a:
    set: {m: "{total: 'N/A', when: 'soon', size: '1,200'}"}
    create:
      lead: {title: x, value: m.total}
      deal: {title: y, value: m.size}
      task: {subject: z, due: m.when}
    end: done
`)
	f, diags := Parse("rec.test.yaml", []byte("tests:\n  - name: a\n    script: []\n    expect: {outcome: done, created: [{lead: {title: x}}, {deal: {title: y, value: \"1,200\"}}, {task: {subject: z}}]}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if res := Run(p, f.Tests[0]); !res.Passed() {
		t.Fatalf("%s: %s", res.Failure.Summary, res.Failure.Got)
	}
	_, diags = dsl.Load("lit.yaml", []byte("playbook: lit\ncards:\n  a:\n    create: {lead: {title: x, value: lots}}\n    end: done\n"))
	if !strings.Contains(diags.Error(), `"lots" is not a number`) {
		t.Errorf("a text value written in the playbook: %v", diags)
	}
}

// A set whose value the session cannot keep as JSON stopped the bot in
// serve (the store could not save it) though the run itself went on: a
// number too large to be one (n * 1e300 with n = 1e9 gave "cannot set x:
// the number is too large to keep"), one inside a list or a map, and
// fromPairs's map (keys that are not texts). Now the number is the
// largest there is (NaN is 0) and the map's keys are texts.
func TestWhatASetMakesIsKept(t *testing.T) {
	p := load(t, `playbook: keep
vars:
  n: int
  x: number
  l: list
  m: map
  v: any
cards:
  ask:
    ask: Number?
    input: int
    save: n
  a:
    set:
      x: "n * 1e300"
      l: "[n * 1e300, -n * 1e300, 1]"
      m: "fromPairs([[n, n * 1e300 - n * 1e300]])"
      v: "{a: n * 1e300, g: groupBy([1, 2, 3], # > 1)}"
  b:
    say: "{{ x > 1e307 }} {{ x + 1 > 0 }} {{ (l[1] ?? 0) < 0 }} {{ m }} {{ n * 1e300 > 0 }} {{ v.a ?? 'none' }}"
    end: done
`)
	s := NewSim(p, "t", DefaultNow)
	if err := s.Start(engine.Visitor{}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Text("1000000000"); err != nil {
		t.Fatal(err)
	}
	if s.Session.Status != engine.StatusEnded || len(s.Errors) > 0 {
		t.Fatalf("status %s, errors %v", s.Session.Status, s.Errors)
	}
	big := strconv.FormatFloat(math.MaxFloat64, 'f', -1, 64)
	if got, want := s.Messages[len(s.Messages)-1].Text, "true true true map[1000000000:0] true "+big; got != want {
		t.Errorf("the bot said %q, want %q", got, want)
	}
	data, err := json.Marshal(s.Session)
	if err != nil {
		t.Fatalf("the session cannot be saved: %v", err)
	}
	var back engine.Session
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Vars["x"] != math.MaxFloat64 {
		t.Errorf("x came back as %v", back.Vars["x"])
	}
}

// The CRM's other refusals a record can meet from data only known while
// chatting: each lost the whole record (the CRM refused it, the turn's
// effect was retried and refused again). Now the bad field is left out
// and the record kept; a record with nothing left to keep (an
// organization with neither name nor domain, a note with no content) is
// not made, and the bot goes on.
func TestCRMRefusalsFromDataKeepTheRecord(t *testing.T) {
	p := load(t, `playbook: refuse
vars:
  m: map
cards:
  a:
    set: {m: "{n: 5, list: [1], empty: '', about: 'someone', wide: {name: 'Ann', age: 40}, many: fromPairs(map(1..60, ['k' + string(#), #]))}"}
    create:
      - person: {email: a@example.com, custom: m.n}
      - person: {email: b@example.com, custom: m.many}
      - lead: {title: x, person: m.list, organization: m.n}
      - deal: {title: y, person: m.wide, organization: m.wide}
      - note: {content: hi, about: m.about}
      - organization: {name: m.empty}
      - note: {content: m.empty}
      - task: {subject: z}
    end: done
`)
	f, diags := Parse("refuse.test.yaml", []byte(`tests:
  - name: a
    script: []
    expect:
      outcome: done
      created:
        - person: {email: a@example.com}
        - person: {email: b@example.com}
        - lead: {title: x}
        - deal: {title: y, person: {name: Ann}, organization: {name: Ann}}
        - note: {content: hi}
        - task: {subject: z}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res := Run(p, f.Tests[0])
	if !res.Passed() {
		t.Fatalf("%s: want %s, got %s", res.Failure.Summary, res.Failure.Want, res.Failure.Got)
	}
	s := NewSim(p, "t", DefaultNow)
	if err := s.Start(engine.Visitor{}, ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Created {
		if _, err := crm.Draft(*r); err != nil {
			t.Errorf("the CRM refuses the %s: %v", r.Kind, err)
		}
		if r.Kind == "person" && r.Fields["email"] == "b@example.com" {
			if c, _ := r.Fields["custom"].(map[string]any); len(c) != 50 {
				t.Errorf("custom kept %d fields, want the CRM's 50", len(c))
			}
		}
		if _, has := r.Fields["about"]; has {
			t.Errorf("the note kept about %v", r.Fields["about"])
		}
	}
	// Written out in the playbook, each is an error at load time.
	_, diags = dsl.Load("bad.yaml", []byte(`playbook: bad
cards:
  a:
    create:
      - note: {content: hi, about: customer}
      - person: {email: a@example.com, custom: gold}
      - lead: {title: x, person: 42, organization: [a, b]}
      - deal: {title: y, custom: [1, 2]}
      - note: {content: " "}
    end: done
`))
	for _, want := range []string{
		`bad.yaml:5:36: error: a note is about a person, lead, deal or owner, not "customer"`,
		`bad.yaml:6:48: error: custom holds your own fields, such as custom: {plan: pro}, not "gold"`,
		`bad.yaml:7:34: error: person is a name (a text) or {name: ...}, not "42"`,
		`bad.yaml:7:52: error: organization is a name (a text) or {name: ...}, not a list`,
		`bad.yaml:8:34: error: custom holds your own fields, such as custom: {plan: pro}, not a list`,
		`bad.yaml:9:25: error: a note with no content is not kept`,
	} {
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("want %s in:\n%v", want, diags)
		}
	}
}
