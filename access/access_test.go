package access_test

import (
	"errors"
	"testing"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
)

var (
	sam   = &handoff.Agent{ID: "sam", Name: "Sam", Teams: []string{"sales"}, Role: handoff.RoleAgent}
	kim   = &handoff.Agent{ID: "kim", Name: "Kim", Teams: []string{"sales"}, Role: handoff.RoleAgent}
	sue   = &handoff.Agent{ID: "sue", Name: "Sue", Teams: []string{"support"}, Role: handoff.RoleAgent}
	admin = &handoff.Agent{ID: "ada", Name: "Ada", Role: handoff.RoleAdmin}
	mia   = &handoff.Agent{ID: "mia", Name: "Mia", Role: handoff.RoleMarketer}
	// A marketer stored with a team (AddAgent refuses one) still sees no chat.
	miaTeam = &handoff.Agent{ID: "mia2", Name: "Mia", Teams: []string{"sales"}, Role: handoff.RoleMarketer}
)

func TestConversation(t *testing.T) {
	salesChat := &handoff.Conversation{ID: "c1", Team: "sales"}
	samsChat := &handoff.Conversation{ID: "c2", Team: "sales", Assignee: "sam"}
	botOnly := &handoff.Conversation{ID: "c3"}
	// Sue was assigned, then the chat went to support: she keeps it only
	// while it is hers.
	assignedAcross := &handoff.Conversation{ID: "c4", Team: "support", Assignee: "sam"}
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		c    *handoff.Conversation
		want error
	}{
		{"same team", sam, salesChat, nil},
		{"colleague of the assignee", kim, samsChat, nil},
		{"other team", sue, salesChat, access.ErrForbidden},
		{"other team, assigned to someone", sue, samsChat, access.ErrForbidden},
		{"admin", admin, salesChat, nil},
		{"signed out", nil, salesChat, access.ErrSignedOut},
		{"no team yet, agent", sam, botOnly, access.ErrForbidden},
		{"no team yet, admin", admin, botOnly, nil},
		{"assignee outside the team", sam, assignedAcross, nil},
		{"the team's agent on a chat assigned to another team's agent", sue, assignedAcross, nil},
		{"no conversation", sam, nil, access.ErrForbidden},
		{"marketer", mia, salesChat, access.ErrForbidden},
		{"marketer with a team", miaTeam, salesChat, access.ErrForbidden},
		{"marketer, assigned", &handoff.Agent{ID: "sam", Role: handoff.RoleMarketer}, samsChat, access.ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.Conversation(tc.a, tc.c)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Conversation = %v, want %v", err, tc.want)
			}
			if access.CanSee(tc.a, tc.c) != (tc.want == nil) {
				t.Fatalf("CanSee disagrees with Conversation")
			}
		})
	}
}

func TestVisible(t *testing.T) {
	list := []*handoff.Conversation{{ID: "a", Team: "sales"}, {ID: "b", Team: "support"}, {ID: "c"}, {ID: "d", Team: "support", Assignee: "sam"}}
	got := access.Visible(sam, list)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "d" {
		t.Fatalf("Visible(sam) = %v", got)
	}
	if got := access.Visible(nil, list); len(got) != 0 {
		t.Fatalf("Visible(signed out) = %v", got)
	}
	if got := access.Visible(admin, list); len(got) != 4 {
		t.Fatalf("Visible(admin) = %d conversations", len(got))
	}
}

func TestDeleteEntry(t *testing.T) {
	chat := &handoff.Conversation{ID: "c1", Team: "sales", Assignee: "sam"}
	for _, tc := range []struct {
		name   string
		a      *handoff.Agent
		author access.Author
		want   error
	}{
		{"author by id", sam, access.Author{ID: "sam", Name: "Sam"}, nil},
		{"colleague", kim, access.Author{ID: "sam", Name: "Sam"}, access.ErrForbidden},
		{"colleague with the same name", &handoff.Agent{ID: "sam2", Name: "Sam", Teams: []string{"sales"}}, access.Author{ID: "sam", Name: "Sam"}, access.ErrForbidden},
		{"author by name (old entry)", sam, access.Author{Name: "Sam"}, nil},
		{"colleague, old entry", kim, access.Author{Name: "Sam"}, access.ErrForbidden},
		{"no author", kim, access.Author{}, access.ErrForbidden},
		{"admin", admin, access.Author{ID: "sam"}, nil},
		{"other team", sue, access.Author{ID: "sue", Name: "Sue"}, access.ErrForbidden},
		{"signed out", nil, access.Author{ID: "sam"}, access.ErrSignedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.DeleteEntry(tc.a, chat, tc.author)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("DeleteEntry = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRecordAndLinkPerson(t *testing.T) {
	salesPerson := &crm.Record{ID: "p1", Kind: crm.KindPerson, Teams: []string{"sales"}}
	owned := &crm.Record{ID: "p2", Kind: crm.KindPerson, Owner: "sue"}
	supportChat := &handoff.Conversation{ID: "c1", Team: "support"}
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		r    *crm.Record
		want error
	}{
		{"team", sam, salesPerson, nil},
		{"other team", sue, salesPerson, access.ErrForbidden},
		{"owner", sue, owned, nil},
		{"admin", admin, salesPerson, nil},
		{"signed out", nil, salesPerson, access.ErrSignedOut},
	} {
		t.Run("Record/"+tc.name, func(t *testing.T) {
			if err := access.Record(tc.a, tc.r); tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Record = %v, want %v", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name       string
		a          *handoff.Agent
		p          *crm.Record
		ownVisitor bool
		want       error
	}{
		{"new person", sue, nil, false, nil},
		{"another team's person, typed by the agent", sue, salesPerson, false, access.ErrForbidden},
		{"another team's person is this chat's visitor", sue, salesPerson, true, nil},
		{"a person the agent owns", sue, owned, false, nil},
		{"admin", admin, salesPerson, false, nil},
		{"agent not on the chat", sam, nil, false, access.ErrForbidden},
		{"signed out", nil, nil, false, access.ErrSignedOut},
	} {
		t.Run("LinkPerson/"+tc.name, func(t *testing.T) {
			err := access.LinkPerson(tc.a, supportChat, tc.p, tc.ownVisitor)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("LinkPerson = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPreviousIDs(t *testing.T) {
	known := []*handoff.Conversation{
		{ID: "sales1", Team: "sales"},
		{ID: "support1", Team: "support"},
		{ID: "samsOwn", Team: "support", Assignee: "sam"},
		{ID: "botOnly"},
	}
	ids := []string{"sales1", "support1", "samsOwn", "botOnly", "expired"}
	for _, tc := range []struct {
		a    *handoff.Agent
		want []string
	}{
		{sam, []string{"sales1", "samsOwn"}},
		{sue, []string{"support1", "samsOwn"}},
		{admin, []string{"sales1", "support1", "samsOwn", "botOnly"}}, // an id not found is left out
		{nil, []string{}},
	} {
		got := access.PreviousIDs(tc.a, ids, known)
		if len(got) != len(tc.want) {
			t.Errorf("%v: %v, want %v", tc.a, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: %v, want %v", tc.a, got, tc.want)
			}
		}
	}
}

// TestCompleteTask: who may mark a task done (or open it again) is who may
// see it; a record that is no task is refused whoever asks.
func TestCompleteTask(t *testing.T) {
	salesTask := &crm.Record{ID: "tsk_1", Kind: crm.KindTask, Teams: []string{"sales"}, Owner: "sam"}
	suesTask := &crm.Record{ID: "tsk_2", Kind: crm.KindTask, Owner: "sue"}
	lead := &crm.Record{ID: "led_1", Kind: crm.KindLead, Teams: []string{"sales"}}
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		r    *crm.Record
		want error
	}{
		{"owner", sam, salesTask, nil},
		{"colleague of the team", kim, salesTask, nil},
		{"other team", sue, salesTask, access.ErrForbidden},
		{"assignee of another team's chat task", sue, suesTask, nil},
		{"not the assignee, other team", sam, suesTask, access.ErrForbidden},
		{"admin", admin, salesTask, nil},
		{"signed out", nil, salesTask, access.ErrSignedOut},
		{"no task", sam, lead, access.ErrForbidden},
		{"no record", sam, nil, access.ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.CompleteTask(tc.a, tc.r)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CompleteTask = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		want error
	}{
		{"admin", admin, nil},
		{"marketer", mia, nil},
		{"agent", sam, access.ErrForbidden},
		{"signed out", nil, access.ErrSignedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.Stats(tc.a)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Stats = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMarketerSeesNoRecord(t *testing.T) {
	r := &crm.Record{ID: "p1", Owner: "mia2", Teams: []string{"sales"}}
	if access.Record(miaTeam, r) == nil {
		t.Fatal("a marketer sees a CRM record")
	}
	if access.Record(sam, r) != nil {
		t.Fatal("the team's agent does not see it")
	}
}

func TestAdmin(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    *handoff.Agent
		want error
	}{
		{"admin", admin, nil},
		{"marketer", mia, access.ErrForbidden},
		{"agent", sam, access.ErrForbidden},
		{"signed out", nil, access.ErrSignedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := access.Admin(tc.a)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Admin = %v, want %v", err, tc.want)
			}
		})
	}
}
