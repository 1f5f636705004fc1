package protocol

import "time"

// Entry is one transcript entry, as the visitor websocket, the agent feed
// and GET /api/conversations/{id}/transcript send it.
type Entry struct {
	// ID is the entry's transcript id ("1732262400000-0"); entries come in
	// id order and a client resumes after the last one it has.
	ID string `json:"id,omitempty"`
	// From is visitor, bot, agent or system.
	From string `json:"from"`
	// Kind is message, file (an attachment: see File), or an event:
	// handoff, joined, left, end, error, resolved, deleted; agents also see
	// note, record, missed and away.
	Kind    string   `json:"kind"`
	Text    string   `json:"text,omitempty"`
	Buttons []Button `json:"buttons,omitempty"`
	// Input is what the bot waits for after its last message of a turn
	// (text, email, phone, number, int, date, url, yes_no, choice); empty
	// when it does not wait.
	Input string `json:"input,omitempty"`
	Image string `json:"image,omitempty"`
	Links []Link `json:"links,omitempty"`
	// Author is the agent's display name (joined, left, agent messages)
	// or the bot's name.
	Author string `json:"author,omitempty"`
	// ClientID is, on visitor entries, the client message id that made it.
	ClientID string `json:"client_id,omitempty"`
	// Card is the playbook card that said it (agents only).
	Card string `json:"card,omitempty"`
	// Data is the event's data: handoff {team}, deleted {target,
	// private}, missed {left_message}, record {the record}; see
	// docs/protocol.md.
	Data map[string]any `json:"data,omitempty"`
	At   time.Time      `json:"at"`
}

// Team is a handoff entry's team ("" for other entries).
func (e *Entry) Team() string { s, _ := e.Data["team"].(string); return s }

// Target is the id of the entry a deleted entry deletes ("" for others).
func (e *Entry) Target() string { s, _ := e.Data["target"].(string); return s }

// FileInfo is what a file entry's Data says of its attachment.
type FileInfo struct {
	// ID is the file's id in its conversation (data.file).
	ID string
	// Name is its name, made safe by the server; Type its media type as
	// sniffed from its bytes; Size its size in bytes.
	Name, Type string
	Size       int64
	// URL is, in the widget's copy only, a signed download link valid for
	// a few minutes from when the entry was sent.
	URL string
}

// File returns the attachment of a file entry; ok is false for others.
func (e *Entry) File() (f FileInfo, ok bool) {
	if e.Kind != "file" {
		return FileInfo{}, false
	}
	f.ID, _ = e.Data["file"].(string)
	f.Name, _ = e.Data["name"].(string)
	f.Type, _ = e.Data["type"].(string)
	f.URL, _ = e.Data["url"].(string)
	switch n := e.Data["size"].(type) {
	case float64:
		f.Size = int64(n)
	case int64:
		f.Size = n
	case int:
		f.Size = int64(n)
	}
	return f, f.ID != ""
}

// Button is a button the bot offers; a click sends its Value.
type Button struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Link is a link button.
type Link struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// Bot is how the bot presents itself in the widget.
type Bot struct {
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	Color  string `json:"color,omitempty"`
}

// Visitor is what the page tells of the visitor in a start frame (all
// optional).
type Visitor struct {
	ID        string            `json:"id,omitempty"`
	Name      string            `json:"name,omitempty"`
	Email     string            `json:"email,omitempty"`
	Page      string            `json:"page,omitempty"`
	Referrer  string            `json:"referrer,omitempty"`
	Language  string            `json:"language,omitempty"`
	Country   string            `json:"country,omitempty"`
	Returning bool              `json:"returning,omitempty"`
	Visits    int               `json:"visits,omitempty"`
	UTM       map[string]string `json:"utm,omitempty"` // utm_source etc. without the prefix
}

// Conversation statuses (Conversation.Status, the inbox's view).
const (
	ConversationBot      = "bot"
	ConversationOpen     = "open"
	ConversationSnoozed  = "snoozed"
	ConversationMissed   = "missed"
	ConversationResolved = "resolved"
)

// Conversation is one chat as the inbox sees it.
type Conversation struct {
	ID           string              `json:"id"`
	Status       string              `json:"status"`
	Team         string              `json:"team,omitempty"`
	Assignee     string              `json:"assignee,omitempty"`
	AssigneeName string              `json:"assignee_name,omitempty"`
	Playbook     string              `json:"playbook"`
	Card         string              `json:"card,omitempty"`
	Priority     string              `json:"priority,omitempty"`
	Visitor      ConversationVisitor `json:"visitor"`
	Labels       []string            `json:"labels"`
	Last         *Last               `json:"last,omitempty"`
	StartedAt    time.Time           `json:"started_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
	SnoozedUntil *time.Time          `json:"snoozed_until"`
	UntilReply   bool                `json:"snoozed_until_reply,omitempty"`
	ResolvedAt   *time.Time          `json:"resolved_at,omitempty"`
	// QueuedAt is when the chat last went into its team's queue (absent
	// when it never did); kept once an agent takes it.
	QueuedAt *time.Time `json:"queued_at,omitempty"`
	CSAT     *CSAT      `json:"csat"`
	// Previous are the earlier conversations of the same visitor that the
	// reader may see, newest first.
	Previous []string `json:"previous,omitempty"`
}

// ConversationVisitor is the visitor of an inbox conversation.
type ConversationVisitor struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Page  string `json:"page,omitempty"`
}

// Last is a conversation's latest message, for the lists.
type Last struct {
	From   string    `json:"from"`             // visitor, bot or agent
	Agent  string    `json:"agent,omitempty"`  // the agent's id, for an agent's message
	Author string    `json:"author,omitempty"` // the agent's name
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// CSAT is the visitor's rating: At when it was last given, First when
// the first one was (a rating may be replaced for a while after the
// first: the widget sends it on the star click, then with the comment).
type CSAT struct {
	Score   int       `json:"score"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	First   time.Time `json:"first,omitzero"`
}

// Agent is a person who takes chats.
type Agent struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Teams []string `json:"teams"`
	Role  string   `json:"role"` // agent, admin or marketer
	// Disabled: the agent may not sign in (an admin disabled them).
	Disabled bool `json:"disabled,omitempty"`
}

// Record is a CRM record (person, organization, lead, deal, task, note);
// see docs/webhooks.md for its fields by kind.
type Record struct {
	ID            string         `json:"id"`
	Kind          string         `json:"kind"`
	Name          string         `json:"name,omitempty"`
	Email         string         `json:"email,omitempty"`
	Phone         string         `json:"phone,omitempty"`
	Domain        string         `json:"domain,omitempty"`
	Title         string         `json:"title,omitempty"`
	Value         *float64       `json:"value,omitempty"`
	Currency      string         `json:"currency,omitempty"`
	Pipeline      string         `json:"pipeline,omitempty"`
	Stage         string         `json:"stage,omitempty"`
	ExpectedClose string         `json:"expected_close,omitempty"` // a date, 2006-01-02
	Labels        []string       `json:"labels,omitempty"`
	Source        string         `json:"source,omitempty"`
	Subject       string         `json:"subject,omitempty"`
	Due           *time.Time     `json:"due,omitempty"`
	Type          string         `json:"type,omitempty"`
	Content       string         `json:"content,omitempty"`
	About         string         `json:"about,omitempty"`
	AboutID       string         `json:"about_id,omitempty"`
	Note          string         `json:"note,omitempty"`
	Custom        map[string]any `json:"custom,omitempty"`
	Person        string         `json:"person,omitempty"`
	Organization  string         `json:"organization,omitempty"`
	Lead          string         `json:"lead,omitempty"`
	Deal          string         `json:"deal,omitempty"`
	Owner         string         `json:"owner,omitempty"`
	OwnerName     string         `json:"owner_name,omitempty"`
	Teams         []string       `json:"teams,omitempty"`
	Conversation  string         `json:"conversation,omitempty"`
	Playbook      string         `json:"playbook,omitempty"` // the source playbook: of the conversation it was made in
	DoneAt        *time.Time     `json:"done_at,omitempty"`  // a task: when it was marked done; absent while open
	CreatedBy     string         `json:"created_by,omitempty"`
	CreatedByName string         `json:"created_by_name,omitempty"`
	Key           string         `json:"key,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}
