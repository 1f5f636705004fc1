package protocol

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Frame types. Some names serve both directions or both sockets (typing,
// entry, error, ping, pong); the struct says which.
const (
	// Visitor to server.
	TypeStart        = "start"
	TypeResume       = "resume"
	TypeMessage      = "message"
	TypeButton       = "button"
	TypeTyping       = "typing"
	TypePing         = "ping"
	TypeRating       = "rating"
	TypeTranscript   = "transcript"
	TypeLeaveMessage = "leave_message"
	// Server to visitor.
	TypeWelcome = "welcome"
	TypeEntry   = "entry"
	TypeAck     = "ack"
	TypeStatus  = "status"
	TypeError   = "error"
	TypePong    = "pong"
	TypeRated   = "rated"
	TypeSent    = "sent"
	TypeQueue   = "queue"
	TypePrechat = "prechat"
	// Server to agent (besides entry, typing, error, pong).
	TypeHello        = "hello"
	TypeConversation = "conversation"
	TypeNotify       = "notify"
	TypeRevoked      = "revoked"
	TypeRecord       = "record"
	TypeResync       = "resync"
	// Agent to server (besides typing, ping).
	TypeHeartbeat = "heartbeat"
	TypeFollow    = "follow"
)

// Limits of the visitor websocket (docs/protocol.md, "Limits").
const (
	MaxFrame        = 16 << 10 // bytes; a larger frame gets too_large
	MaxReadLimit    = 1 << 20  // bytes; a larger frame closes the connection (1009)
	MaxText         = 4000     // characters of a message
	MaxClientID     = 100      // bytes of a client message id
	MaxComment      = 1000     // characters of a rating's comment
	MaxLeaveLabel   = 200      // characters of a leave_message label
	SendBuffer      = 64       // frames queued for a slow client before it is dropped
	MaxAgentFrame   = 64 << 10 // bytes the agent feed reads in one frame
	DefaultLeaveMsg = "Leave a message instead"
)

// CloseRestart is the websocket close code (1012, "Service Restart") a
// server closes a visitor's or an agent's socket with when it shuts down
// gracefully (docs/protocol.md, "Restarts"): the client reconnects (any
// server of the deployment), resumes after the last entry it has, and
// sends again, with the same client ids, the messages it had no ack for.
const CloseRestart = 1012

// Visitor to server.
type (
	// Start begins a new conversation.
	Start struct {
		Playbook string   `json:"playbook,omitempty"` // default: the page's trigger, else the server's default
		Page     string   `json:"page,omitempty"`     // path
		Locale   string   `json:"locale,omitempty"`   // browser language, e.g. es-MX
		Visitor  *Visitor `json:"visitor,omitempty"`
		// Previous is the token of the conversation this one follows.
		Previous string `json:"previous,omitempty"`
		// Prechat is the visitor's pre-chat form. A start without it, for
		// a playbook that has a form, is answered with a PrechatForm frame
		// and starts nothing; with it, the server checks every value again
		// (an error frame with code invalid_prechat names the field) and
		// puts them in visitor.name, .email, .phone and .consent.
		Prechat *PrechatValues `json:"prechat,omitempty"`
	}
	// PrechatValues are what the visitor typed into the pre-chat form;
	// "" (false) is a field left empty.
	PrechatValues struct {
		Name    string `json:"name,omitempty"`
		Email   string `json:"email,omitempty"`
		Phone   string `json:"phone,omitempty"`
		Consent bool   `json:"consent,omitempty"`
	}
	// Resume continues a conversation after a reload or reconnect: every
	// entry after After ("" = all) is replayed, then new ones follow.
	Resume struct {
		Token string `json:"token"`
		After string `json:"after"`
	}
	// Message is text the visitor typed. ID is the client message id: a
	// resend with the same id is answered, never run twice.
	Message struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	// Click is a click on one of the bot's buttons (type "button").
	Click struct {
		ID    string `json:"id"`
		Value string `json:"value"`
		Label string `json:"label,omitempty"` // shown in the transcript
	}
	// VisitorTyping says the visitor is typing (relayed to an agent).
	VisitorTyping struct {
		On bool `json:"on"`
	}
	// Ping is a keep-alive, answered with Pong. The same frame serves the
	// agent feed.
	Ping struct{}
	// Rating is the visitor's CSAT after an agent resolved the chat.
	Rating struct {
		Score   int    `json:"score"`             // 1 to 5
		Comment string `json:"comment,omitempty"` // at most MaxComment characters
	}
	// TranscriptRequest asks for the visitor's copy of the transcript by
	// email; answered with Sent or an error.
	TranscriptRequest struct {
		Email string `json:"email"`
		ID    string `json:"id,omitempty"` // echoed in the answer
	}
	// LeaveMessage stops waiting in the queue: the handoff's offline path
	// runs at once.
	LeaveMessage struct {
		Label string `json:"label,omitempty"` // default DefaultLeaveMsg
		ID    string `json:"id,omitempty"`
	}
)

func (*Start) FrameType() string             { return TypeStart }
func (*Resume) FrameType() string            { return TypeResume }
func (*Message) FrameType() string           { return TypeMessage }
func (*Click) FrameType() string             { return TypeButton }
func (*VisitorTyping) FrameType() string     { return TypeTyping }
func (*Ping) FrameType() string              { return TypePing }
func (*Rating) FrameType() string            { return TypeRating }
func (*TranscriptRequest) FrameType() string { return TypeTranscript }
func (*LeaveMessage) FrameType() string      { return TypeLeaveMessage }

// Server to visitor.
type (
	// Welcome says the conversation is ready; keep Token to resume.
	Welcome struct {
		Token        string `json:"token"`
		Conversation string `json:"conversation"`
		Playbook     string `json:"playbook"`
		Bot          Bot    `json:"bot"`
		Locale       string `json:"locale"`
		Status       string `json:"status"`
		// Mail: the server can email transcripts (offer it only then).
		Mail bool `json:"mail"`
	}
	// EntryFrame carries one transcript entry.
	EntryFrame struct {
		Entry Entry `json:"entry"`
	}
	// Ack says the message with client id ID was stored as entry Entry;
	// Duplicate when the id was seen before and nothing ran again.
	Ack struct {
		ID        string `json:"id"`
		Entry     string `json:"entry,omitempty"`
		Duplicate bool   `json:"duplicate"`
	}
	// Typing shows or hides the typing dots of the bot or an agent.
	Typing struct {
		From string `json:"from"` // bot or agent
		On   bool   `json:"on"`
	}
	// Status is the conversation's new state: waiting, handoff, agent,
	// ended, failed (and calling while a call card runs).
	Status struct {
		Status  string `json:"status"`
		Outcome string `json:"outcome,omitempty"`
	}
	// Pong answers Ping.
	Pong struct{}
	// Rated answers a Rating that was stored.
	Rated struct {
		Score int `json:"score"`
	}
	// Sent answers a TranscriptRequest whose mail went out.
	Sent struct {
		ID string `json:"id"`
	}
	// Queue is the visitor's place in the team's queue (1 is next) and,
	// when the team has taken chats from its queue before, how long a
	// chat usually waits there: the median of the team's latest pick-up
	// times, in whole seconds (absent, 0, when there is no such data).
	Queue struct {
		Team            string `json:"team"`
		Position        int    `json:"position"`
		EstimateSeconds int    `json:"estimate_seconds,omitempty"`
	}
	// PrechatForm answers a start without pre-chat values for a playbook
	// that has a form: the widget shows it, then sends start again with
	// Prechat. Texts are in Locale; nothing is stored yet.
	PrechatForm struct {
		Playbook string         `json:"playbook"`
		Bot      Bot            `json:"bot"`
		Locale   string         `json:"locale"`
		Intro    string         `json:"intro,omitempty"`
		Fields   []PrechatField `json:"fields"`
	}
	// PrechatField is one field of a PrechatForm.
	PrechatField struct {
		Name     string `json:"name"`            // name, email, phone or consent
		Label    string `json:"label,omitempty"` // "": the widget's own label
		Input    string `json:"input"`           // text, email, tel or checkbox
		Required bool   `json:"required,omitempty"`
	}
)

// Statuses of a visitor's conversation (Status.Status, Welcome.Status).
const (
	StatusWaiting = "waiting"
	StatusCalling = "calling"
	StatusHandoff = "handoff"
	StatusAgent   = "agent"
	StatusEnded   = "ended"
	StatusFailed  = "failed"
)

func (*Welcome) FrameType() string     { return TypeWelcome }
func (*EntryFrame) FrameType() string  { return TypeEntry }
func (*Ack) FrameType() string         { return TypeAck }
func (*Typing) FrameType() string      { return TypeTyping }
func (*Status) FrameType() string      { return TypeStatus }
func (*Pong) FrameType() string        { return TypePong }
func (*Rated) FrameType() string       { return TypeRated }
func (*Sent) FrameType() string        { return TypeSent }
func (*Queue) FrameType() string       { return TypeQueue }
func (*PrechatForm) FrameType() string { return TypePrechat }

// visitorIn is any frame a visitor sends, decoded in one pass; the typed
// frame is made from it.
type visitorIn struct {
	Type     frameType      `json:"type"`
	Playbook string         `json:"playbook"`
	Page     string         `json:"page"`
	Locale   string         `json:"locale"`
	Visitor  *Visitor       `json:"visitor"`
	Token    string         `json:"token"`
	After    string         `json:"after"`
	ID       string         `json:"id"`
	Text     string         `json:"text"`
	Value    string         `json:"value"`
	Label    string         `json:"label"`
	On       bool           `json:"on"`
	Score    int            `json:"score"`
	Comment  string         `json:"comment"`
	Email    string         `json:"email"`
	Previous string         `json:"previous"`
	Prechat  *PrechatValues `json:"prechat"`
}

// DecodeVisitor checks and decodes one frame a visitor sent (isText: it
// came as a text message). It returns one of *Start, *Resume, *Message,
// *Click, *VisitorTyping, *Ping, *Rating, *TranscriptRequest or
// *LeaveMessage, or an error frame with code bad_json, too_large or
// unknown_type (whose ID is the frame's id, if any). Text fields come
// back as valid UTF-8 without control characters other than newline and
// tab (CleanText); the visitor's name and email too.
func DecodeVisitor(isText bool, data []byte) (Frame, *Error) {
	if !isText {
		return nil, &Error{Code: CodeBadJSON, Message: "frames must be JSON text"}
	}
	if len(data) > MaxFrame {
		return nil, &Error{Code: CodeTooLarge, Message: "frame is larger than 16 KiB"}
	}
	f := visitorIns.Get().(*visitorIn)
	defer visitorIns.Put(f)
	*f = visitorIn{} // json decodes into what pointers hold: none kept
	if err := json.Unmarshal(data, f); err != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "frame is not a JSON object: " + jsonProblem(err)}
	}
	switch f.Type {
	case TypeStart:
		if f.Visitor != nil {
			f.Visitor.Name, f.Visitor.Email = CleanText(f.Visitor.Name), CleanText(f.Visitor.Email)
		}
		if pv := f.Prechat; pv != nil {
			pv.Name, pv.Email, pv.Phone = CleanText(pv.Name), CleanText(pv.Email), CleanText(pv.Phone)
		}
		return &Start{Playbook: f.Playbook, Page: f.Page, Locale: f.Locale, Visitor: f.Visitor, Previous: f.Previous, Prechat: f.Prechat}, nil
	case TypeResume:
		return &Resume{Token: f.Token, After: f.After}, nil
	case TypeMessage:
		return &Message{ID: f.ID, Text: CleanText(f.Text)}, nil
	case TypeButton:
		return &Click{ID: f.ID, Value: CleanText(f.Value), Label: CleanText(f.Label)}, nil
	case TypeTyping:
		return &VisitorTyping{On: f.On}, nil
	case TypePing:
		return &Ping{}, nil
	case TypeRating:
		return &Rating{Score: f.Score, Comment: CleanText(f.Comment)}, nil
	case TypeTranscript:
		return &TranscriptRequest{Email: f.Email, ID: f.ID}, nil
	case TypeLeaveMessage:
		return &LeaveMessage{Label: CleanText(f.Label), ID: f.ID}, nil
	case "":
		return nil, &Error{Code: CodeUnknownType, Message: "frame has no type", ID: f.ID}
	}
	return nil, &Error{Code: CodeUnknownType, Message: "unknown frame type " + strconv.Quote(Truncate(string(f.Type), 40)), ID: f.ID}
}

// visitorIns keeps the records DecodeVisitor reads frames into (a few
// hundred bytes each, one a visitor frame); the frame it returns holds
// their strings and pointers, never the record.
var visitorIns = sync.Pool{New: func() any { return new(visitorIn) }}

// frameType is a visitor frame's "type": a known one is the constant
// (TypeMessage...), not a string decoded for every frame.
type frameType string

// visitorTypes are the types DecodeVisitor knows.
var visitorTypes = []string{TypeStart, TypeResume, TypeMessage, TypeButton, TypeTyping, TypePing, TypeRating, TypeTranscript, TypeLeaveMessage}

func (t *frameType) UnmarshalJSON(b []byte) error {
	if len(b) > 2 && b[0] == '"' && b[len(b)-1] == '"' {
		for _, k := range visitorTypes {
			if string(b[1:len(b)-1]) == k { // compared without a copy
				*t = frameType(k)
				return nil
			}
		}
	}
	var s string // escapes, another type, null: as a plain string field
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = frameType(s)
	return nil
}

// checkID refuses a missing or over-long client message id.
func checkID(id string) *Error {
	if id == "" || len(id) > MaxClientID {
		return &Error{Code: CodeInvalid, Message: "a message needs an id (at most 100 characters)"}
	}
	return nil
}

// checkText refuses an empty or over-long text; text is trimmed already.
func checkText(text, id string) *Error {
	if text == "" {
		return &Error{Code: CodeInvalid, Message: "the message is empty", ID: id}
	}
	if utf8.RuneCountInString(text) > MaxText || !utf8.ValidString(text) {
		return &Error{Code: CodeInvalid, Message: "the message must be valid text of at most 4000 characters", ID: id}
	}
	return nil
}

// Check validates a message and returns the text to store: trimmed, not
// empty, at most MaxText characters, with an id of at most MaxClientID.
func (m *Message) Check() (string, *Error) {
	if err := checkID(m.ID); err != nil {
		return "", err
	}
	text := strings.TrimSpace(m.Text)
	if err := checkText(text, m.ID); err != nil {
		return "", err
	}
	return text, nil
}

// Check validates a button click and returns the text to store: its
// label, else its value, trimmed. The value must not be empty.
func (b *Click) Check() (string, *Error) {
	if err := checkID(b.ID); err != nil {
		return "", err
	}
	if b.Value == "" {
		return "", &Error{Code: CodeInvalid, Message: "a button frame needs a value", ID: b.ID}
	}
	text := b.Label
	if text == "" {
		text = b.Value
	}
	text = strings.TrimSpace(text)
	if err := checkText(text, b.ID); err != nil {
		return "", err
	}
	return text, nil
}

// Check validates a rating: a score from 1 to 5, a comment of at most
// MaxComment characters. (The server asks its store too: a rating also
// needs a resolved, unrated conversation.)
func (r *Rating) Check() *Error {
	if r.Score < 1 || r.Score > 5 || utf8.RuneCountInString(r.Comment) > MaxComment {
		return &Error{Code: CodeInvalid, Message: "a rating is a score from 1 to 5 and a comment of at most 1,000 characters"}
	}
	return nil
}

// Check validates a leave_message frame and returns the label to store:
// at most MaxLeaveLabel characters, trimmed, DefaultLeaveMsg when empty.
func (l *LeaveMessage) Check() (string, *Error) {
	if len(l.ID) > MaxClientID {
		return "", &Error{Code: CodeInvalid, Message: "an id has at most 100 characters"}
	}
	label := strings.TrimSpace(Truncate(l.Label, MaxLeaveLabel))
	if label == "" {
		label = DefaultLeaveMsg
	}
	return label, nil
}

// CleanText drops control characters other than newline and tab, and
// replaces invalid UTF-8 with U+FFFD.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// Truncate returns s cut to n characters, with "…" when it was longer.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// jsonProblem says what is wrong with a frame, without echoing it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return "cannot decode"
}
