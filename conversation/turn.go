package conversation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/retry"
	"github.com/playbook-dev/playbook/langdetect"
	"github.com/playbook-dev/playbook/store"
)

// TurnInfo is what a turn found and left the session at.
type TurnInfo struct {
	Event   engine.EventKind
	Before  engine.Status // the session's status before the turn
	Status  engine.Status // and after it
	Outcome string
	Session *engine.Session // as the turn left it
	// Queued is the chat as this turn's handoff put it in its team's
	// queue (with its place there), nil when the turn handed nothing off.
	Queued *handoff.Conversation
	// QueueWaits are the recent waits of Queued's team, read with the
	// handoff (nil when they were not): the visitor's first queue frame
	// estimates the wait from them.
	QueueWaits *[]time.Duration
}

// Turn runs one event through a conversation: one atomic store turn that
// steps the engine and appends the visitor's entry (if any) and the bot's
// answer, then the side effects. A duplicate clientID is answered from the
// transcript and causes no side effects.
func (s *Service) Turn(ctx context.Context, conv, clientID string, ev engine.Event, visitor *store.Entry) (store.Result, TurnInfo, error) {
	var pre []store.Entry
	if visitor != nil {
		pre = []store.Entry{*visitor}
	}
	return s.TurnWith(ctx, conv, clientID, ev, pre)
}

// TurnWith is turn with any entries to store before the bot's answer (a
// visitor message, an agent joining).
func (s *Service) TurnWith(ctx context.Context, conv, clientID string, ev engine.Event, pre []store.Entry) (store.Result, TurnInfo, error) {
	return s.TurnThen(ctx, conv, clientID, ev, pre, nil)
}

// TurnThen is turnWith that calls committed (when not nil) as soon as the
// Turn is stored, before the side effects run: the visitor gets the bot's
// answer without waiting for the records and timers it causes. A handoff
// is the exception: the chat is queued for its team first, so what the
// visitor sees, the inbox already shows (its timer follows).
func (s *Service) TurnThen(ctx context.Context, conv, clientID string, ev engine.Event, pre []store.Entry, committed func(store.Result, TurnInfo)) (store.Result, TurnInfo, error) {
	return s.TurnThenQuiet(ctx, conv, clientID, ev, pre, false, committed)
}

// TurnThenQuiet is TurnThen for a caller that follows conv and takes the
// turn's entries from committed: quiet says nobody else on this process
// follows conv (Hub.Alone), and the store may then leave the turn
// unpublished when no other process hears it (store.TurnReads.Quiet). The
// caller then catches up the followers that came meanwhile
// (Hub.CatchUpOthers) once committed is called.
func (s *Service) TurnThenQuiet(ctx context.Context, conv, clientID string, ev engine.Event, pre []store.Entry, quiet bool, committed func(store.Result, TurnInfo)) (store.Result, TurnInfo, error) {
	// What the step sets, in one allocation (each variable a closure
	// changes would be one).
	t := &turnState{ev: ev}
	t.reads.Quiet = quiet
	// The caller's entries, copied into t: the step keeps them, which
	// would move the caller's list (usually the visitor's one message) to
	// the heap. They go at the start of the step's room, where its first
	// run puts them anyway (appending own to t.room[:0] copies them onto
	// themselves). A run again makes its own list and copies own from
	// there: the first run wrote only after own, and the stores write the
	// entries' ids only for a turn that was stored, which is not run again.
	own := append(t.room[:0:min(len(pre), len(t.room))], pre...)
	began := time.Now()
	tf, inTurn := s.foldsInTurn(conv)
	// What the work after the turn reads first (a create card's), read
	// with the turn by an engine that can.
	// The context carrying them is in t too (store.WithTurnReads would
	// be an allocation of its own).
	reads := &t.reads
	t.ctx = store.TurnReadsContext{Context: ctx, Reads: reads}
	tctx := &t.ctx
	// A handoff that finds its team away records the team on the inbox
	// record with the turn, when the store writes the record with the
	// conversation (store.TurnReads.Away); else finishTurn does.
	_, awayInTurn := s.inbox.StartsWith(s.store, conv)
	step := func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		p, err := s.reg.Version(ctx, sess.Version)
		if err != nil {
			return nil, nil, nil, err
		}
		t.prog = p
		t.waiting, t.asked = waitingAt(p, sess)
		if err := s.World(ctx, p, sess, &t.ev); err != nil {
			return nil, nil, nil, err
		}
		// The first message's language, when sure, picks the
		// playbook's texts from now on.
		langdetect.OnFirstMessage(p, sess, t.ev, sess.FirstMessage == "")
		before := sess.Status
		next, effs := engine.Step(p, sess, t.ev)
		t.effects = effs
		s.askCreateReads(reads, p, next, effs)
		s.askNoticeReads(reads, conv, effs)
		t.info = TurnInfo{Event: t.ev.Kind, Before: before, Status: next.Status, Outcome: next.Outcome, Session: next}
		keepFirstMessage(next, own)
		// The step's first run writes its entries into t's room (an
		// ordinary turn's fit; more grow the list as append does); a run
		// again (a stale version) makes its own list, so the first run's
		// is never written over.
		var entries []store.Entry
		if !t.roomTaken {
			entries, t.roomTaken = t.room[:0], true
		} else {
			entries = make([]store.Entry, 0, len(effs)+len(own)+1)
		}
		entries = append(entries, own...)
		entries = s.Entries(p, next, entries, effs, t.ev.Now)
		if missedBy(t.info) {
			// Stored with the turn, so that the turn is marked pending
			// (leavesWork) and the sweep marks the chat missed should
			// this process die before it does (redoWork).
			left := slices.ContainsFunc(own, func(e store.Entry) bool { return e.From == "visitor" })
			entries = append(entries, store.Entry{From: "system", Kind: "missed", Text: "Nobody took the chat in time", At: t.ev.Now, Data: map[string]any{"left_message": left}})
		}
		s.askPersonReads(reads, p, next, effs, entries)
		if awayInTurn {
			reads.Away = AwayTeam(entries)
		}
		if !inTurn {
			return next, entries, nil, nil
		}
		return next, entries, inTurnFold(&t.fold, next, entries, t.waiting, t.asked, false), nil
	}
	var res store.Result
	var err error
	if inTurn {
		// The fold is written with the turn: no fold after it, and no
		// mark unless the turn leaves other work (PendingFolded).
		res, err = tf.TurnFolded(tctx, conv, clientID, s.funnelKeep(), step)
	} else {
		res, err = s.store.Turn(tctx, conv, clientID, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			next, entries, _, err := step(sess)
			return next, entries, err
		})
	}
	if err != nil {
		return res, t.info, err
	}
	if res.Duplicate {
		if committed != nil {
			committed(res, t.info)
		}
		// The first try's work may not have been done (its process died
		// after storing the turn): recoverPending sees to it.
		return res, t.info, nil
	}
	failed := false
	s.countEffects(t.prog, t.info.Before, t.info.Session, t.effects)
	if committed != nil {
		// The chat is in its team's queue before the visitor hears of it;
		// the agents are told (and the chat routed) after.
		var toAnnounce []queued
		if handoffs, rest := splitHandoffs(t.effects); len(handoffs) > 0 {
			// The turn's timers (the wait) are set with the first queue,
			// in its step, when the inbox can: Perform then skips them.
			timers, others := s.handoffTimers(rest)
			for i, e := range handoffs {
				var tms []store.Timer
				if i == 0 {
					tms = timers
				}
				var pre *store.TurnReads
				if i == 0 {
					pre = reads
				}
				q, err := s.enqueueWith(ctx, conv, e.Card, *e.Handoff, CollectedVisitor(t.prog, t.info.Session), LastMessage(res.Entries), tms, pre)
				if err != nil {
					failed = true // Perform sets the timers (rest has them)
				} else {
					if tms != nil {
						rest = others
					}
					c := *q.c // the caller's own: announce may change q.c
					t.info.Queued = &c
					t.info.QueueWaits = q.cfg.Waits
					toAnnounce = append(toAnnounce, q)
				}
			}
			t.effects = rest
		}
		s.m.Turn(t.prog.ID, string(t.info.Event), time.Since(began))
		committed(res, t.info)
		for _, q := range toAnnounce {
			q.announce(ctx)
		}
	} else {
		s.m.Turn(t.prog.ID, string(t.info.Event), time.Since(began))
	}
	// A turn whose only work is its fold (the funnel's pending mark) is
	// finished by the fold, in the same write.
	mark, foldDone := res.Pending, ""
	if s.cfg.Funnels != nil && !LeavesWork(res.Entries) {
		mark, foldDone = "", res.Pending
	}
	var folded func() bool
	if !inTurn {
		folded = s.foldTurn(ctx, conv, t.info.Session, res.Entries, t.waiting, t.asked, false, foldDone)
	} else {
		// Folded with the turn; a mark (PendingFolded) is for other work.
		mark = res.Pending
	}
	// A new variable, not ctx: the step captured ctx, which would then
	// be moved to the heap.
	wctx := withSourceMemo(ctx, conv, t.effects, reads, res.Entries)
	failed = s.Perform(wctx, conv, t.prog, t.info.Session, t.effects, res.Entries) || failed
	failed = s.afterTurn(wctx, conv, t.info, res.Entries) || failed
	// The turn's mark is cleared once its work is done, its webhook
	// events and its fold included (both finish in the background: the
	// connection does not wait for them).
	// The team of a handoff that found its team away, for finishTurn
	// ("" when none, or recorded with the turn: store.TurnReads.Away).
	away := ""
	if !reads.AwayRecorded {
		away = AwayTeam(res.Entries)
	}
	// A turn the CRM does not hear of (most) finishes here, without a
	// closure made for it.
	if !crmHearsAny(res.Entries) {
		s.finishAfterCRM(wctx, conv, mark, !failed, folded, away)
		return res, t.info, nil
	}
	s.crmAfterTurn(wctx, conv, t.info.Session, res.Entries, reads, func(ok bool) {
		s.finishAfterCRM(wctx, conv, mark, ok && !failed, folded, away)
	})
	return res, t.info, nil
}

// finishAfterCRM finishes a turn once the CRM's work after it is done (ok:
// it and the turn's other work went well): after its fold, when the fold
// comes after the turn (folded not nil), else at once. away is the team
// finishTurn records ("" for none).
func (s *Service) finishAfterCRM(ctx context.Context, conv, mark string, ok bool, folded func() bool, away string) {
	if folded == nil {
		s.finishTurn(ctx, conv, mark, ok, away)
		return
	}
	s.goFinish(func() {
		foldFailed := folded()
		s.finishTurn(ctx, conv, mark, ok && !foldFailed, away)
	})
}

// turnState is what TurnThen's step leaves for the rest of the turn.
type turnState struct {
	ev      engine.Event
	effects []engine.Effect
	prog    *engine.Program
	info    TurnInfo
	waiting string    // the card whose question the turn answers
	asked   time.Time // when it was asked
	reads   store.TurnReads
	ctx     store.TurnReadsContext // the turn's context, carrying reads
	fold    foldRoom               // the fold written with the turn (inTurnFold)
	// room holds the caller's entries (own, at its start) and the entries
	// of the step's first run (roomTaken), which begin with them.
	room      [turnRoom]store.Entry
	roomTaken bool
}

// turnRoom is the room for a turn's entries in its state: the visitor's
// message and the bot's answer, with room for the engine's effects that
// store no entry (the wait for the next answer).
const turnRoom = 4

// keepFirstMessage records on sess the visitor's first message among
// entries, when it has none yet: the CRM's feed shows it (CRMSource)
// without reading the transcript back.
func keepFirstMessage(sess *engine.Session, entries []store.Entry) {
	if sess == nil || sess.FirstMessage != "" {
		return
	}
	for _, e := range entries {
		if e.From == "visitor" && e.Kind == "message" && e.Text != "" {
			sess.FirstMessage = truncate(e.Text, 200)
			return
		}
	}
}

// countEffects counts, in the metrics, the handoffs among a stored turn's
// effects and the end of the bot's part (a session that was not over
// before and is now).
func (s *Service) countEffects(p *engine.Program, before engine.Status, sess *engine.Session, effs []engine.Effect) {
	if s.m == nil || p == nil || sess == nil {
		return
	}
	for _, e := range effs {
		if e.Kind == engine.EffectHandoff && e.Handoff != nil {
			s.m.Handoff(p.ID, e.Handoff.Team)
		}
	}
	if over(before) || !over(sess.Status) {
		return
	}
	outcome := sess.Outcome
	if sess.Status == engine.StatusFailed {
		outcome = "failed"
	}
	s.m.Ended(p.ID, outcome)
}

// over reports whether the bot's part of a conversation is over.
func over(st engine.Status) bool { return st == engine.StatusEnded || st == engine.StatusFailed }

// finishTurn clears a turn's pending mark when its work went well (ok),
// and records the team of a handoff that found its team away (team, ""
// for none) on the conversation's inbox record, in the same round trip.
// When that fails, the mark stays (or comes back) for the sweep.
func (s *Service) finishTurn(ctx context.Context, conv, mark string, ok bool, team string) {
	if team == "" {
		if ok {
			s.Done(ctx, mark) // queued: ctx is not kept
		}
		return
	}
	ctx = context.WithoutCancel(ctx)
	// The team first, then the mark: when recording the team fails, the
	// mark stays for the sweep.
	if err := s.inbox.Away(ctx, conv, team); err != nil {
		s.log.Warn("recording the team that was away (the sweep does it later)", "conversation", conv, "team", team, "err", err)
		return
	}
	if ok {
		s.Done(ctx, mark)
	}
}

// AwayTeam is the team of the first handoff among entries that found its
// team away ("" when none did).
func AwayTeam(entries []store.Entry) string {
	for _, e := range entries {
		if e.Kind == "away" {
			if team, _ := e.Data["team"].(string); team != "" {
				return team
			}
		}
	}
	return ""
}

// handoffTimers are the timers among effs (a handoff's wait) that the
// queue's step sets (Handoff.Timers), and effs without them. None when
// the inbox does not set timers in this service's queue, or when effs
// cancel any timer (Perform keeps their order).
func (s *Service) handoffTimers(effs []engine.Effect) ([]store.Timer, []engine.Effect) {
	if !slices.ContainsFunc(effs, func(e engine.Effect) bool { return e.Kind == engine.EffectTimer }) ||
		slices.ContainsFunc(effs, func(e engine.Effect) bool { return e.Kind == engine.EffectCancel }) ||
		!s.inbox.SetsTimersOf(s.timers) {
		return nil, effs
	}
	var timers []store.Timer
	var rest []engine.Effect
	for _, e := range effs {
		if e.Kind == engine.EffectTimer {
			timers = append(timers, store.Timer{ID: e.Timer.ID, At: e.Timer.At})
		} else {
			rest = append(rest, e)
		}
	}
	return timers, rest
}

// splitHandoffs separates the effects that queue the chat for a team from
// the others. Without a handoff (most turns) rest is effs itself.
func splitHandoffs(effs []engine.Effect) (handoffs, rest []engine.Effect) {
	if !slices.ContainsFunc(effs, func(e engine.Effect) bool { return e.Kind == engine.EffectHandoff }) {
		return nil, effs
	}
	for _, e := range effs {
		if e.Kind == engine.EffectHandoff {
			handoffs = append(handoffs, e)
		} else {
			rest = append(rest, e)
		}
	}
	return handoffs, rest
}

// World fills in what the engine may know of the outside: the time and who
// is online.
func (s *Service) World(ctx context.Context, p *engine.Program, sess *engine.Session, ev *engine.Event) error {
	ev.Now = s.now().UTC()
	if len(p.Teams) == 0 {
		return nil
	}
	if s.cfg.Presence != nil {
		online, err := s.cfg.Presence.Online(ctx, sess, p.Teams)
		if err != nil {
			return fmt.Errorf("presence: %w", err)
		}
		ev.Online = online
	}
	// Teams whose hours an admin set in Settings are open as those say;
	// then teams in the playbooks' hours.yaml as it says (the engine reads
	// p.Hours); the others as --hours says.
	var stored Hours
	if s.teamHours != nil {
		h, err := s.teamHours.get(ctx)
		if err != nil {
			return fmt.Errorf("opening hours: %w", err)
		}
		for _, t := range p.Teams {
			if _, ok := h[t]; ok {
				if stored == nil {
					stored = Hours{}
				}
				stored[t] = h[t]
			}
		}
	}
	if s.cfg.Hours != nil || stored != nil {
		teams := p.Teams // read only: copied when some are left out
		if stored != nil || len(p.Hours) > 0 {
			teams = slices.DeleteFunc(slices.Clone(p.Teams), func(t string) bool {
				_, set := stored[t]
				return set || p.Hours[t] != nil
			})
		}
		var open map[string]bool
		if s.cfg.Hours != nil && stored == nil {
			open = s.allOpen(p, teams) // not changed below: stored is nil
		}
		if s.cfg.Hours != nil && open == nil {
			var err error
			if open, err = s.cfg.Hours.Open(ctx, teams, ev.Now); err != nil {
				return fmt.Errorf("opening hours: %w", err)
			}
		}
		if stored != nil {
			byAdmin, _ := stored.Open(ctx, slices.Collect(maps.Keys(stored)), ev.Now)
			if open == nil {
				open = make(map[string]bool, len(byAdmin))
			}
			maps.Copy(open, byAdmin)
		}
		if open == nil {
			open = map[string]bool{}
		}
		ev.Open = open
	}
	return nil
}

// openTeamsSize bounds the playbook versions whose open teams' map
// allOpen keeps.
const openTeamsSize = 256

// allOpen is the map of open teams when --hours (Config.Hours) sets the
// hours of none of teams, p's teams without hours of their own: each is
// open. It is made once a playbook version and shared by its turns, which
// only read it (the engine's World); nil when --hours has a rule for one
// of them, or is not Hours.
func (s *Service) allOpen(p *engine.Program, teams []string) map[string]bool {
	h, ok := s.cfg.Hours.(Hours)
	if !ok || slices.ContainsFunc(teams, func(t string) bool { _, set := h[t]; return set }) {
		return nil
	}
	if open, ok := s.openTeams.Get(p); ok {
		return open
	}
	open := make(map[string]bool, len(teams))
	for _, t := range teams {
		open[t] = true
	}
	s.openTeams.Put(p, open)
	return open
}

// Entries turns the engine's effects into transcript entries (EntriesOf),
// and logs the playbook's runtime errors among them.
func (s *Service) Entries(p *engine.Program, sess *engine.Session, out []store.Entry, effs []engine.Effect, now time.Time) []store.Entry {
	for _, e := range effs {
		if e.Kind == engine.EffectError {
			s.log.Error("playbook runtime error", "playbook", p.ID, "conversation", sess.ID, "card", e.Error.Card, "pos", e.Error.Pos.String(), "err", redactPII(p, sess, e.Error.Msg))
		}
	}
	return EntriesOf(p, sess, out, effs, now)
}

// EntriesOf turns the engine's effects of a step of sess into the
// transcript entries they store, appended to out.
func EntriesOf(p *engine.Program, sess *engine.Session, out []store.Entry, effs []engine.Effect, now time.Time) []store.Entry {
	lastBot := -1
	for _, e := range effs {
		switch e.Kind {
		case engine.EffectSay:
			out = append(out, store.Entry{From: "bot", Kind: "message", Text: e.Text, Buttons: e.Buttons, Image: e.Image, Links: e.Links, Author: p.Bot.Name, Card: e.Card, At: now})
			lastBot = len(out) - 1
		case engine.EffectWait:
			if lastBot >= 0 {
				out[lastBot].Input = e.Input
				if out[lastBot].Buttons == nil {
					out[lastBot].Buttons = e.Buttons
				}
			}
		case engine.EffectHandoff:
			out = append(out, store.Entry{From: "system", Kind: "handoff", Card: e.Card, At: now, Data: map[string]any{"team": e.Handoff.Team, "wait_s": int(e.Handoff.Wait.Seconds()), "priority": e.Handoff.Priority}})
		case engine.EffectAway:
			out = append(out, store.Entry{From: "system", Kind: "away", Card: e.Card, At: now, Data: map[string]any{"team": e.Handoff.Team}})
		case engine.EffectCreate:
			out = append(out, store.Entry{From: "system", Kind: "record", Card: e.Card, At: now, Data: map[string]any{"kind": string(e.Record.Kind), "key": e.Record.Key, "fields": e.Record.Fields}})
		case engine.EffectVariant:
			out = append(out, store.Entry{From: "system", Kind: "variant", Card: e.Card, At: now, Data: map[string]any{"experiment": e.Variant.Experiment, "variant": e.Variant.Variant}})
		case engine.EffectEnd:
			data := map[string]any{"outcome": e.Outcome}
			if len(sess.Variants) > 0 {
				// the funnel splits outcomes by variant from the end entry alone
				data["variants"] = maps.Clone(sess.Variants)
			}
			out = append(out, store.Entry{From: "system", Kind: "end", Card: e.Card, At: now, Data: data})
		case engine.EffectError:
			out = append(out, store.Entry{From: "system", Kind: "error", Card: e.Card, At: now, Text: "Sorry, something went wrong on our side. Please write to us by email instead.", Data: map[string]any{"pos": e.Error.Pos.String(), "message": e.Error.Msg}})
		}
	}
	return out
}

// Perform carries out the effects that act outside the transcript, after
// the turn is committed (entries are what it stored). It reports whether
// any failed (they are logged; the turn's pending mark stays for
// recoverPending).
func (s *Service) Perform(ctx context.Context, conv string, p *engine.Program, sess *engine.Session, effs []engine.Effect, entries []store.Entry) (failed bool) {
	for _, e := range effs {
		switch e.Kind {
		case engine.EffectTimer:
			if err := s.timers.Set(ctx, conv, e.Timer.ID, e.Timer.At); err != nil {
				s.log.Error("setting timer", "conversation", conv, "timer", e.Timer.ID, "err", err)
				failed = true
			}
		case engine.EffectCancel:
			if err := s.timers.Cancel(ctx, conv, e.Timer.ID); err != nil {
				s.log.Error("cancelling timer", "conversation", conv, "timer", e.Timer.ID, "err", err)
			}
		case engine.EffectCreate:
			if err := s.CreateRecord(ctx, conv, sess, *e.Record); err != nil {
				s.log.Error("creating record", "conversation", conv, "kind", e.Record.Kind, "err", err)
				failed = true
			}
		case engine.EffectCall:
			s.startCall(conv, p, *e.Call)
		case engine.EffectHandoff:
			if _, err := s.Queue(ctx, conv, e.Card, *e.Handoff, CollectedVisitor(p, sess), LastMessage(entries)); err != nil {
				failed = true
			}
		}
	}
	return failed
}

// callResultPatience bounds the retries of a call result's turn.
const callResultPatience = 30 * time.Second

// startCall makes an HTTP call in the background and feeds its result back
// into the conversation as its own turn.
func (s *Service) startCall(conv string, p *engine.Program, req engine.CallRequest) {
	s.Go(func() {
		ctx := s.background()
		res := s.calls.Do(ctx, p, req)
		ev := engine.Event{Kind: engine.EventCallResult, Call: &res}
		// A shutdown does not cut the retries short: the result would be
		// lost and the conversation left waiting for it. The client id
		// makes a retry of a stored turn a duplicate.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callResultPatience)
		defer cancel()
		err := retry.Do(rctx, retry.Policy{Tries: 3, Base: 200 * time.Millisecond}, func(ctx context.Context) error {
			_, _, err := s.Turn(ctx, conv, "call:"+req.ID, ev, nil)
			if errors.Is(err, store.ErrNotFound) {
				return retry.Permanent(err) // the conversation expired
			}
			if err != nil {
				s.log.Warn("call result turn (will retry)", "conversation", conv, "call", req.ID, "err", err)
			}
			return err
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("call result turn: given up", "conversation", conv, "call", req.ID, "err", err)
		}
	})
}

// redactPII removes the values of the session's personal-data vars (pii:
// true) and the visitor's name and email from a text bound for the log.
func redactPII(p *engine.Program, sess *engine.Session, text string) string {
	var secrets []string
	for _, v := range p.Vars {
		if v.PII {
			if s, ok := sess.Vars[v.Name].(string); ok && s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	secrets = append(secrets, sess.Visitor.Name, sess.Visitor.Email)
	for _, sec := range secrets {
		if len(sec) >= 3 {
			text = strings.ReplaceAll(text, sec, "[redacted]")
		}
	}
	return text
}
