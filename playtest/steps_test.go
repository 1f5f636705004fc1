package playtest

import (
	"strings"
	"testing"
)

const shopBook = `playbook: shop
allow_hosts: [api.example.com]
trigger: {pages: ["/orders*"], delay: 10s, when: visitor.returning}
vars:
  order: string
  status: string
cards:
  ask:
    ask: Order number?
    save: order
  look:
    call:
      url: https://api.example.com/orders/{{ order }}?v=2
      method: POST
      headers: {Authorization: Bearer demo}
      body: {order: order, channel: chat}
      save: {status: status}
      on_error: down
  done:
    say: "{{ order }} is {{ status }}."
    links: [{label: Track, url: "https://t.example/1"}, {label: Help, url: "https://help.example"}]
    branch:
      - if: open_hours("support")
        goto: open
      - goto: closed
  open:
    say: Support is open.
    end: open
  closed:
    say: Support is closed.
    end: closed
  down:
    say: Down.
    end: down
`

// Each new step and expectation passes when it holds and fails, saying
// what differs, when it does not.
func TestScriptStepsForTheWorld(t *testing.T) {
	p := load(t, shopBook)
	mock := `    http: {"POST https://api.example.com/orders/*": {body: {status: sent}}}
`
	for _, tc := range []struct{ name, test, fail string }{
		{"a pattern mock answers", mock + "    script: [{visitor: A1}, {bot: A1 is sent.}]", ""},
		{"a pattern that does not match is no answer", `    http: {"POST https://api.example.com/parcels/*": {body: {status: sent}}}
    script: [{visitor: A1}, {bot: Down.}]`, ""},
		{"links with urls", mock + `    script: [{visitor: A1}, {links: [{Track: "https://t.example/1"}, Help]}]`, ""},
		{"links in another order", mock + `    script: [{visitor: A1}, {links: [Help, Track]}]`, "the links are different"},
		{"a wrong link url", mock + `    script: [{visitor: A1}, {links: [{Track: "https://t.example/2"}, Help]}]`, "the links are different"},
		{"opening hours change mid-script", mock + `    open_hours: {support: true}
    script: [{open_hours: {support: false}}, {visitor: A1}, {bot: Support is closed.}]`, ""},
		{"call headers and body", mock + `    script: [{visitor: A1}]
    expect:
      calls: [{call: "POST https://api.example.com/orders/A1?v=2", headers: {authorization: Bearer demo}, body: {order: A1, channel: chat}}]`, ""},
		{"a call pattern", mock + `    script: [{visitor: A1}]
    expect: {calls: ["POST https://api.example.com/orders/*"]}`, ""},
		{"a wrong header", mock + `    script: [{visitor: A1}]
    expect:
      calls: [{call: "POST https://api.example.com/orders/A1?v=2", headers: {Authorization: Bearer other}}]`, "call 1's Authorization header is different"},
		{"a missing body field", mock + `    script: [{visitor: A1}]
    expect:
      calls: [{call: "POST https://api.example.com/orders/A1?v=2", body: {coupon: X}}]`, "call 1's body field coupon is different"},
		{"the trigger waits for its delay", `    visitor: {returning: true}
    script: [{page: /orders/9}, {triggers: false}, {wait: 10s}, {triggers: true}]`, ""},
		{"the trigger's page", `    visitor: {returning: true}
    script: [{page: /blog}, {wait: 1m}, {triggers: true}]`, "the trigger does not apply: page /blog is not one of"},
		{"the trigger's when", `    script: [{page: /orders}, {wait: 1m}, {triggers: true}]`, "the trigger does not apply: when visitor.returning is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(p, parseOne(t, "tests:\n  - name: x\n"+tc.test+"\n"))
			switch {
			case tc.fail == "" && !r.Passed():
				t.Fatalf("failed: %v\n%s", r.Failure, strings.Join(r.Transcript, "\n"))
			case tc.fail != "" && r.Passed():
				t.Fatalf("passed, want a failure %q", tc.fail)
			case tc.fail != "" && !strings.Contains(r.Failure.Summary, tc.fail):
				t.Fatalf("failure %q, want %q", r.Failure.Summary, tc.fail)
			}
		})
	}
}
