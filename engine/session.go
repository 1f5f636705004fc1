package engine

import (
	"time"

	"github.com/playbook-dev/playbook/dsl/source"
)

// Status is where a session stands.
type Status string

// Session statuses.
const (
	StatusNew     Status = ""        // not started
	StatusWaiting Status = "waiting" // the bot asked and waits for the visitor
	StatusCalling Status = "calling" // waiting for an HTTP call's result
	StatusHandoff Status = "handoff" // queued for an agent; bot silent
	StatusAgent   Status = "agent"   // an agent owns the chat; bot silent
	StatusEnded   Status = "ended"   // the bot part is over
	StatusFailed  Status = "failed"  // a runtime error stopped the bot
)

// Session is one conversation's interpreter state. It is plain data: it
// round-trips through encoding/json, and a session encoded on one process can
// be stepped on another that has loaded the same program version.
type Session struct {
	ID       string `json:"id"`
	Playbook string `json:"playbook"`
	Version  string `json:"version"` // Program.Hash at start
	Status   Status `json:"status"`
	// Card is the index of the card the session waits at (or last ran).
	Card    int    `json:"card"`
	Tries   int    `json:"tries,omitempty"`   // invalid answers to the current question
	Locale  string `json:"locale"`            // the locale texts are shown in
	Outcome string `json:"outcome,omitempty"` // set by an end card
	// Turn counts the events the session has taken; idempotency keys of
	// created records and timers include it.
	Turn    int            `json:"turn"`
	Vars    map[string]any `json:"vars,omitempty"`
	Visitor Visitor        `json:"visitor"`
	// Variants maps an experiment's name to the variant the session is in,
	// once the session has reached it (or a test pinned it). A name here
	// that the experiment has is kept; otherwise [AssignVariant] decides.
	Variants map[string]string `json:"variants,omitempty"`
	// Timer is the id of the pending timer the session waits for, if any.
	Timer string `json:"timer,omitempty"`
	// Call is the id of the pending HTTP call while Status is StatusCalling;
	// an EventCallResult with another id is stale and ignored.
	Call string `json:"call,omitempty"`
	// Agent is the agent who owns the chat while Status is StatusAgent.
	Agent string `json:"agent,omitempty"`
	// FirstMessage is the visitor's first message (cut to 200
	// characters), kept by the service that stores the turns (the engine
	// does not read it) so that the CRM's feed need not read the
	// transcript back for it.
	FirstMessage string    `json:"first_message,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Funnel is what the funnel rollup has counted of the session, kept by
	// the service (the engine does not read it) when the store counts each
	// turn's facts in the turn's own atomic write: the session at the
	// version a turn replaces then tells which of the turn's facts are new,
	// with no record of them in the rollup. nil: the rollup keeps that
	// record (a session stored before, or a store that folds after the
	// turn). Never changed in place (Clone shares it): a turn that counts
	// facts sets a new one.
	Funnel *FunnelCounted `json:"funnel,omitempty"`
}

// FunnelCounted is Session.Funnel: the names of the funnel facts counted,
// and when those happened that a later fact is timed from.
type FunnelCounted struct {
	Facts []string `json:"f,omitempty"`
	// At holds when such a fact happened, in milliseconds after the
	// session's StartedAt (to the millisecond); it is dropped once the
	// fact timed from it is counted.
	At FunnelTimes `json:"t,omitempty"`
}

// Visitor is what the widget and server know about the visitor. Playbook
// expressions read it as `visitor.name`, `visitor.page` and so on.
type Visitor struct {
	ID        string            `json:"id,omitempty" expr:"id"`
	Name      string            `json:"name,omitempty" expr:"name"`
	Email     string            `json:"email,omitempty" expr:"email"`
	Phone     string            `json:"phone,omitempty" expr:"phone"`         // from the pre-chat form
	Consent   bool              `json:"consent,omitempty" expr:"consent"`     // the pre-chat form's consent box was ticked
	Page      string            `json:"page,omitempty" expr:"page"`           // path of the current page
	Referrer  string            `json:"referrer,omitempty" expr:"referrer"`   // document.referrer
	Language  string            `json:"language,omitempty" expr:"language"`   // browser language, e.g. "es-MX"
	Country   string            `json:"country,omitempty" expr:"country"`     // ISO code, when known
	Returning bool              `json:"returning,omitempty" expr:"returning"` // has chatted or visited before
	Visits    int               `json:"visits,omitempty" expr:"visits"`
	UTM       map[string]string `json:"utm,omitempty" expr:"utm"` // utm_source etc. without the prefix
}

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventStart       EventKind = "start"        // the visitor opened the chat
	EventText        EventKind = "text"         // the visitor typed a message
	EventButton      EventKind = "button"       // the visitor clicked a choice (Button = its value)
	EventAgentJoined EventKind = "agent_joined" // an agent took the chat
	EventAgentLeft   EventKind = "agent_left"   // the agent closed or left the chat
	EventTimer       EventKind = "timer"        // a timer set by an effect fired (Timer = its id)
	EventCallResult  EventKind = "call_result"  // an HTTP call finished (Call)
	EventResume      EventKind = "resume"       // an agent handed back to the bot at Card
)

// Event is one input to Step.
type Event struct {
	Kind   EventKind
	Text   string // EventText
	Button string // EventButton: the choice's value (or label)
	Agent  string // EventAgentJoined, EventAgentLeft
	Timer  string // EventTimer
	Call   *CallResult
	Card   string // EventResume: the card to resume at
	// Now is the time of the event; it drives now() and timers.
	Now time.Time
	// Online is the number of agents online per team, for handoff cards and
	// agents_online(). A team missing from the map has nobody online.
	Online map[string]int
	// Open says which teams are within their opening hours, for open_hours().
	Open map[string]bool
	// Visitor and Locale are read on EventStart. Locale is matched to the
	// program's locales ("es-MX" picks "es"); empty picks the default.
	Visitor *Visitor
	Locale  string
	// Intent, on EventText at an intent card, is the caller's guess of what
	// the message means (from its own [IntentMatcher]); nil uses the
	// built-in matcher.
	Intent *IntentGuess
}

// CallResult is the outcome of an HTTP call effect.
type CallResult struct {
	ID     string `json:"id"`
	Status int    `json:"status"`          // HTTP status; 0 when the request failed
	Body   any    `json:"body,omitempty"`  // decoded JSON body
	Error  string `json:"error,omitempty"` // transport error or timeout
}

// EffectKind says what the caller must do.
type EffectKind string

// Effect kinds.
const (
	EffectSay     EffectKind = "say"     // show Text (with Buttons, Image, Links)
	EffectWait    EffectKind = "wait"    // the bot now waits for the visitor (Input, Buttons)
	EffectHandoff EffectKind = "handoff" // queue the chat for Handoff.Team
	EffectAway    EffectKind = "away"    // Handoff.Team was away: the offline path runs; the chat belongs to that team, unqueued
	EffectCreate  EffectKind = "create"  // create Record
	EffectCall    EffectKind = "call"    // make HTTP call Call; answer with EventCallResult
	EffectTimer   EffectKind = "timer"   // set Timer; answer with EventTimer when due
	EffectCancel  EffectKind = "cancel"  // cancel the timer Timer.ID
	EffectEnd     EffectKind = "end"     // the bot part ended with Outcome
	EffectVariant EffectKind = "variant" // the session went into Variant of an experiment, the first time it reached it (record it for the funnel)
	EffectError   EffectKind = "error"   // a runtime error stopped the bot (Error)
)

// Effect is one thing the caller must carry out, in order.
type Effect struct {
	Kind    EffectKind      `json:"kind"`
	Card    string          `json:"card,omitempty"` // the card that produced it
	Text    string          `json:"text,omitempty"`
	Locale  string          `json:"locale,omitempty"`
	Image   string          `json:"image,omitempty"`
	Links   []LinkOut       `json:"links,omitempty"`
	Buttons []Button        `json:"buttons,omitempty"`
	Input   InputType       `json:"input,omitempty"`
	Handoff *HandoffRequest `json:"handoff,omitempty"`
	Record  *Record         `json:"record,omitempty"`
	Call    *CallRequest    `json:"call,omitempty"`
	Timer   *Timer          `json:"timer,omitempty"`
	Outcome string          `json:"outcome,omitempty"`
	Variant *VariantChoice  `json:"variant,omitempty"`
	Error   *RuntimeError   `json:"error,omitempty"`
}

// VariantChoice is the variant of an experiment a session went into.
type VariantChoice struct {
	Experiment string `json:"experiment"`
	Variant    string `json:"variant"`
}

// Button is one clickable choice.
type Button struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// LinkOut is a rendered link button.
type LinkOut struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// HandoffRequest asks the caller to queue the chat for a team.
type HandoffRequest struct {
	Team     string        `json:"team"`
	Wait     time.Duration `json:"wait"`
	Priority string        `json:"priority,omitempty"`
}

// Record is a CRM record to create. Key is an idempotency key derived from
// the session, card and turn: creating the same key twice must create once.
type Record struct {
	Kind   RecordKind     `json:"kind"`
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields"`
}

// CallRequest is an HTTP call to make. The caller enforces the host
// allow-list; the engine only renders the request.
type CallRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    map[string]any    `json:"body,omitempty"`
	Timeout time.Duration     `json:"timeout"`
}

// Timer asks the caller to send EventTimer with ID at At.
type Timer struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// RuntimeError is an error while running a card, with the card's position.
type RuntimeError struct {
	Card string       `json:"card"`
	Pos  source.Range `json:"pos"`
	Msg  string       `json:"message"`
}

func (e *RuntimeError) Error() string {
	return e.Pos.String() + ": runtime error in card " + e.Card + ": " + e.Msg
}
