package conversation

import (
	"testing"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/protocol"
)

// TestWireFeedItemMatchesTheCRM: a feed item (a chat or a record) survives
// the conversion byte for byte, empty fields too; a record's details
// carry their lists as the API always did: present ([] when empty) for the
// kinds that have them, absent for the others.
func TestWireFeedItemMatchesTheCRM(t *testing.T) {
	var it crm.FeedItem
	filled(t, &it)
	sameBytes(t, it, WireFeedItem(it))
	bare := crm.FeedItem{Type: "chat", Chat: &crm.Chat{Conversation: "c"}}
	sameBytes(t, bare, WireFeedItem(bare))
	sameBytes(t, []*crm.Record(nil), WireRecords(nil))
	sameBytes(t, []*crm.Record{}, WireRecords([]*crm.Record{}))

	var r crm.Record
	filled(t, &r)
	sameBytes(t,
		map[string]any{"record": &r, "person": &r, "leads": []*crm.Record{}, "deals": []*crm.Record{&r}, "tasks": []*crm.Record{}},
		&protocol.RecordDetails{Record: WireRecord(&r), Person: WireRecord(&r), Leads: []*protocol.Record{}, Deals: WireRecords([]*crm.Record{&r}), Tasks: []*protocol.Record{}})
	sameBytes(t, map[string]any{"record": &r, "deal": &r}, &protocol.RecordDetails{Record: WireRecord(&r), Deal: WireRecord(&r)})
}
