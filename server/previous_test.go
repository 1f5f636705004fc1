package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/handoff"
)

// TestPreviousByPersonStaysWithinTheTeam: a support chat whose visitor
// gives the email of a person sales talked to is linked to the person's
// earlier chats (issue 11, item 16), but support is not shown the sales
// chat; an admin is.
func TestPreviousByPersonStaysWithinTheTeam(t *testing.T) {
	w := newTwoTeams(t)
	sup := w.supportChat(t, &handoff.Visitor{Email: "Ana@Acme.io"})
	var details struct {
		Previous []handoff.Conversation `json:"previous"`
	}
	body := w.sue.ok("GET", "/api/conversations/"+sup, nil)
	json.Unmarshal(body, &details)
	if len(details.Previous) != 0 || strings.Contains(string(body), "SECRET-SALES-NOTE") {
		t.Fatalf("support sees previous %+v in %.300s", details.Previous, body)
	}
	json.Unmarshal(w.admin.ok("GET", "/api/conversations/"+sup, nil), &details)
	if len(details.Previous) != 1 || details.Previous[0].ID != w.conv {
		t.Fatalf("admin's previous = %+v, want the sales chat, found through the person", details.Previous)
	}
}
