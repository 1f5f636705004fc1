package conversation

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// The funnel: what each conversation of a playbook version did, counted
// per card in a durable rollup (store.Funnels) that outlives the
// transcripts. A turn folds the facts of the entries it just stored (no
// read of the transcript): the cards it reached, the question it asked,
// the answer the visitor gave to the question before, a handoff, a missed
// chat, an outcome, a record made. Each fact is counted once per
// conversation, so a retried fold, two processes, and the recovery sweep
// folding the whole transcript again (when a process died between the
// turn and its fold: the turn is marked pending like any turn that leaves
// work) all count it once.
//
// Facts and their counters (card is the card's name):
//
//	started                     the conversation started
//	reached|card                the bot showed the card (a message of it)
//	asked|card                  the card asked a question (an input or choices)
//	answered|card               the visitor answered it (valid or not)
//	time|card|ms                the time from the question to that first
//	                            answer, in store.FunnelBuckets
//	handoff|card                the card handed the chat to a team
//	missed                      nobody took the handed-off chat in time
//	outcome|name                the bot part ended with this outcome
//	ended|card                  ...at this card
//	record|kind                 a create card made a record (lead, deal, ...)
//	error|card                  a runtime error stopped the bot at the card
//	variant|experiment          the conversation went into an A/B variant
//	                            of the experiment (the key's Variant says which)

// FunnelFacts are the funnel facts of entries, a stretch of a
// conversation's transcript: waiting is the card whose question the
// conversation waited on before them ("" for none, as at the start).
func FunnelFacts(entries []store.Entry, waiting string) []store.FunnelFact {
	return appendFunnelFacts(nil, entries, waiting)
}

// appendFunnelFacts appends the funnel facts of entries to out
// (FunnelFacts). A card's facts' names are made once (factNamesOf).
func appendFunnelFacts(out []store.FunnelFact, entries []store.Entry, waiting string) []store.FunnelFact {
	add := func(out []store.FunnelFact, name string, at time.Time) []store.FunnelFact {
		return append(out, store.FunnelFact{Name: name, Counter: name, At: at})
	}
	for _, e := range entries {
		switch {
		case e.From == "bot" && e.Kind == "message" && e.Card != "":
			n := factNamesOf(e.Card)
			out = add(out, n.reached, e.At)
			if e.Input != "" || len(e.Buttons) > 0 {
				out = add(out, n.asked, e.At)
				waiting = e.Card
			}
		case e.From == "visitor" && e.Kind == "message":
			if waiting != "" {
				n := factNamesOf(waiting)
				out = append(out, store.FunnelFact{Name: n.answered, Counter: n.answered, At: e.At,
					Since: n.asked, Timing: n.timing})
			}
			waiting = ""
		case e.Kind == "handoff":
			out = add(out, factNamesOf(e.Card).handoff, e.At)
			waiting = ""
		case e.Kind == "missed":
			out = add(out, "missed", e.At)
		case e.Kind == "end":
			outcome, _ := e.Data["outcome"].(string)
			out = add(out, "outcome|"+outcome, e.At)
			out = add(out, factNamesOf(e.Card).ended, e.At)
			waiting = ""
		case e.Kind == "record":
			if kind, _ := e.Data["kind"].(string); kind != "" {
				out = add(out, "record|"+kind, e.At)
			}
		case e.Kind == "error":
			out = add(out, factNamesOf(e.Card).error, e.At)
		case e.Kind == "variant":
			// under a key that already names the variant (FunnelKeyOf)
			if x, _ := e.Data["experiment"].(string); x != "" {
				out = add(out, "variant|"+x, e.At)
			}
		}
	}
	return out
}

// factNames are the names of one card's funnel facts, and its answer's
// time counters by bucket (timed[i] for store.FunnelBuckets[i], the last
// for "inf").
type factNames struct {
	reached, asked, answered, timing, handoff, ended, error string
	timed                                                   []string
}

// timedCounter is the counter of the answer's time ms (a bucket's).
func (n *factNames) timedCounter(ms int64) string {
	for i, b := range store.FunnelBuckets {
		if ms <= b {
			return n.timed[i]
		}
	}
	return n.timed[len(n.timed)-1]
}

// cardFactNames holds the factNames of the cards seen (their names come
// from the playbooks), made once each instead of on every turn; past
// maxCardFactNames cards they are made each time.
var cardFactNames struct {
	mu sync.RWMutex
	m  map[string]*factNames
}

const maxCardFactNames = 10000

// factNamesOf returns card's factNames.
func factNamesOf(card string) *factNames {
	cardFactNames.mu.RLock()
	n := cardFactNames.m[card]
	cardFactNames.mu.RUnlock()
	if n != nil {
		return n
	}
	card = strings.Clone(card) // kept: not a part of a larger text
	n = &factNames{reached: "reached|" + card, asked: askedPrefix + card, answered: "answered|" + card, timing: "time|" + card,
		handoff: "handoff|" + card, ended: "ended|" + card, error: "error|" + card}
	n.timed = make([]string, 0, len(store.FunnelBuckets)+1)
	for _, b := range store.FunnelBuckets {
		n.timed = append(n.timed, n.timing+"|"+store.FunnelBucket(b))
	}
	n.timed = append(n.timed, n.timing+"|"+store.FunnelBucket(math.MaxInt64))
	cardFactNames.mu.Lock()
	defer cardFactNames.mu.Unlock()
	if old := cardFactNames.m[card]; old != nil {
		return old
	}
	if cardFactNames.m == nil {
		cardFactNames.m = make(map[string]*factNames)
	}
	if len(cardFactNames.m) < maxCardFactNames {
		cardFactNames.m[card] = n
	}
	return n
}

// FunnelKeyOf is the rollup row group of a conversation's session. Its
// variant is the session's A/B variants (VariantKey) as the turn left
// them: facts folded before the conversation went into a variant stay
// under the key without it.
func FunnelKeyOf(sess *engine.Session) store.FunnelKey {
	return store.FunnelKey{Day: dayName(sess.StartedAt), Playbook: sess.Playbook, Version: sess.Version, Variant: VariantKey(sess.Variants)}
}

// funnelDays holds the names of the last two UTC days dayName was asked
// for, an even day's in the first slot and an odd day's in the second:
// the turns of a day are mostly of conversations started that day or the
// day before, whose names are then made once, not on every turn.
var funnelDays [2]atomic.Pointer[funnelDay]

// funnelDay is a day's number since 1970-01-01 (UTC) and its name.
type funnelDay struct {
	n    int64
	name string
}

// dayName is t's UTC day as the rollup names it (time.DateOnly).
func dayName(t time.Time) string {
	sec := t.Unix()
	n := sec / 86400
	if sec%86400 < 0 {
		n-- // before 1970: the day it is in, not the one after
	}
	slot := &funnelDays[n&1]
	if d := slot.Load(); d != nil && d.n == n {
		return d.name
	}
	d := &funnelDay{n: n, name: t.UTC().Format(time.DateOnly)}
	slot.Store(d)
	return d.name
}

// funnelKeep is how long the rollup remembers what a conversation folded:
// longer than the conversation can live without a turn.
func (s *Service) funnelKeep() time.Duration { return 2*s.cfg.IdleTTL + s.cfg.RecoverAfter }

// waitingAt is the card whose question sess waits on ("" for none), and
// when it was asked (as far as the session tells: its last change). A
// question asked again after an invalid answer (sess.Tries > 0) counts as
// none: its card was answered by the turn of that first answer, whose
// fold (or, when that fold was lost, the sweep's fold of the transcript)
// counts the answer and its time. Counting this answer instead would
// make it the first the funnel sees when that fold was lost, and time the
// question to the retry's answer.
func waitingAt(p *engine.Program, sess *engine.Session) (string, time.Time) {
	if sess == nil || p == nil || sess.Status != engine.StatusWaiting || sess.Card < 0 || sess.Card >= len(p.Cards) || sess.Tries > 0 {
		return "", time.Time{}
	}
	return p.Cards[sess.Card].Name, sess.UpdatedAt
}

// foldTurn counts a turn's facts: entries are what it stored, sess the
// session it left, waiting the card whose question it answered, asked
// when that was asked (so the answer's time counts even when the fold of
// the asking turn lands after this one). done is the turn's pending mark
// when the fold is all the work the turn left ("" otherwise): the fold
// clears it in the same write. The fold is queued, not waited for: the
// returned wait (nil when there was nothing to fold) reports, once the
// fold is written, whether it failed (logged; the turn's pending mark then
// stays for the sweep).
func (s *Service) foldTurn(ctx context.Context, conv string, sess *engine.Session, entries []store.Entry, waiting string, asked time.Time, start bool, done string) (wait func() (failed bool)) {
	if s.cfg.Funnels == nil || sess == nil {
		return nil
	}
	// Room for every fact a turn usually has: one allocation.
	facts := turnFacts(make([]store.FunnelFact, 0, 2+2*len(entries)), sess, entries, waiting, asked, start)
	if len(facts) == 0 && done == "" {
		return nil
	}
	fold := store.FunnelFold{Conv: conv, Key: FunnelKeyOf(sess), Facts: facts, Done: done}
	ch := s.folds.enqueue(foldItem{fold: fold})
	if ch == nil {
		return nil
	}
	return func() bool {
		if err := <-ch; err != nil {
			s.log.Warn("folding a turn into the funnel (the sweep does it later)", "conversation", conv, "err", err)
			return true
		}
		return false
	}
}

// turnFacts appends the funnel facts of a turn to facts (see foldTurn).
func turnFacts(facts []store.FunnelFact, sess *engine.Session, entries []store.Entry, waiting string, asked time.Time, start bool) []store.FunnelFact {
	if start {
		facts = append(facts, store.FunnelFact{Name: "started", Counter: "started", At: sess.StartedAt})
	}
	if waiting != "" && !asked.IsZero() {
		name := factNamesOf(waiting).asked
		facts = append(facts, store.FunnelFact{Name: name, Counter: name, At: asked})
	}
	return appendFunnelFacts(facts, entries, waiting)
}

// foldRoom is where inTurnFold writes a turn's fold and its counters: kept
// with the turn's own state, they need no allocation of their own when
// the turn counts at most len(counters) (an ordinary turn counts four:
// the answer, its time, the next card reached and its question).
type foldRoom struct {
	fold     store.FunnelFold
	counters [8]store.FunnelFact
}

// foldsInTurn returns the session store as a store.TurnFolds when it
// writes the turns' folds of conversation conv with the turns themselves
// (the embedded engine, the Redis engine on one node, or on a Cluster for
// the ids it placed): the turn then needs no fold after it, and no
// pending mark for its fold.
func (s *Service) foldsInTurn(conv string) (store.TurnFolds, bool) {
	if s.cfg.Funnels == nil {
		return nil, false
	}
	tf, ok := s.store.(store.TurnFolds)
	if !ok || !tf.FoldsTurns(s.cfg.Funnels, conv) {
		return nil, false
	}
	return tf, true
}

// inTurnFold is the fold TurnFolded writes with a turn, written in room
// (nil: nothing to count). When sess records what the funnel counted of
// it (Funnel: a conversation started since it is kept), the fold is
// Counted: the store writes it only at the version sess was read at, so
// the facts that record does not name are exactly the new ones; sess gets
// the record with them. A session stored before keeps the rollup's record
// of its facts (the fold's names, deduplicated by the store) until it
// ends.
func inTurnFold(room *foldRoom, sess *engine.Session, entries []store.Entry, waiting string, asked time.Time, start bool) *store.FunnelFold {
	if sess == nil {
		return nil
	}
	// The facts are only read (but for a session stored before the
	// record, whose fold gets a copy): on the stack when they fit.
	var buf [8]store.FunnelFact
	facts := turnFacts(buf[:0], sess, entries, waiting, asked, start)
	if len(facts) == 0 {
		return nil
	}
	if sess.Funnel == nil {
		room.fold = store.FunnelFold{Conv: sess.ID, Key: FunnelKeyOf(sess), Facts: slices.Clone(facts)}
		return &room.fold
	}
	counters, rec := countNew(room.counters[:0], sess.Funnel, sess.StartedAt, facts)
	sess.Funnel = rec
	if len(counters) == 0 {
		return nil
	}
	room.fold = store.FunnelFold{Conv: sess.ID, Key: FunnelKeyOf(sess), Facts: counters, Counted: true}
	return &room.fold
}

// countNew appends to counters the counters of the facts rec does not
// name, in order (each fact's, then its time's when the fact it is timed
// from is in the record or came before it), as the store's fold would
// count them, and returns them with the record with them: a new one (rec
// is shared with the session cache), or rec when nothing is new. A name
// given twice counts once.
func countNew(counters []store.FunnelFact, rec *engine.FunnelCounted, started time.Time, facts []store.FunnelFact) ([]store.FunnelFact, *engine.FunnelCounted) {
	next := rec
	for _, f := range facts {
		if slices.Contains(next.Facts, f.Name) {
			continue
		}
		if next == rec {
			// Two allocations: the record with room for its times, and
			// its names; and the counters' when they may not fit.
			room := &countedRoom{rec: engine.FunnelCounted{Facts: append(make([]string, 0, len(rec.Facts)+len(facts)), rec.Facts...)}}
			room.rec.At = append(room.at[:0], rec.At...)
			next = &room.rec
			counters = slices.Grow(counters, len(facts)+timedFacts(facts))
		}
		next.Facts = append(next.Facts, f.Name)
		counters = append(counters, store.FunnelFact{Counter: f.Counter})
		at := f.At.UnixMilli() - started.UnixMilli()
		if t0, ok := next.At.Get(f.Since); ok && f.Since != "" {
			counters = append(counters, store.FunnelFact{Counter: timedCounter(f.Timing, at-t0)})
			// Only this fact is timed from it, and it counts once.
			next.At = next.At.Delete(f.Since)
		}
		if strings.HasPrefix(f.Name, askedPrefix) {
			next.At = next.At.Set(f.Name, at)
		}
	}
	return counters, next
}

// countedRoom is a record countNew makes, with room for its times: as
// many as a conversation usually waits on (one question; two while the
// next one is added before the answered one's time is dropped), so the
// times take no allocation of their own.
type countedRoom struct {
	rec engine.FunnelCounted
	at  [2]engine.FunnelTime
}

// timedFacts is how many of facts are timed from another (Since): each
// may count its time too.
func timedFacts(facts []store.FunnelFact) int {
	n := 0
	for _, f := range facts {
		if f.Since != "" {
			n++
		}
	}
	return n
}

// timedCounter is the counter of a time ms from a fact's Since to it,
// whose Timing is timing: timing + "|" + its bucket's name, made once a
// card.
func timedCounter(timing string, ms int64) string {
	if card, ok := strings.CutPrefix(timing, "time|"); ok {
		if n := factNamesOf(card); n.timing == timing {
			return n.timedCounter(ms)
		}
	}
	return timing + "|" + store.FunnelBucket(ms)
}

// askedPrefix starts the names of the facts a later one is timed from: a
// question's, which its answer's Since names (FunnelFacts).
const askedPrefix = "asked|"

// redoFunnel folds a conversation's whole transcript again, for the
// sweep: facts already counted are not counted twice.
func (s *Service) redoFunnel(ctx context.Context, conv string, sess *engine.Session, entries []store.Entry) error {
	if s.cfg.Funnels == nil || sess.Funnel != nil {
		// A session that records what the funnel counted had every
		// turn's facts counted in the turn's own write.
		return nil
	}
	facts := append([]store.FunnelFact{{Name: "started", Counter: "started", At: sess.StartedAt}}, FunnelFacts(entries, "")...)
	return s.cfg.Funnels.Fold(ctx, conv, FunnelKeyOf(sess), facts, s.funnelKeep(), "")
}

// TurnLeavesWork is the pending rule of an App's sessions: a turn that
// leaves work (LeavesWork), or, with the funnel on, any turn that stored
// entries, whose facts the funnel must count even if this process dies
// before it folds them.
func TurnLeavesWork(entries []store.Entry) bool {
	return len(entries) > 0 || LeavesWork(entries)
}
