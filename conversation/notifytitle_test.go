package conversation

import (
	"testing"

	"github.com/playbook-dev/playbook/handoff"
)

func TestVisitorWhoAndTeamTitle(t *testing.T) {
	for _, tt := range []struct {
		v    handoff.Visitor
		want string
	}{
		{handoff.Visitor{Name: " Anna ", Email: "anna@acme.io"}, "Anna"},
		{handoff.Visitor{Email: "ana.lopez@eu.acme.co.uk"}, "ana.lopez at Acme"},
		{handoff.Visitor{Email: "ana@gmail.com"}, "ana@gmail.com"},
		{handoff.Visitor{}, "A visitor"},
	} {
		if got := visitorWho(&handoff.Conversation{Visitor: tt.v}); got != tt.want {
			t.Errorf("visitorWho(%+v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	for team, want := range map[string]string{"sales": "Sales", "key-accounts": "Key accounts", "": "No team"} {
		if got := teamTitle(team); got != want {
			t.Errorf("teamTitle(%q) = %q, want %q", team, got, want)
		}
	}
}
