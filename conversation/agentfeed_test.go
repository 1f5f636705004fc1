package conversation_test

import (
	"encoding/json"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
)

// TestFeedEventFor: what an inbox event gives one agent's feed, for each
// kind of event (the access policy decides; the transport only follows).
func TestFeedEventFor(t *testing.T) {
	sam := &conversation.Agent{ID: "sam", Name: "Sam", Teams: []string{"sales"}}
	sales := &handoff.Conversation{ID: "c1", Team: "sales", Previous: []string{"old-sales", "old-support"}}
	support := &handoff.Conversation{ID: "c2", Team: "support"}
	known := []*handoff.Conversation{{ID: "old-sales", Team: "sales"}, {ID: "old-support", Team: "support"}}
	payload := func(ev conversation.InboxEvent) string {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tt := range []struct {
		name    string
		ev      conversation.InboxEvent
		away    bool // sam is away (or offline), not available
		ended   string
		about   string
		visible bool
		frame   string // the frame's type; "" none
	}{
		{"a change of a sales chat", conversation.InboxEvent{Type: "conversation", Conversation: sales, PreviousKnown: known}, false, "", "c1", true, protocol.TypeConversation},
		{"a new sales chat", conversation.InboxEvent{Type: "notify", Kind: "new_chat", Conversation: sales, PreviousKnown: known}, false, "", "c1", true, protocol.TypeNotify},
		{"a new sales chat, sam away", conversation.InboxEvent{Type: "notify", Kind: "new_chat", Conversation: sales, PreviousKnown: known}, true, "", "c1", true, protocol.TypeConversation},
		{"a chat given to sam while away", conversation.InboxEvent{Type: "notify", Kind: "assigned", To: "sam", Conversation: sales, PreviousKnown: known}, true, "", "c1", true, protocol.TypeNotify},
		{"a lead of sales", conversation.InboxEvent{Type: "record", Records: []*crm.Record{{ID: "l1", Kind: crm.KindLead, Teams: []string{"sales"}}, {ID: "l2", Kind: crm.KindLead, Teams: []string{"support"}}}}, false, "", "", false, protocol.TypeRecord},
		{"a task of sam's, no team", conversation.InboxEvent{Type: "record", Records: []*crm.Record{{ID: "t1", Kind: crm.KindTask, Owner: "sam"}}}, true, "", "", false, protocol.TypeRecord},
		{"a lead of support", conversation.InboxEvent{Type: "record", Records: []*crm.Record{{ID: "l2", Kind: crm.KindLead, Teams: []string{"support"}, Owner: "sue"}}}, false, "", "", false, ""},
		{"sam's presence", conversation.InboxEvent{Type: "presence", To: "sam", Presence: "away"}, false, "", "", false, ""},
		{"sue's presence", conversation.InboxEvent{Type: "presence", To: "sue", Presence: "away"}, false, "", "", false, ""},
		{"a change of a support chat", conversation.InboxEvent{Type: "conversation", Conversation: support}, false, "", "c2", false, ""},
		{"a notice for another agent", conversation.InboxEvent{Type: "notify", Kind: "mention", To: "sue", Conversation: sales}, false, "", "", false, ""},
		{"a notice for sam", conversation.InboxEvent{Type: "notify", Kind: "mention", To: "sam", Conversation: sales, PreviousKnown: known}, false, "", "c1", true, protocol.TypeNotify},
		{"a CRM note for sam, no chat", conversation.InboxEvent{Type: "notify", Kind: "sales_note", To: "sam", Text: "a note"}, false, "", "", false, protocol.TypeNotify},
		{"a notice for nobody, no chat", conversation.InboxEvent{Type: "notify", Kind: "sales_note", Text: "a note"}, false, "", "", false, ""},
		{"a session ended", conversation.InboxEvent{Type: "session_ended", Session: "h1"}, false, "h1", "", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fe, err := conversation.FeedEventFor(sam, !tt.away, payload(tt.ev))
			if err != nil {
				t.Fatal(err)
			}
			if fe.EndedSession != tt.ended || fe.About != tt.about || fe.Visible != tt.visible {
				t.Fatalf("got %+v; want ended %q, about %q, visible %v", fe, tt.ended, tt.about, tt.visible)
			}
			got := ""
			if fe.Frame != nil {
				got = fe.Frame.FrameType()
			}
			if got != tt.frame {
				t.Fatalf("frame %q; want %q", got, tt.frame)
			}
			if f, ok := fe.Frame.(*protocol.RecordChanged); ok {
				for _, r := range f.Records {
					if r.ID == "l2" {
						t.Errorf("sam got support's lead l2: %+v", f.Records)
					}
				}
			}
			if want := map[string]string{"sam's presence": "away"}[tt.name]; fe.Presence != want {
				t.Fatalf("presence %q; want %q", fe.Presence, want)
			}
			// The previous ids sam may see: sales' only.
			var prev []string
			switch f := fe.Frame.(type) {
			case *protocol.ConversationChanged:
				prev = f.Conversation.Previous
			case *protocol.Notify:
				if f.Conversation != nil {
					prev = f.Conversation.Previous
				}
			}
			if tt.visible && (len(prev) != 1 || prev[0] != "old-sales") {
				t.Errorf("previous ids %v; want [old-sales]", prev)
			}
		})
	}
	if _, err := conversation.FeedEventFor(sam, true, "not json"); err == nil {
		t.Error("a payload that is not an event was taken")
	}
}
