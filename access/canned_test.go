package access_test

import (
	"errors"
	"testing"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
)

// Who reads and who changes a canned response, and who may save one: every
// scope x {team member, other team, author, admin, signed out}.
func TestCannedPolicy(t *testing.T) {
	sam := &handoff.Agent{ID: "sam", Teams: []string{"sales"}, Role: handoff.RoleAgent}
	kim := &handoff.Agent{ID: "kim", Teams: []string{"sales"}, Role: handoff.RoleAgent}
	sue := &handoff.Agent{ID: "sue", Teams: []string{"support"}, Role: handoff.RoleAgent}
	boss := &handoff.Agent{ID: "boss", Role: handoff.RoleAdmin}
	team := &handoff.Canned{ID: "c1", Scope: handoff.CannedTeam, Team: "sales"}
	own := &handoff.Canned{ID: "c2", Scope: handoff.CannedPersonal, Owner: "sam"}
	shared := &handoff.Canned{ID: "c3", Scope: handoff.CannedShared}
	for _, tc := range []struct {
		name       string
		a          *handoff.Agent
		c          *handoff.Canned
		read, edit bool
	}{
		{"team member, team's", kim, team, true, true},
		{"other team, team's", sue, team, false, false},
		{"admin, team's", boss, team, true, true},
		{"signed out, team's", nil, team, false, false},
		{"author, personal", sam, own, true, true},
		{"teammate, personal", kim, own, false, false},
		{"admin, someone's personal", boss, own, false, false},
		{"agent, shared", sue, shared, true, false},
		{"admin, shared", boss, shared, true, true},
		{"signed out, shared", nil, shared, false, false},
		{"unknown scope", boss, &handoff.Canned{Scope: "global"}, false, false},
	} {
		if got := access.CanReadCanned(tc.a, tc.c); got != tc.read {
			t.Errorf("%s: read = %v, want %v", tc.name, got, tc.read)
		}
		err := access.EditCanned(tc.a, tc.c)
		if (err == nil) != tc.edit {
			t.Errorf("%s: edit = %v, want %v", tc.name, err, tc.edit)
		}
		if err != nil && tc.a != nil && !errors.Is(err, access.ErrForbidden) {
			t.Errorf("%s: %v does not wrap ErrForbidden", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		c    *handoff.Canned
		ok   bool
	}{
		{"own team", sam, &handoff.Canned{Scope: handoff.CannedTeam, Team: "sales"}, true},
		{"other team", sue, &handoff.Canned{Scope: handoff.CannedTeam, Team: "sales"}, false},
		{"admin, any team", boss, &handoff.Canned{Scope: handoff.CannedTeam, Team: "sales"}, true},
		{"shared, agent", sam, &handoff.Canned{Scope: handoff.CannedShared}, false},
		{"shared, admin", boss, &handoff.Canned{Scope: handoff.CannedShared}, true},
		{"personal, self", sam, &handoff.Canned{Scope: handoff.CannedPersonal, Owner: "sam"}, true},
		{"personal, for another", sam, &handoff.Canned{Scope: handoff.CannedPersonal, Owner: "kim"}, false},
		{"signed out", nil, &handoff.Canned{Scope: handoff.CannedPersonal}, false},
	} {
		if err := access.NewCanned(tc.a, tc.c); (err == nil) != tc.ok {
			t.Errorf("new, %s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
