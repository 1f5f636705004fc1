package protocol

import "time"

// Bodies of the HTTP API (docs/protocol.md, "HTTP" and "The agent inbox
// API"). Requests are what a client sends, the others what it gets back.

// APIError is the body of every error answer: {"error": "..."}, a text
// for people. The status code says what kind (400, 401, 403, 404, 409,
// 429, 501, 502).
type APIError struct {
	Message string `json:"error"`
}

// WidgetMatchRequest is POST /api/widget/match.
type WidgetMatchRequest struct {
	Page    string   `json:"page"`
	Locale  string   `json:"locale"`
	Visitor *Visitor `json:"visitor"`
}

// WidgetMatch answers WidgetMatchRequest: {} when no trigger applies,
// else the playbook to start after DelayMS, its bot and the campaign text
// to show above the closed widget (if any).
type WidgetMatch struct {
	Playbook string `json:"playbook,omitempty"`
	DelayMS  *int64 `json:"delay_ms,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Bot      *Bot   `json:"bot,omitempty"`
}

// LoginRequest is POST /api/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Login answers LoginRequest (with the session cookie): send CSRF in the
// X-CSRF-Token header of every change.
type Login struct {
	Agent *Agent `json:"agent"`
	CSRF  string `json:"csrf"`
}

// Me answers GET /api/me.
type Me struct {
	Agent    *Agent `json:"agent"`
	CSRF     any    `json:"csrf"` // the session's CSRF token; null with an API token
	Presence string `json:"presence"`
	Mail     bool   `json:"mail"` // the server can email transcripts
}

// Presence values.
const (
	Online  = "online"
	Away    = "away"
	Offline = "offline"
)

// PresenceRequest is PUT /api/me/presence; the answer has the same shape.
type PresenceRequest struct {
	Status string `json:"status"` // online, away or offline
}

// AgentInfo is one agent of GET /api/agents.
type AgentInfo struct {
	Agent
	Presence string `json:"presence"`
	Open     int    `json:"open"` // conversations assigned
}

// Folders of GET /api/conversations?folder=F.
const (
	FolderUnassigned = "unassigned"
	FolderMine       = "mine"
	FolderOpen       = "open"
	FolderSnoozed    = "snoozed"
	FolderMissed     = "missed"
	FolderClosed     = "closed"
)

// ConversationDetails answers GET /api/conversations/{id}. The fields
// that are pointers come only while the conversation's session is kept
// (--idle-ttl); Card and PlaybookTitle also need its playbook version.
type ConversationDetails struct {
	Conversation *Conversation `json:"conversation"`
	// Vars are the playbook's vars as the bot saved them.
	Vars map[string]any `json:"vars"`
	// Records are the data of the record entries of the transcript (the
	// records the bot made), oldest first.
	Records       []map[string]any `json:"records"`
	Previous      []*Conversation  `json:"previous"`
	Outcome       *string          `json:"outcome,omitempty"`        // the bot's end label ("" before the end)
	SessionStatus *string          `json:"session_status,omitempty"` // waiting, handoff, agent, ended, …
	Card          *string          `json:"card,omitempty"`           // the card the bot is at
	PlaybookTitle *string          `json:"playbook_title,omitempty"`
	// HandBackCards are the cards a hand-back may name: those whose vars
	// the conversation has set.
	HandBackCards []string `json:"handback_cards,omitempty"`
	// Reopen: the conversation is resolved and its team lets an agent
	// reopen it (POST /api/conversations/{id}/reopen).
	Reopen bool `json:"reopen,omitempty"`
	// VarLabels name vars as the playbook labels them (a var's `label:`),
	// in the conversation's locale; vars without a label are absent.
	VarLabels map[string]string `json:"var_labels,omitempty"`
}

// AssignRequest is POST /api/conversations/{id}/assign: Agent empty (or
// the caller's id) to take the chat.
type AssignRequest struct {
	Agent string `json:"agent"`
}

// TransferRequest is POST /api/conversations/{id}/transfer.
type TransferRequest struct {
	Team string `json:"team"`
}

// HandbackRequest is POST /api/conversations/{id}/handback: the bot
// resumes at Card.
type HandbackRequest struct {
	Card string `json:"card"`
}

// TextRequest is POST /api/conversations/{id}/messages and …/notes (a
// note's ClientID is unused): Text of 1 to MaxText characters, ClientID
// of at most MaxClientID bytes.
type TextRequest struct {
	Text     string `json:"text"`
	ClientID string `json:"client_id,omitempty"`
}

// LabelsRequest is POST /api/conversations/{id}/labels.
type LabelsRequest struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// SnoozeRequest is POST /api/conversations/{id}/snooze: Until is reply,
// tomorrow, next_week or a future RFC 3339 time.
type SnoozeRequest struct {
	Until string `json:"until"`
}

// TypingRequest is POST /api/conversations/{id}/typing.
type TypingRequest struct {
	On bool `json:"on"`
}

// TranscriptEmailRequest is POST /api/conversations/{id}/transcript/email.
type TranscriptEmailRequest struct {
	To       string `json:"to"`
	Internal bool   `json:"internal,omitempty"`
}

// Canned is a canned response as the signed-in agent sees it.
type Canned struct {
	ID        string    `json:"id"`
	Short     string    `json:"short"`
	Text      string    `json:"text"`
	Scope     string    `json:"scope"` // team, personal or shared
	Team      string    `json:"team,omitempty"`
	Owner     string    `json:"owner,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	Editable  bool      `json:"editable"`
}

// CannedRequest is POST /api/canned and PUT /api/canned/{id} (nil: keep).
type CannedRequest struct {
	Short *string `json:"short,omitempty"`
	Text  *string `json:"text,omitempty"`
	Scope string  `json:"scope,omitempty"`
	Team  string  `json:"team,omitempty"`
}

// RecordRequest is POST /api/conversations/{id}/lead, …/deal and
// …/notify-sales (Text), all optional; the same ClientID creates once.
type RecordRequest struct {
	Title         string   `json:"title,omitempty"`
	Value         *float64 `json:"value,omitempty"`
	Currency      string   `json:"currency,omitempty"`
	Pipeline      string   `json:"pipeline,omitempty"`
	Stage         string   `json:"stage,omitempty"`
	ExpectedClose string   `json:"expected_close,omitempty"`
	Note          string   `json:"note,omitempty"`
	Text          string   `json:"text,omitempty"`
	Name          string   `json:"name,omitempty"`
	Email         string   `json:"email,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	Owner         string   `json:"owner,omitempty"`
	// Source is a lead's source; "": "inbox".
	Source   string `json:"source,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// RecordResult answers RecordRequest.
type RecordResult struct {
	Record    *Record `json:"record"`
	Duplicate bool    `json:"duplicate"`
	CRM       *Panel  `json:"crm"`
	Notified  string  `json:"notified,omitempty"` // notify-sales: the owner's name
}

// Panel answers GET /api/conversations/{id}/crm.
type Panel struct {
	Match        string        `json:"match"` // conversation, email, phone or none
	Email        string        `json:"email,omitempty"`
	Phone        string        `json:"phone,omitempty"`
	Name         string        `json:"name,omitempty"`
	Person       *PanelRecord  `json:"person"`
	Organization *PanelRecord  `json:"organization"`
	Leads        []PanelRecord `json:"leads"`
	Deals        []PanelRecord `json:"deals"`
	Results      []*Record     `json:"results"`
	Actions      []string      `json:"actions"`
	// Prefill is what the "Create lead" and "Create deal" forms start
	// with, by kind ("lead", "deal"): the fields the playbook's own create
	// cards give, from what the bot has collected so far (title, value,
	// currency, pipeline, stage, expected_close, note, source). A kind the
	// playbook never creates is absent.
	Prefill map[string]*RecordRequest `json:"prefill,omitempty"`
}

// PanelRecord is a record with the fields the panel shows of it.
type PanelRecord struct {
	Record *Record      `json:"record"`
	Fields []PanelField `json:"fields"`
}

// PanelField is one field of a PanelRecord.
type PanelField struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value any    `json:"value"`
}

// PersonUpdate is PUT /api/people/{id} (nil: keep, "": clear).
type PersonUpdate struct {
	Name  *string `json:"name,omitempty"`
	Phone *string `json:"phone,omitempty"`
}

// TaskDone is the body of POST /api/tasks/{id}/done: Done false opens the
// task again; absent (an empty body) or true marks it done.
type TaskDone struct {
	Done *bool `json:"done,omitempty"`
}

// FeedItem is one item of GET /api/people/{id}/feed: a chat or a record.
type FeedItem struct {
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
	Chat   *Chat     `json:"chat,omitempty"`
	Record *Record   `json:"record,omitempty"`
}

// Chat is a conversation in a CRM feed.
type Chat struct {
	Conversation string     `json:"conversation"`
	Playbook     string     `json:"playbook,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	Agent        string     `json:"agent,omitempty"`
	FirstMessage string     `json:"first_message,omitempty"`
	Outcome      string     `json:"outcome,omitempty"`
	Transcript   string     `json:"transcript"`
}
