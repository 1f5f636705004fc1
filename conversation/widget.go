package conversation

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// The visitor side of the service: one Widget per visitor connection.
// The transport (package server's websocket) decodes a frame, calls one
// Widget method and sends the frames the Widget pushes; an error returned
// goes out as Problem(err, id).

// TurnTimeout bounds a visitor's turn (start, message, leave a message).
const TurnTimeout = 15 * time.Second

// errEnded: the conversation of a resume or a turn is not stored (any
// more).
var errEnded = refuse(store.ErrNotFound, "this conversation has ended or expired; start a new one")

// queueEvery is how often a waiting visitor's place in the team's queue is
// read again; a new place is sent as soon as it is seen.
const queueEvery = 2 * time.Second

// Frames is where a widget's frames go: its connection.
type Frames interface {
	// Push queues a frame. It must not block: a client too slow to take
	// its frames is dropped (it resumes from its last entry).
	Push(protocol.Frame)
	// Flush sends the frames queued so far now, without waiting for the
	// end of the visitor frame being handled.
	Flush()
}

// Drainer is a Frames that holds a bounded number of frames (a client too
// slow to take more is dropped) and can wait until they are written: a
// widget sends a long catch-up (a resume of a long conversation) in parts,
// each drained before the next, so that it never holds more than a part.
type Drainer interface {
	Frames
	// Drain sends the frames queued so far and waits until they are
	// written (or ctx is done, or the connection ends: an error).
	Drain(ctx context.Context) error
}

// catchUpPart is how many entries a widget delivers before it drains its
// Drainer: well under protocol.SendBuffer frames, with room for the
// frames around them (the welcome, the status).
const catchUpPart = protocol.SendBuffer / 2

// FrameEncoder is a Frames that is done with a frame when Push returns
// (it encodes the frame at once, as serve's connection does): a widget
// may push it a frame of its own that it reuses, instead of one made for
// each push. A Frames without it may keep what it is pushed.
type FrameEncoder interface {
	Frames
	EncodesOnPush()
}

// TurnFlusher is a Frames that can send the frames queued so far on the
// goroutine that handles the visitor's frame, rather than hand them to a
// writer goroutine (one goroutine switch less a turn). A widget calls
// FlushTurn, when its Frames has it, only from that goroutine, where a
// turn's answer is complete (the greeting, the answer to a message); what
// else flushes (the hub's resync, the queue's place) calls Flush.
type TurnFlusher interface {
	FlushTurn()
}

// flushTurn sends the answer of the visitor frame being handled: called
// on the goroutine that handles it (TurnFlusher).
func (v *Widget) flushTurn() {
	if f, ok := v.out.(TurnFlusher); ok {
		f.FlushTurn()
		return
	}
	v.out.Flush()
}

// Allow are a widget's rate limits, which its transport keeps: each
// reports whether one more frame of its kind may be handled now. Nil
// allows everything.
type Allow struct {
	// Message: messages, clicks, leaving a message, ratings.
	Message func() bool
	// Mail: transcript requests (each costs store reads even when
	// refused; the mails themselves are bounded by the Quota).
	Mail func() bool
}

// WidgetsConfig is what the widgets of a process share.
type WidgetsConfig struct {
	// Hub brings the entries other processes store; required.
	Hub *Hub
	// Tokens signs and checks the visitors' session tokens; required.
	Tokens *Tokens
}

// Widgets makes the Widget of each visitor connection.
type Widgets struct {
	svc *Service
	cfg WidgetsConfig
}

// Widgets returns the visitor side of the service on cfg.
func (s *Service) Widgets(cfg WidgetsConfig) (*Widgets, error) {
	switch {
	case cfg.Hub == nil:
		return nil, errors.New("conversation: widgets without a hub")
	case cfg.Tokens == nil:
		return nil, errors.New("conversation: widgets without tokens")
	}
	return &Widgets{svc: s, cfg: cfg}, nil
}

// Tokens returns the visitors' session tokens.
func (ws *Widgets) Tokens() *Tokens { return ws.cfg.Tokens }

// Open returns the widget of a new connection, whose frames go to out.
// Close it when the connection ends.
func (ws *Widgets) Open(out Frames, allow Allow, log *slog.Logger) *Widget {
	if allow.Message == nil {
		allow.Message = func() bool { return true }
	}
	if allow.Mail == nil {
		allow.Mail = func() bool { return true }
	}
	if log == nil {
		log = ws.svc.log
	}
	return &Widget{ws: ws, svc: ws.svc, out: out, allow: allow, log: log, done: make(chan struct{})}
}

// Widget is one visitor connection's side of the conversation it follows:
// what it has been sent (each entry once, in order, as the visitor may
// see it: VisitorEntries), whether an agent is in the chat, the watch of
// its place in the queue.
type Widget struct {
	ws    *Widgets
	svc   *Service
	out   Frames
	allow Allow
	log   *slog.Logger

	mu       sync.Mutex
	conv     string
	ch       string           // conv's channel (Service.Channel), once attached
	lastSent protocol.EntryID // the newest entry sent; older ones are not sent again
	// version is the session version whose entries, and every earlier
	// one's, this widget has sent (0: not known). A turn of its own that
	// finds another turn in between (another tab, an agent, a timer, whose
	// entries the hub may not have brought yet) catches up from the
	// transcript instead of sending only its own entries (deliverTurn).
	version  int64
	closed   bool
	agent    bool   // an agent joined the conversation: typing is relayed
	resolved bool   // an agent resolved it: the next message starts a new one
	queueGen uint64 // counts watchQueue calls: a newer watch ends the older loop
	// own is set while a turn of the widget's own is being stored: what
	// the hub brings meanwhile is held until the turn's entries are sent,
	// so that the turn's own echo (which usually comes first) is known by
	// its last entry id and dropped without being decoded.
	own  bool
	held []string
	done chan struct{}
	// frame is the entry frame deliver pushes, reused, to a FrameEncoder
	// (cleared after each push: it keeps no entry alive).
	frame protocol.EntryFrame
}

// maxHeld bounds the payloads held during a turn of the widget's own;
// past it they are handled as they come.
const maxHeld = 64

// Close stops following the conversation; later calls do nothing.
func (v *Widget) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	conv := v.conv
	close(v.done)
	v.mu.Unlock()
	if conv != "" {
		v.ws.cfg.Hub.Detach(v.svc.Channel(conv), v)
	}
}

// Conversation returns the id of the conversation followed ("" before
// start or resume).
func (v *Widget) Conversation() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conv
}

// Start begins a conversation on prog (Registry.Pick; nil: none applies,
// and the error names the playbook f asked for) and follows it: the
// welcome, the greeting and the status go out as soon as it is stored,
// before the first step's effects run.
func (v *Widget) Start(ctx context.Context, prog *engine.Program, f *protocol.Start) error {
	if prog == nil {
		return &NoPlaybookError{Name: f.Playbook}
	}
	tctx, cancel := context.WithTimeout(ctx, TurnTimeout)
	defer cancel()
	vis := VisitorFrom(f.Page, f.Locale, f.Visitor)
	switch {
	case f.Prechat != nil:
		if perr := ApplyPrechat(prog, f.Prechat, vis, v.svc.now()); perr != nil {
			return perr
		}
	case prog.Prechat != nil: // the form first; nothing is stored yet
		v.out.Push(PrechatForm(prog, f.Locale, vis, v.svc.now()))
		return nil
	}
	req := StartRequest{Program: prog, Locale: f.Locale, Visitor: *vis, Previous: v.previous(ctx, f.Previous)}
	v.holdLive()
	defer v.releaseLive() // when the start failed
	sess, _, err := v.svc.Start(tctx, req, func(sess *engine.Session, res store.Result) {
		// The conversation is new: its entries are the ones just stored,
		// so following it needs no read. It is followed before the effects
		// run, so what they add later (a call's result) comes live.
		v.welcome(prog, sess)
		_ = v.attach(ctx, sess.ID, "")
		v.deliver(res.Entries)
		v.releaseLive() // the greeting's echo is dropped unread
		v.setVersion(res.Version)
		v.status(sess.Status, sess.Outcome)
		v.flushTurn() // the greeting goes out now; the effects follow
	})
	if err != nil {
		v.log.Error("creating conversation", "err", err)
		return &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	if sess.Status == engine.StatusHandoff { // the first card handed off
		v.watchQueue(sess.ID, "", 0)
	}
	return nil
}

// previous returns the conversations a new one follows: the one whose
// token the widget sent (when valid), and those before it.
func (v *Widget) previous(ctx context.Context, token string) []string {
	if token == "" {
		return nil
	}
	prev, err := v.ws.cfg.Tokens.Verify(ctx, token, v.svc.now())
	if err != nil {
		return nil
	}
	out := []string{prev}
	if m, err := v.svc.inbox.Conversation(ctx, prev); err == nil {
		out = append(out, m.Previous...)
	}
	return out
}

// restart begins a new conversation for the same visitor on the same
// playbook (its live version), linked to prev, and follows it.
func (v *Widget) restart(ctx context.Context, prev string) (string, error) {
	old, _, err := v.svc.store.Load(ctx, prev)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", refuse(store.ErrNotFound, "this conversation has expired; start a new one")
		}
		return "", &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	prog, ok := v.svc.reg.Current(old.Playbook)
	if !ok {
		return "", ErrPlaybookGone
	}
	previous := []string{prev}
	if m, err := v.svc.inbox.Conversation(ctx, prev); err == nil {
		previous = append(previous, m.Previous...)
	}
	sess, res, err := v.svc.Start(ctx, StartRequest{Program: prog, Locale: old.Locale, Visitor: old.Visitor, Previous: previous}, nil)
	if err != nil {
		return "", &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	v.log.Info("conversation started again after resolve", "conversation", sess.ID, "previous", prev)
	v.welcome(prog, sess)
	if err := v.follow(ctx, sess.ID, ""); err != nil {
		return "", &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	v.setVersion(res.Version) // the catch-up read after the create
	return sess.ID, nil
}

// Resume follows the conversation of f's token again: the welcome, the
// entries after f.After, the status, and from then on every new entry.
func (v *Widget) Resume(ctx context.Context, f *protocol.Resume) error {
	conv, err := v.ws.cfg.Tokens.Verify(ctx, f.Token, v.svc.now())
	if err != nil {
		return err
	}
	sess, version, err := v.svc.store.Load(ctx, conv)
	if errors.Is(err, store.ErrNotFound) {
		return errEnded
	}
	if err != nil {
		v.log.Error("loading conversation", "conversation", conv, "err", err)
		return &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	prog, err := v.svc.reg.Version(ctx, sess.Version)
	if err != nil {
		v.log.Error("conversation's playbook version", "conversation", conv, "err", err)
		return &unavailableError{msg: "this conversation's playbook version is not available", err: err}
	}
	v.welcome(prog, sess)
	if err := v.follow(ctx, conv, f.After); err != nil {
		v.log.Error("resuming conversation", "conversation", conv, "err", err)
		return &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	// The catch-up read the transcript after the load: it holds every
	// entry of that version and the ones before.
	v.setVersion(version)
	meta, err := v.svc.inbox.Conversation(ctx, conv)
	v.mu.Lock()
	v.agent = v.agent || sess.Status == engine.StatusAgent || sess.Status == engine.StatusHandoff
	v.resolved = v.resolved || (err == nil && meta.Status == handoff.StatusResolved)
	v.mu.Unlock()
	v.status(sess.Status, sess.Outcome)
	if sess.Status == engine.StatusHandoff {
		v.watchQueue(conv, "", 0)
	}
	return nil
}

func (v *Widget) welcome(prog *engine.Program, sess *engine.Session) {
	v.out.Push(&protocol.Welcome{
		Token: v.ws.cfg.Tokens.Sign(sess.ID, v.svc.now()), Conversation: sess.ID, Playbook: prog.ID,
		Bot:    protocol.Bot{Name: prog.Bot.Name, Avatar: prog.Bot.Avatar, Color: prog.Bot.Color},
		Locale: sess.Locale, Status: string(sess.Status),
		Mail: v.svc.MailOn(), // the transcript frame can work: offer "Email me the transcript"
	})
}

func (v *Widget) status(st engine.Status, outcome string) {
	v.out.Push(statusFrame(st, outcome))
}

// statusFrames are the status frames without an outcome, one a status,
// shared by every widget: a frame pushed is only read (encoded).
var statusFrames = func() map[engine.Status]*protocol.Status {
	m := map[engine.Status]*protocol.Status{}
	for _, st := range []engine.Status{engine.StatusNew, engine.StatusWaiting, engine.StatusCalling,
		engine.StatusHandoff, engine.StatusAgent, engine.StatusEnded, engine.StatusFailed} {
		m[st] = &protocol.Status{Status: string(st)}
	}
	return m
}()

// statusFrame is the status frame of st and outcome.
func statusFrame(st engine.Status, outcome string) *protocol.Status {
	if f, ok := statusFrames[st]; ok && outcome == "" {
		return f
	}
	return &protocol.Status{Status: string(st), Outcome: outcome}
}

// Message runs a visitor's message.
func (v *Widget) Message(ctx context.Context, f *protocol.Message) error {
	return v.message(ctx, f.ID, f.Check, engine.Event{Kind: engine.EventText, Text: f.Text})
}

// Click runs a visitor's button click.
func (v *Widget) Click(ctx context.Context, f *protocol.Click) error {
	return v.message(ctx, f.ID, f.Check, engine.Event{Kind: engine.EventButton, Button: f.Value})
}

// message runs a visitor's message or button click (client message id
// id): check validates the frame and gives the text to store, ev is the
// engine's event. The ack, the bot's answer and the status go out as soon
// as the turn is stored; its side effects (records, the handoff queue)
// run after.
func (v *Widget) message(ctx context.Context, id string, check func() (string, *protocol.Error), ev engine.Event) error {
	conv := v.Conversation()
	if conv == "" {
		return ErrNoConversation
	}
	v.mu.Lock()
	resolved := v.resolved
	v.mu.Unlock()
	if resolved {
		// A message after an agent closed the chat reopens it when its
		// team's policy says so; else it starts a new conversation that
		// links to the previous ones.
		reopened, err := v.svc.ReopenByVisitor(ctx, conv)
		if err != nil {
			v.log.Error("reopening a resolved chat", "conversation", conv, "err", err)
			return &unavailableError{msg: "the store did not answer; try again", err: err}
		}
		if reopened {
			v.mu.Lock()
			v.resolved = false
			v.mu.Unlock()
			resolved = false
			// A chat nobody had goes back to its team's queue: the
			// visitor's place in it (nothing when it is not queued).
			v.watchQueue(conv, "", 0)
		}
	}
	if resolved {
		next, err := v.restart(ctx, conv)
		if err != nil {
			return err
		}
		conv = next
	}
	text, fe := check()
	if fe != nil {
		return fe
	}
	if !v.allow.Message() {
		return refuse(ErrTooFast, "slow down: too many messages")
	}
	entry := store.Entry{From: "visitor", Kind: "message", Text: text, ClientID: id, At: v.svc.now().UTC()}
	tctx, cancel := context.WithTimeout(ctx, TurnTimeout)
	defer cancel()
	v.holdLive()
	defer v.releaseLive() // when the turn failed before its answer
	// Nobody else here following the conversation, the turn may go
	// unpublished (when no other process hears it either): this widget
	// sends its entries itself, and catches up a follower that came
	// meanwhile.
	ch := v.channel(conv)
	quiet := v.ws.cfg.Hub.Alone(ch, v)
	_, _, err := v.svc.TurnThenQuiet(tctx, conv, id, ev, []store.Entry{entry}, quiet, func(res store.Result, info TurnInfo) {
		if quiet {
			v.ws.cfg.Hub.CatchUpOthers(ch, v)
		}
		v.pushAck(id, res)
		v.deliverTurn(ctx, conv, res)
		v.releaseLive()
		if !res.Duplicate {
			v.status(info.Status, info.Outcome)
			if info.Queued != nil && info.Status == engine.StatusHandoff {
				v.watchQueueWith(conv, info.Queued.Team, info.Queued.QueuePosition, info.QueueWaits)
			}
		}
		v.flushTurn()
	})
	if errors.Is(err, store.ErrNotFound) {
		return errEnded
	}
	if err != nil {
		v.log.Error("visitor turn", "conversation", conv, "err", err)
		return &unavailableError{msg: "the message was not stored; send it again", err: err}
	}
	return nil
}

// pushAck pushes the ack of the visitor's message id, which turn res
// stored (or found a duplicate). A FrameEncoder is pushed a pooled frame
// (it is done with it when Push returns), not a field of the widget's:
// an idle widget keeps no room for it; any other Frames an ack of its own,
// which it may keep.
func (v *Widget) pushAck(id string, res store.Result) {
	var entry string
	if len(res.Entries) > 0 {
		entry = res.Entries[0].ID
	}
	if _, encodes := v.out.(FrameEncoder); !encodes {
		v.out.Push(&protocol.Ack{ID: id, Entry: entry, Duplicate: res.Duplicate})
		return
	}
	a := ackFrames.Get().(*protocol.Ack)
	*a = protocol.Ack{ID: id, Entry: entry, Duplicate: res.Duplicate}
	v.out.Push(a)
	*a = protocol.Ack{} // keeps no message id alive
	ackFrames.Put(a)
}

// ackFrames are the ack frames pushAck pushes to a FrameEncoder.
var ackFrames = sync.Pool{New: func() any { return new(protocol.Ack) }}

// Typing relays the visitor's typing to the agent in the chat (to nobody
// while the bot talks).
func (v *Widget) Typing(ctx context.Context, on bool) error {
	conv := v.Conversation()
	if conv == "" {
		return ErrNoConversation
	}
	v.mu.Lock()
	withAgent := v.agent && !v.resolved
	v.mu.Unlock()
	if withAgent {
		v.svc.PublishSignal(ctx, conv, Signal{Type: "typing", From: "visitor", On: on})
	}
	return nil
}

// Rate stores the visitor's rating of a resolved chat and answers rated.
// A rating may replace the chat's earlier one for a while (the star
// click, then the comment: handoff.Store.Rate), so each counts against
// the Message limit.
func (v *Widget) Rate(ctx context.Context, f *protocol.Rating) error {
	conv := v.Conversation()
	if conv == "" {
		return ErrNoConversation
	}
	if !v.allow.Message() {
		return refuse(ErrTooFast, "slow down: too many messages")
	}
	_, err := v.svc.Rate(ctx, conv, f.Score, f.Comment)
	switch {
	case errors.Is(err, handoff.ErrNotResolved), errors.Is(err, handoff.ErrRated):
		return err
	case errors.Is(err, handoff.ErrNotFound):
		return refuse(err, "this conversation cannot be found")
	case errors.Is(err, handoff.ErrInvalid):
		return refuse(err, "a rating is a score from 1 to 5 and a comment of at most 1,000 characters")
	case err != nil:
		v.log.Warn("storing a rating", "conversation", conv, "err", err)
		return &unavailableError{msg: "the rating could not be stored; send it again", err: err}
	}
	v.out.Push(&protocol.Rated{Score: f.Score})
	return nil
}

// Transcript emails the conversation to the visitor, as the service
// allows (Service.MailVisitorTranscript: once it is over, to the
// visitor's own address, a few times), and answers sent.
func (v *Widget) Transcript(ctx context.Context, f *protocol.TranscriptRequest) error {
	conv := v.Conversation()
	if conv == "" {
		return ErrNoConversation
	}
	if !v.svc.MailOn() {
		return refuse(ErrNoMail, "email is not set up on this server")
	}
	if !v.allow.Mail() {
		return ErrTooFast
	}
	if err := v.svc.MailVisitorTranscript(ctx, conv, f.Email); err != nil {
		if ProblemOf(err) == nil {
			v.log.Warn("transcript mail", "conversation", conv, "err", err)
		}
		return err
	}
	v.out.Push(&protocol.Sent{ID: f.ID})
	return nil
}

// LeaveMessage is the waiting visitor's "leave a message instead" (see
// Service.LeaveMessage).
func (v *Widget) LeaveMessage(ctx context.Context, f *protocol.LeaveMessage) error {
	conv := v.Conversation()
	if conv == "" {
		return ErrNoConversation
	}
	if _, fe := f.Check(); fe != nil { // the label is the service's to shape
		return fe
	}
	if !v.allow.Message() {
		return ErrTooFast
	}
	tctx, cancel := context.WithTimeout(ctx, TurnTimeout)
	defer cancel()
	err := v.svc.LeaveMessage(tctx, conv, f.ID, f.Label, func(res store.Result, info TurnInfo) {
		v.deliverTurn(tctx, conv, res)
		if !res.Duplicate {
			v.status(info.Status, info.Outcome)
		}
		v.flushTurn()
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errEnded
	case errors.Is(err, ErrNotWaiting):
		return err
	case err != nil:
		v.log.Error("leaving a message instead of waiting", "conversation", conv, "err", err)
		return &unavailableError{msg: "the store did not answer; try again", err: err}
	}
	return nil
}

// follow makes the widget follow conversation conv: it subscribes to its
// live entries, then catches up on anything stored after the last entry
// the client has, so nothing published in between is missed.
func (v *Widget) follow(ctx context.Context, conv, after string) error {
	if err := v.attach(ctx, conv, after); err != nil {
		return err
	}
	return v.catchUp(ctx, conv)
}

// setVersion records that the widget has sent every entry of session
// version n and the ones before.
func (v *Widget) setVersion(n int64) {
	v.mu.Lock()
	v.version = n
	v.mu.Unlock()
}

// deliverTurn sends the entries of a turn of the widget's own. When
// another turn came in between (its version is not the next one), that
// turn's entries may still be on their way through the hub, and would be
// dropped as older than these once these are sent: the widget then
// catches up from the transcript, which holds both, in order.
func (v *Widget) deliverTurn(ctx context.Context, conv string, res store.Result) {
	if res.Duplicate || res.Version == 0 {
		v.deliver(res.Entries)
		return
	}
	v.mu.Lock()
	next := v.version != 0 && res.Version == v.version+1
	v.mu.Unlock()
	if next {
		v.deliver(res.Entries)
		v.setVersion(res.Version)
		return
	}
	if err := v.catchUp(ctx, conv); err != nil {
		// The hub still brings the other turn's entries; only their
		// order may suffer.
		v.log.Warn("catching up after a concurrent turn", "conversation", conv, "err", err)
		v.deliver(res.Entries)
		return
	}
	v.setVersion(res.Version)
}

// catchUp sends the stored entries of conv after the last one sent. It
// reads them all before sending, so a message deleted later in the
// transcript goes out without its text (RedactDeleted).
func (v *Widget) catchUp(ctx context.Context, conv string) error {
	after := v.lastID()
	var all []store.Entry
	for {
		entries, err := v.svc.store.Transcript(ctx, conv, after, 500)
		if err != nil {
			return err
		}
		all = append(all, entries...)
		if len(entries) < 500 {
			break
		}
		after = entries[len(entries)-1].ID
	}
	d, parts := v.out.(Drainer)
	if !parts || len(all) <= catchUpPart {
		v.deliver(all)
		return nil
	}
	// A long catch-up: in parts, each written before the next is queued
	// (more than the connection holds at once would drop the visitor).
	for len(all) > 0 {
		n := min(catchUpPart, len(all))
		v.deliver(all[:n])
		all = all[n:]
		if len(all) > 0 {
			if err := d.Drain(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// attach makes the widget follow conversation conv's live entries, those
// after the entry after, without catching up on stored ones.
func (v *Widget) attach(ctx context.Context, conv, after string) error {
	ch := v.svc.Channel(conv)
	v.mu.Lock()
	old := v.conv
	v.conv, v.ch = conv, ch
	v.lastSent = protocol.ParseEntryID(after)
	v.version = 0 // not known until the caller has sent what it read
	if old != conv {
		v.agent, v.resolved = false, false
	}
	v.mu.Unlock()
	if old != "" && old != conv {
		v.ws.cfg.Hub.Detach(v.svc.Channel(old), v)
	}
	return v.ws.cfg.Hub.Attach(ctx, ch, v)
}

// channel is conversation conv's channel: the one followed, without
// making its name again, when it is conv.
func (v *Widget) channel(conv string) string {
	v.mu.Lock()
	ch := v.ch
	same := v.conv == conv
	v.mu.Unlock()
	if same && ch != "" {
		return ch
	}
	return v.svc.Channel(conv)
}

func (v *Widget) lastID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastSent.String()
}

// Receive handles what the hub brings from the conversation's channel
// (Subscriber).
func (v *Widget) Receive(_ string, payload string) {
	if sig, ok := ParseSignal(payload); ok {
		if sig.Type == "typing" && sig.From != "visitor" {
			v.out.Push(&protocol.Typing{From: sig.From, On: sig.On})
		}
		return
	}
	if strings.HasPrefix(payload, "!") {
		return // a signal that does not decode
	}
	v.mu.Lock()
	if v.own && len(v.held) < maxHeld {
		v.held = append(v.held, payload) // see releaseLive
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	v.receiveEntries(payload)
}

// receiveEntries delivers the entries of a live payload, unless they were
// sent already.
func (v *Widget) receiveEntries(payload string) {
	if v.hasSent(lastLiveID(payload)) {
		return // the echo of a turn this widget delivered itself
	}
	entries, err := store.DecodeLive(payload)
	if err != nil {
		v.log.Warn("bad live message", "err", err)
		return
	}
	v.deliver(entries)
}

// Resync catches up after the live updates were cut (Subscriber).
func (v *Widget) Resync(string) {
	conv := v.Conversation()
	if conv == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.catchUp(ctx, conv); err != nil {
		v.log.Warn("catching up after a break in live updates", "conversation", conv, "err", err)
		return
	}
	v.out.Flush()
}

// holdLive makes Receive hold the entries the hub brings until
// releaseLive: a turn of the widget's own is being stored.
func (v *Widget) holdLive() {
	v.mu.Lock()
	v.own = true
	v.mu.Unlock()
}

// releaseLive ends holdLive (later calls do nothing) and handles what was
// held, after the turn's own entries were sent: its own echo is then
// dropped by its id, unread, and other turns' entries follow in order.
func (v *Widget) releaseLive() {
	v.mu.Lock()
	held := v.held
	v.own, v.held = false, nil
	v.mu.Unlock()
	for _, p := range held {
		v.receiveEntries(p)
	}
}

// lastLiveID is the stream id of the last entry in a live payload (lines
// of "ID JSON"; JSON has no raw newlines).
func lastLiveID(payload string) string {
	line := payload[strings.LastIndexByte(payload, '\n')+1:]
	id, _, _ := strings.Cut(line, " ")
	return id
}

// hasSent reports whether the entry with stream id id was sent already.
func (v *Widget) hasSent(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.lastSent.Less(protocol.ParseEntryID(id))
}

// deliver sends the entries newer than the last one sent, in order, as the
// visitor may see them. It is called for the widget's own turns and from
// the hub (other processes).
func (v *Widget) deliver(entries []store.Entry) {
	entries = RedactDeleted(entries)
	v.mu.Lock()
	defer v.mu.Unlock()
	// The frames, in one allocation: room for every entry left once the
	// first is sent, so that appending never moves those pushed. None for
	// a FrameEncoder: it is pushed the widget's own frame, reused.
	var frames []protocol.EntryFrame
	_, encodes := v.out.(FrameEncoder)
	for i := range entries {
		id := protocol.ParseEntryID(entries[i].ID)
		if !v.lastSent.Less(id) {
			continue
		}
		v.lastSent = id
		switch entries[i].Kind {
		case "joined":
			v.agent = true
		case "resolved":
			v.resolved = true
		case "reopened":
			v.resolved = false
		}
		if !VisibleToVisitor(entries[i]) {
			continue
		}
		pe := ForVisitor(entries[i])
		if pe.Kind == "file" {
			// A download URL signed now: the stored entry has none (it
			// would expire), each delivery gets a fresh one.
			if id, ok := pe.Data["file"].(string); ok && v.conv != "" {
				pe.Data["url"] = v.ws.FileURL(v.conv, id)
			}
		}
		if encodes {
			v.frame.Entry = pe
			v.out.Push(&v.frame)
			v.frame.Entry = protocol.Entry{}
			continue
		}
		if frames == nil {
			frames = make([]protocol.EntryFrame, 0, len(entries)-i)
		}
		frames = append(frames, protocol.EntryFrame{Entry: pe})
		v.out.Push(&frames[len(frames)-1])
	}
}

// watchQueue sends the visitor their place in the queue conv waits in, and
// every change of it, until the chat leaves the queue (taken, missed,
// resolved), the widget follows another conversation, or it closes. team
// and pos are the place the handoff left it at (pos 0: unknown, read it
// first). The queue moves on any process, so the place is read again
// every queueEvery: background work that no turn waits for. A new watch
// replaces the one before (the chat may have left the queue and come
// back, a reopened chat nobody had, before the old loop saw it go).
func (v *Widget) watchQueue(conv, team string, pos int) {
	v.watchQueueWith(conv, team, pos, nil)
}

// watchQueueWith is watchQueue with the team's recent waits when the
// caller read them (the handoff did): the first frame's estimate then
// costs no read.
func (v *Widget) watchQueueWith(conv, team string, pos int, waits *[]time.Duration) {
	if conv == "" {
		return
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.queueGen++
	gen := v.queueGen
	v.mu.Unlock()
	var sent *protocol.Queue
	if pos > 0 {
		if waits != nil {
			sent = queueFrameOf(team, pos, *waits)
		} else {
			sent = v.queueFrame(team, pos)
		}
		v.out.Push(sent)
	}
	go v.queueLoop(conv, gen, sent)
}

// watching reports whether watch gen is still the widget's latest.
func (v *Widget) watching(gen uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.queueGen == gen
}

// queueFrame is the visitor's place pos in team's queue with the team's
// usual wait (read when the place changes, not on every poll). A failed
// read sends the place without an estimate.
func (v *Widget) queueFrame(team string, pos int) *protocol.Queue {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := &protocol.Queue{Team: team, Position: pos}
	d, ok, err := v.svc.inbox.WaitEstimate(ctx, team)
	switch {
	case err != nil:
		v.log.Warn("reading a team's usual wait", "team", team, "err", err)
	case ok:
		q.EstimateSeconds = max(int(d/time.Second), 1)
	}
	return q
}

// queueFrameOf is queueFrame with the team's recent waits known.
func queueFrameOf(team string, pos int, waits []time.Duration) *protocol.Queue {
	q := &protocol.Queue{Team: team, Position: pos}
	if len(waits) > 0 {
		q.EstimateSeconds = max(int(handoff.Median(waits).Round(time.Second)/time.Second), 1)
	}
	return q
}

// queueLoop is watchQueue's background loop (watch gen); sent is the
// frame sent (nil: none yet). The team's usual wait is read with each new place and once more on the poll
// after it: the take that moved the queue records its wait just after the
// move, so the first read may come before it.
func (v *Widget) queueLoop(conv string, gen uint64, sent *protocol.Queue) {
	tick := time.NewTicker(queueEvery)
	defer tick.Stop()
	last, recheck := 0, sent != nil
	if sent != nil {
		last = sent.Position
	}
	for first := last == 0; ; first = false {
		if !first {
			select {
			case <-v.done:
				return
			case <-tick.C:
			}
		}
		if v.Conversation() != conv || !v.watching(gen) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		team, pos, err := v.svc.inbox.QueuePosition(ctx, conv)
		cancel()
		switch {
		case err != nil:
			v.log.Warn("reading a waiting visitor's place in the queue", "conversation", conv, "err", err)
		case pos == 0:
			return // no longer waiting
		case pos != last:
			last, recheck = pos, true
			sent = v.queueFrame(team, pos)
			v.out.Push(sent)
			v.out.Flush()
		case recheck:
			recheck = false
			if q := v.queueFrame(team, pos); sent == nil || q.EstimateSeconds != sent.EstimateSeconds {
				sent = q
				v.out.Push(q)
				v.out.Flush()
			}
		}
	}
}
