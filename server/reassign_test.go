package server_test

import (
	"testing"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// A chat reassigned from one agent to another (issue 14, item 3): the
// visitor sees "Sam left", then "Maria joined", in that order.
func TestReassignSaysWhoLeft(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench")
	sam := addAgent(t, ts, "Sam", "sales")
	maria := addAgent(t, ts, "Maria", "sales")
	signIn(t, ts, maria).ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	if j := v.entryOf("joined", "system"); j["author"] != "Sam" {
		t.Fatalf("joined entry = %v", j)
	}
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{"agent": maria.ID})
	var kinds []string
	for len(kinds) < 2 {
		f := v.next("entry")
		e, _ := f["entry"].(map[string]any)
		if e["from"] != "system" {
			continue
		}
		kinds = append(kinds, e["kind"].(string)+" "+e["author"].(string))
	}
	if kinds[0] != "left Sam" || kinds[1] != "joined Maria" {
		t.Fatalf("the visitor saw %q, want [left Sam, joined Maria]", kinds)
	}
}
