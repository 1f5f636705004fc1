package conversation

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/protocol"
)

// TestRecordsMessageAllocations (issue 13, twelfth round): a lead's
// records message, given the created records' JSON the CRM made from
// their stored forms, is written around it, not marshalled again from the
// records: the same bytes as json.Marshal's of the event (what every
// process of a mixed fleet reads), in two allocations (the channel and
// the payload) instead of about sixteen.
func TestRecordsMessageAllocations(t *testing.T) {
	s := &Service{inbox: handoff.NewStore(nil, handoff.Options{})}
	at := time.Date(2026, 12, 5, 1, 1, 0, 123456789, time.UTC)
	rs := []*crm.Record{
		{ID: "org_1", Kind: crm.KindOrganization, Name: "Acme37", Domain: "acme37.com", CreatedBy: "bot", CreatedAt: at, UpdatedAt: at},
		{ID: "per_1", Kind: crm.KindPerson, Email: "visitor231@acme37.com", OrganizationID: "org_1", Conversation: "conv-231", CreatedAt: at, UpdatedAt: at},
		{ID: "led_1", Kind: crm.KindLead, Title: "visitor231@acme37.com", Custom: map[string]any{"budget": 1500, "size": "201+"}, PersonID: "per_1", CreatedAt: at, UpdatedAt: at},
	}
	js, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(InboxEvent{Type: protocol.TypeRecord, Records: rs})
	if err != nil {
		t.Fatal(err)
	}
	for _, given := range [][]byte{js, nil} {
		m, ok := s.recordsMessage(rs, given)
		if !ok || m.Payload != string(want) || m.Channel != s.inbox.InboxChannel() {
			t.Errorf("the records message (JSON given: %v): %+v, %v; want the payload %s", given != nil, m, ok, want)
		}
	}
	race.SkipAllocCounts(t)
	allocs := testing.AllocsPerRun(100, func() { s.recordsMessage(rs, js) })
	if allocs > 2 {
		t.Errorf("%v allocations a records message, want at most 2", allocs)
	}
}
