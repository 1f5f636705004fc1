package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// A resilient visitor talks through the reference conversation the way the
// widget does when things break: when its connection drops it reconnects
// (to the next server, when there are several), resumes from the last
// entry it has, and sends again the message that had no answer, with the
// same client id; when the server says the store is unavailable it waits
// and sends again. It checks that what it ends up with is exactly the
// reference conversation: every reply once, none missing, none doubled.

// ResilientStats counts what a resilient visitor went through.
type ResilientStats struct {
	Reconnects  int `json:"reconnects"`     // connections re-opened after a drop
	Resends     int `json:"resends"`        // messages sent again (same client id)
	Unavailable int `json:"unavailable"`    // "unavailable" error frames received
	Duplicates  int `json:"duplicate_acks"` // acks saying a resent message was already stored
	Redelivered int `json:"redelivered"`    // entries received again by id (ignored, as the widget does)
	Restarted   int `json:"restarted"`      // conversations begun again: the connection broke before the welcome
	Drained     int `json:"drained"`        // connections the server closed with protocol.CloseRestart (a graceful restart)
	// FirstUnavailable and LastUnavailable are when the first and the last
	// "unavailable" error frames arrived (zero: none).
	FirstUnavailable time.Time `json:"-"`
	LastUnavailable  time.Time `json:"-"`
}

// Add adds o to s.
func (s *ResilientStats) Add(o ResilientStats) {
	s.Reconnects += o.Reconnects
	s.Resends += o.Resends
	s.Unavailable += o.Unavailable
	s.Duplicates += o.Duplicates
	s.Redelivered += o.Redelivered
	s.Restarted += o.Restarted
	s.Drained += o.Drained
	if !o.FirstUnavailable.IsZero() && (s.FirstUnavailable.IsZero() || o.FirstUnavailable.Before(s.FirstUnavailable)) {
		s.FirstUnavailable = o.FirstUnavailable
	}
	if o.LastUnavailable.After(s.LastUnavailable) {
		s.LastUnavailable = o.LastUnavailable
	}
}

// ResilientConversation is what one resilient conversation ended with.
type ResilientConversation struct {
	Conversation string
	// Entries are the transcript entries received, each once, in order.
	Entries []Entry
	Stats   ResilientStats
}

// Entry is the part of a transcript entry, as a visitor receives it, that
// the bench checks.
type Entry struct {
	ID       string   `json:"id"`
	From     string   `json:"from"`
	Kind     string   `json:"kind"`
	Text     string   `json:"text"`
	Buttons  []button `json:"buttons,omitempty"`
	ClientID string   `json:"client_id"`
}

// entryOf is the part of a received entry the checks compare.
func entryOf(e protocol.Entry) Entry {
	return Entry{ID: e.ID, From: e.From, Kind: e.Kind, Text: e.Text, Buttons: e.Buttons, ClientID: e.ClientID}
}

// Expected lists the entries script sc must leave in the transcript, as
// (from, kind, text): the visitor's messages (button labels), the bot's
// messages and the system events.
func Expected(sc Script) []Entry {
	var out []Entry
	for i, t := range sc.Turns {
		switch t.Type {
		case "message":
			out = append(out, Entry{From: "visitor", Kind: "message", Text: t.Text, ClientID: "m" + strconv.Itoa(i)})
		case "button":
			out = append(out, Entry{From: "visitor", Kind: "message", Text: t.Label, ClientID: "m" + strconv.Itoa(i)})
		}
		for _, b := range t.Bot {
			out = append(out, Entry{From: "bot", Kind: "message", Text: b})
		}
		for _, e := range t.Events {
			out = append(out, Entry{From: "system", Kind: e})
		}
	}
	return out
}

// Same reports whether a received entry is the expected one.
func (e Entry) Same(want Entry) bool {
	return e.From == want.From && e.Kind == want.Kind && e.ClientID == want.ClientID && (want.Kind != "message" || e.Text == want.Text)
}

// Resilient runs conversation sc of the reference mix (playbook qualify)
// as a resilient visitor against the servers at urls, starting with
// urls[first mod len]; think paces it as Options.Think does.
func Resilient(ctx context.Context, urls []string, first int, sc Script, think time.Duration) (ResilientConversation, error) {
	d, err := newDialer(urls, 1)
	if err != nil {
		return ResilientConversation{}, err
	}
	return d.runResilient(ctx, first, sc, "qualify", think, nil)
}

// ResilientTurns is Resilient that also reports each completed turn:
// onTurn gets the conversation's id, when the turn's frame was first sent
// and when its last entry arrived (reconnects and resends in between).
func ResilientTurns(ctx context.Context, urls []string, first int, sc Script, think time.Duration, onTurn func(conv string, sent, done time.Time)) (ResilientConversation, error) {
	d, err := newDialer(urls, 1)
	if err != nil {
		return ResilientConversation{}, err
	}
	var r *resilient
	return d.runResilientState(ctx, first, sc, "qualify", think, func(tr turnResult) {
		onTurn(r.conv, tr.done.Add(-tr.latency), tr.done)
	}, &r)
}

// resilient is the state of one resilient visitor's conversation.
type resilient struct {
	d        *dialer
	server   int
	ws       *client.Conn
	sc       Script
	playbook string
	want     []Entry

	token, conv string
	connected   bool // a connection was opened once
	welcomed    bool // a welcome arrived on the current connection
	seen        map[string]bool
	got         []Entry
	last        string // id of the newest entry received
	buttons     []button
	stats       ResilientStats
}

// runResilient runs conversation sc against servers (visitor's first server
// is server mod len), surviving drops and outages, until it is complete or
// ctx ends. think paces the turns as in Options.Think; onTurn, when set, is
// called with each turn's latency (from the first send to the turn's last
// entry, reconnects included).
func (d *dialer) runResilient(ctx context.Context, server int, sc Script, playbook string, think time.Duration, onTurn func(turnResult)) (ResilientConversation, error) {
	return d.runResilientState(ctx, server, sc, playbook, think, onTurn, nil)
}

// runResilientState is runResilient; state, when set, is pointed at the
// visitor's state before the first turn (for onTurn to read).
func (d *dialer) runResilientState(ctx context.Context, server int, sc Script, playbook string, think time.Duration, onTurn func(turnResult), state **resilient) (ResilientConversation, error) {
	r := &resilient{d: d, server: server, sc: sc, playbook: playbook, want: Expected(sc), seen: map[string]bool{}}
	if state != nil {
		*state = r
	}
	defer func() {
		if r.ws != nil {
			r.ws.Close()
		}
	}()
	fail := func(turn int, format string, args ...any) (ResilientConversation, error) {
		return r.result(), &checkError{sc.N, turn + 1, fmt.Sprintf(format, args...)}
	}
	done := 0 // entries of want that the turns so far must have produced
	for i, t := range sc.Turns {
		if i > 0 {
			if err := pause(ctx, think); err != nil {
				return r.result(), err
			}
		}
		done += len(t.Bot) + len(t.Events)
		if t.Type != "start" {
			done++
		}
		sent := time.Now()
		if err := r.send(ctx, i); err != nil {
			return fail(i, "%v", err)
		}
		for len(r.got) < done {
			f, err := r.read(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return r.result(), ctx.Err()
				}
				if r.ws != nil && r.ws.Restarting() {
					r.stats.Drained++
				}
				if err := r.reconnect(ctx, i); err != nil {
					return fail(i, "%v", err)
				}
				continue
			}
			switch f := f.(type) {
			case *protocol.Welcome:
				r.welcomed = true
				if r.conv == "" {
					r.conv, r.token = f.Conversation, f.Token
				}
				// After a resume: the message that had no answer goes again,
				// unless its entry came back with the replay (then the answer,
				// stored with it, follows).
				if t.Type != "start" && !r.has("m"+strconv.Itoa(i)) {
					r.stats.Resends++
					if err := r.send(ctx, i); err != nil {
						return fail(i, "%v", err)
					}
				}
			case *protocol.EntryFrame:
				e := entryOf(f.Entry)
				if r.seen[e.ID] {
					r.stats.Redelivered++
					continue
				}
				if e.From == "bot" && len(e.Buttons) > 0 {
					r.buttons = e.Buttons
				}
				r.seen[e.ID], r.last = true, e.ID
				n := len(r.got)
				if n >= len(r.want) || !e.Same(r.want[n]) {
					return fail(i, "entry %d is %s/%s %q (client id %q); want %+v", n+1, e.From, e.Kind, e.Text, e.ClientID, r.wantAt(n))
				}
				r.got = append(r.got, e)
			case *protocol.Ack:
				if f.Duplicate {
					r.stats.Duplicates++
				}
			case *protocol.Error:
				switch f.Code {
				case protocol.CodeUnavailable, protocol.CodeRateLimited:
					r.stats.Unavailable++
					if now := time.Now(); r.stats.FirstUnavailable.IsZero() {
						r.stats.FirstUnavailable, r.stats.LastUnavailable = now, now
					} else {
						r.stats.LastUnavailable = now
					}
					if err := sleep(ctx, 200*time.Millisecond+rand.N(300*time.Millisecond)); err != nil {
						return r.result(), err
					}
					if !r.welcomed {
						// The start or the resume failed: do it again.
						if err := r.hello(ctx); err != nil {
							return fail(i, "%v", err)
						}
					} else if t.Type != "start" && !r.has("m"+strconv.Itoa(i)) {
						r.stats.Resends++
						if err := r.send(ctx, i); err != nil {
							return fail(i, "%v", err)
						}
					}
				default:
					return fail(i, "error frame %s: %s", f.Code, f.Message)
				}
			}
		}
		if onTurn != nil {
			now := time.Now()
			res := turnResult{latency: now.Sub(sent), done: now, kind: TurnAnswer}
			switch {
			case i == 0:
				res.kind = TurnStart
			case i == len(sc.Turns)-1:
				res.kind = TurnLast + " " + sc.Outcome
			}
			onTurn(res)
		}
	}
	return r.result(), nil
}

func (r *resilient) wantAt(n int) any {
	if n < len(r.want) {
		return r.want[n]
	}
	return "nothing more"
}

func (r *resilient) result() ResilientConversation {
	return ResilientConversation{Conversation: r.conv, Entries: r.got, Stats: r.stats}
}

// has reports whether the visitor's entry with client id id was received.
func (r *resilient) has(id string) bool {
	for _, e := range r.got {
		if e.ClientID == id {
			return true
		}
	}
	return false
}

// read returns the next frame of the current connection.
func (r *resilient) read(ctx context.Context) (protocol.Frame, error) {
	if r.ws == nil {
		return nil, errors.New("not connected")
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return r.ws.Next(rctx)
}

// send sends turn i's frame, connecting first when needed.
func (r *resilient) send(ctx context.Context, i int) error {
	if r.ws == nil {
		return r.reconnect(ctx, i)
	}
	t := &r.sc.Turns[i]
	var out protocol.Frame
	switch t.Type {
	case "start":
		return r.hello(ctx)
	case "message":
		out = &protocol.Message{ID: "m" + strconv.Itoa(i), Text: t.Text}
	case "button":
		value := ""
		for _, b := range r.buttons {
			if b.Label == t.Label {
				value = b.Value
			}
		}
		if value == "" {
			return fmt.Errorf("the bot offered no button %q (buttons %v)", t.Label, r.buttons)
		}
		out = &protocol.Click{ID: "m" + strconv.Itoa(i), Value: value, Label: t.Label}
	}
	if !r.welcomed {
		return nil // sent after the welcome
	}
	return r.write(ctx, out)
}

// hello starts the conversation, or resumes it after the last entry.
func (r *resilient) hello(ctx context.Context) error {
	if r.conv == "" {
		return r.write(ctx, startFrame(r.playbook, r.sc.N))
	}
	return r.write(ctx, &protocol.Resume{Token: r.token, After: r.last})
}

func (r *resilient) write(ctx context.Context, f protocol.Frame) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A connection that broke shows on the next read, which reconnects.
	_ = r.ws.Send(wctx, f)
	return nil
}

// reconnect opens a new connection, with backoff, to the next server, and
// starts or resumes. A conversation whose welcome never came is begun
// again (the server may hold an orphan with only the greeting).
func (r *resilient) reconnect(ctx context.Context, turn int) error {
	if r.ws != nil {
		r.ws.CloseNow()
		r.ws = nil
	}
	r.welcomed = false
	if r.conv == "" && r.connected {
		// The welcome never came: nothing of the conversation is known,
		// so it begins again.
		r.stats.Restarted++
		r.got, r.seen = nil, map[string]bool{}
	}
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 {
			r.server++
			if err := sleep(ctx, backoff/2+rand.N(backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, err := r.d.dial(dctx, r.server)
		cancel()
		if err != nil {
			continue
		}
		r.ws = ws
		if r.connected {
			r.stats.Reconnects++
		}
		r.connected = true
		return r.hello(ctx)
	}
}

// VerifyTranscript checks what a visitor received against the stored
// transcript of its conversation: the stored messages, handoffs and ends
// must be exactly the received ones, same ids, same order (nothing stored
// twice that the visitor saw once, nothing the visitor missed), and the
// conversation must hold as many records as records (created records are
// kept in the transcript, not shown to the visitor). st is any engine's
// sessions (store.Sessions has Transcript).
func VerifyTranscript(ctx context.Context, st Transcripts, conv string, got []Entry, records int) error {
	stored, err := st.Transcript(ctx, conv, "", 0)
	if err != nil {
		return err
	}
	return sameStored(stored, got, nil, records)
}

// sameStored checks a stored transcript: its messages, handoffs and ends
// must be exactly got (same ids, kinds and texts, in order), then exactly
// later (same senders, kinds and texts: entries stored after the visitor
// left, whose ids it never saw), and it must hold records record entries.
func sameStored(stored []store.Entry, got, later []Entry, records int) error {
	var shown []store.Entry
	n := 0
	for _, e := range stored {
		switch e.Kind {
		case "message", "handoff", "end":
			shown = append(shown, e)
		case "record":
			n++
		}
	}
	if len(shown) != len(got)+len(later) {
		if len(later) > 0 {
			return fmt.Errorf("the store holds %d entries, the visitor received %d and %d more were due after it left", len(shown), len(got), len(later))
		}
		return fmt.Errorf("the store holds %d entries, the visitor received %d", len(shown), len(got))
	}
	for i := range got {
		if shown[i].ID != got[i].ID || shown[i].Kind != got[i].Kind || shown[i].Text != got[i].Text {
			return fmt.Errorf("entry %d: stored %s %s %q, received %s %s %q", i+1, shown[i].ID, shown[i].Kind, shown[i].Text, got[i].ID, got[i].Kind, got[i].Text)
		}
	}
	for i, want := range later {
		e := shown[len(got)+i]
		if e.From != want.From || e.Kind != want.Kind || e.Text != want.Text {
			return fmt.Errorf("entry %d (after the visitor left): stored %s %s %q, want %s %s %q", len(got)+i+1, e.From, e.Kind, e.Text, want.From, want.Kind, want.Text)
		}
	}
	if n != records {
		return fmt.Errorf("%d record entries, want %d", n, records)
	}
	return nil
}

// Transcripts reads stored transcripts: what VerifyTranscript needs of a
// store (every engine's store.Sessions has it).
type Transcripts interface {
	Transcript(ctx context.Context, id, after string, count int64) ([]store.Entry, error)
}

// RecordsOf is how many records script sc creates (a lead ends with one).
func RecordsOf(sc Script) int {
	if sc.Outcome == OutcomeLead {
		return 1
	}
	return 0
}

// VerifyAll holds conversations 0..len(convs)-1 of the reference mix, run
// by resilient visitors, to exact equality with the store of prefix: each
// got every entry of the reference once, the store holds exactly what the
// visitor received, and the CRM has one lead per lead conversation. Records
// follow their turn (after a failure, the pending sweep makes them), so it
// waits up to wait for them.
func VerifyAll(ctx context.Context, rdb redis.UniversalClient, prefix string, convs []ResilientConversation, wait time.Duration) error {
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	var errs []error
	leads := 0
	for i, c := range convs {
		sc := ScriptFor(i)
		leads += RecordsOf(sc)
		if c.Conversation == "" {
			errs = append(errs, fmt.Errorf("conversation %d never started", i))
			continue
		}
		if len(c.Entries) != len(Expected(sc)) {
			errs = append(errs, fmt.Errorf("conversation %d: %d entries received, want %d", i, len(c.Entries), len(Expected(sc))))
		}
		if err := VerifyTranscript(ctx, st, c.Conversation, c.Entries, RecordsOf(sc)); err != nil {
			errs = append(errs, fmt.Errorf("conversation %d: %w", i, err))
		}
	}
	ce := redisstore.NewCRM(rdb, prefix)
	cs := crm.New(ce, ce, crm.Options{})
	deadline := time.Now().Add(wait)
	for {
		list, err := cs.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindLead, Limit: 500})
		if err == nil && len(list) == leads {
			break
		}
		if time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("%d leads in the CRM, want %d (%v)", len(list), leads, err))
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return errors.Join(errs...)
}
