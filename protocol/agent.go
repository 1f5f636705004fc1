package protocol

import "encoding/json"

// Server to agent, on /ws/agent.
type (
	// Hello says the feed is connected, for Agent.
	Hello struct {
		Agent *Agent `json:"agent"`
	}
	// ConversationChanged says a conversation the agent may see was
	// created or changed (type "conversation").
	ConversationChanged struct {
		Conversation *Conversation `json:"conversation"`
	}
	// RecordChanged says CRM records the agent may see were created or
	// changed together (type "record"): the person, lead and task the
	// offline path made, a task done. The CRM screens and the task count
	// read again.
	RecordChanged struct {
		Records []*Record `json:"records"`
	}
	// Notify is worth a sound and a desktop notification. Kind is
	// new_chat, assigned, mention, reopened, missed or sales_note; a
	// sales_note has Record (the note) and Person, and its Conversation
	// may be nil.
	Notify struct {
		Kind string `json:"kind,omitempty"`
		// Title says what happened, for the toast and the desktop
		// notification ("New chat from Anna — Sales", "Anna replied");
		// absent for kinds the server gives none (the client then
		// names the kind).
		Title        string        `json:"title,omitempty"`
		Text         string        `json:"text,omitempty"`
		Conversation *Conversation `json:"conversation"`
		Record       *Record       `json:"record,omitempty"`
		Person       *Record       `json:"person,omitempty"`
	}
	// AgentEntry is a new transcript entry of the followed conversation
	// (type "entry").
	AgentEntry struct {
		Conversation string `json:"conversation"`
		Entry        Entry  `json:"entry"`
	}
	// AgentTyping says the visitor (or another agent, Author) is typing
	// in Conversation (type "typing").
	AgentTyping struct {
		Conversation string `json:"conversation"`
		From         string `json:"from"`
		Author       string `json:"author"`
		On           bool   `json:"on"`
	}
	// Revoked says the followed conversation went out of the agent's
	// reach; its entries stopped.
	Revoked struct {
		Conversation string `json:"conversation"`
		Message      string `json:"message"`
	}
	// Resync says live events may have been missed: reload the lists.
	Resync struct{}
)

// Notification kinds (Notify.Kind).
const (
	NotifyNewChat   = "new_chat"
	NotifyAssigned  = "assigned"
	NotifyMention   = "mention"
	NotifyReopened  = "reopened"
	NotifyMissed    = "missed"
	NotifySalesNote = "sales_note"
)

func (*Hello) FrameType() string               { return TypeHello }
func (*ConversationChanged) FrameType() string { return TypeConversation }
func (*Notify) FrameType() string              { return TypeNotify }
func (*RecordChanged) FrameType() string       { return TypeRecord }
func (*AgentEntry) FrameType() string          { return TypeEntry }
func (*AgentTyping) FrameType() string         { return TypeTyping }
func (*Revoked) FrameType() string             { return TypeRevoked }
func (*Resync) FrameType() string              { return TypeResync }

// Agent to server, on /ws/agent.
type (
	// Heartbeat keeps the agent's presence alive; send one every 10 s.
	Heartbeat struct{}
	// Follow streams a conversation's entries after After, then live ones.
	Follow struct {
		Conversation string `json:"conversation"`
		After        string `json:"after"`
	}
	// AgentTypingOn says the agent is typing in Conversation (type
	// "typing").
	AgentTypingOn struct {
		Conversation string `json:"conversation"`
		On           bool   `json:"on"`
	}
)

func (*Heartbeat) FrameType() string     { return TypeHeartbeat }
func (*Follow) FrameType() string        { return TypeFollow }
func (*AgentTypingOn) FrameType() string { return TypeTyping }

// agentIn is any frame an agent sends.
type agentIn struct {
	Type         string `json:"type"`
	Conversation string `json:"conversation"`
	After        string `json:"after"`
	On           bool   `json:"on"`
}

// DecodeAgent decodes one frame an agent sent on /ws/agent: *Heartbeat,
// *Ping, *Follow or *AgentTypingOn, or an error frame with code bad_json
// or unknown_type.
func DecodeAgent(data []byte) (Frame, *AgentError) {
	var f agentIn
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, &AgentError{Code: CodeBadJSON, Message: "frame is not a JSON object"}
	}
	switch f.Type {
	case TypeHeartbeat:
		return &Heartbeat{}, nil
	case TypePing:
		return &Ping{}, nil
	case TypeFollow:
		return &Follow{Conversation: f.Conversation, After: f.After}, nil
	case TypeTyping:
		return &AgentTypingOn{Conversation: f.Conversation, On: f.On}, nil
	}
	return nil, &AgentError{Code: CodeUnknownType, Message: "unknown frame type"}
}
