package conversation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// StartRequest is a new conversation.
type StartRequest struct {
	// Program is the playbook version it runs (Registry.Pick or Current).
	Program *engine.Program
	Locale  string
	Visitor engine.Visitor
	// Previous are the conversations this one follows (the visitor's
	// earlier chats), newest first.
	Previous []string
}

// Start begins a conversation: the playbook's first step, stored with its
// entries in one write, then the conversation's inbox record (in the same
// write when the store can: store.InboxStarts) and the step's effects. created, when not nil, is called once the conversation
// is stored and in the inbox, before the effects run: the visitor gets the
// greeting without waiting for them, and an agent who hears of the
// conversation from the visitor finds it in the inbox. Work that fails after the
// store is logged and left marked for the recovery sweep; Start then still
// returns the stored conversation.
func (s *Service) Start(ctx context.Context, req StartRequest, created func(*engine.Session, store.Result)) (*engine.Session, store.Result, error) {
	prog := req.Program
	if prog == nil {
		return nil, store.Result{}, fmt.Errorf("conversation: start without a playbook")
	}
	now := s.now().UTC()
	var place func([]byte) (string, bool)
	if p, ok := s.store.(store.PlacedIDs); ok {
		place = p.PlaceID
	}
	sess := engine.NewSession(prog, newIDAt(now, place), now)
	vis := req.Visitor
	sess.Visitor = vis
	ev := engine.Event{Kind: engine.EventStart, Locale: req.Locale, Visitor: &vis}
	if err := s.World(ctx, prog, sess, &ev); err != nil {
		return nil, store.Result{}, err
	}
	sess, effs := engine.Step(prog, sess, ev)
	entries := s.Entries(prog, sess, nil, effs, ev.Now)
	tf, inTurn := s.foldsInTurn(sess.ID)
	var fold *store.FunnelFold
	if inTurn {
		// The session records what the funnel counted of it: its
		// turns' folds need no record of their own (inTurnFold).
		sess.Funnel = &engine.FunnelCounted{}
		fold = inTurnFold(new(foldRoom), sess, entries, "", time.Time{}, true)
	}
	var res store.Result
	var err error
	// rec: the inbox record, when the store writes it with the
	// conversation (one Redis node, the embedded engine): then no write
	// after the create, and no pending mark for the record.
	var rec *handoff.Conversation
	if is, ok := s.inbox.StartsWith(s.store, sess.ID); ok {
		var retention time.Duration
		rec, retention = s.inbox.Record(startRecord(sess, prog, req.Previous, AwayTeam(entries)))
		res, err = is.CreateStarted(ctx, sess, entries, fold, s.funnelKeep(), rec, retention)
		if errors.Is(err, store.ErrVisitorList) {
			// Stored, with its record: only the visitor's list of
			// conversations (another slot of a Redis Cluster) missed it.
			s.log.Warn("recording conversation in its visitor's conversations", "conversation", sess.ID, "err", err)
			err = nil
		}
	} else if inTurn {
		res, err = tf.CreateFolded(ctx, sess, entries, fold, s.funnelKeep())
	} else {
		res, err = s.store.Create(ctx, sess, entries)
	}
	if err != nil {
		return nil, res, fmt.Errorf("creating conversation: %w", err)
	}
	s.m.Started(prog.ID)
	s.countEffects(prog, engine.StatusNew, sess, effs)
	ctx = context.WithoutCancel(ctx) // the conversation exists: finish its work
	var inboxErr error
	if rec != nil {
		inboxErr = s.started(ctx, rec)
	} else {
		inboxErr = s.StartInbox(ctx, sess, prog, req.Previous, AwayTeam(res.Entries))
	}
	if created != nil {
		created(sess, res)
	}
	var folded func() bool
	if !inTurn {
		folded = s.foldTurn(ctx, sess.ID, sess, res.Entries, "", time.Time{}, true, "")
	}
	if failed := s.Perform(ctx, sess.ID, prog, sess, effs, res.Entries); !failed && inboxErr == nil {
		if folded == nil {
			s.Done(ctx, res.Pending)
		} else {
			// The fold is written in the background: the mark is cleared
			// once it is.
			s.goFinish(func() {
				if !folded() {
					s.Done(ctx, res.Pending)
				}
			})
		}
	} else if folded != nil {
		s.goFinish(func() { folded() }) // logs a failure
	}
	return sess, res, nil
}

// idEncoding's alphabet is in byte order, so that ids compare as the
// bytes they encode do.
var idEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// NewID returns 128 random bits as 26 lowercase letters and digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// idMS and idSeq are the millisecond of the last id NewIDAt made and how
// many it made before in it.
var (
	idMu  sync.Mutex
	idMS  uint64
	idSeq uint16
)

// NewIDAt returns a conversation's id, made at now: 26 lowercase letters
// and digits that encode now's Unix milliseconds (48 bits), a count of the
// ids this process made before in that millisecond (16 bits), and then 64
// random bits. Ids made later sort after, so the conversations under way
// at one time are neighbours in an ordered store: on the embedded engine
// the turns of one commit then share B-tree pages (a commit rewrites every
// page it touched) instead of each touching its own corner of the tree.
// The count keeps a process's ids of one millisecond in the order made (two
// chats handed off in one millisecond keep their order in the team's
// queue, whose ties are broken by id). The 64 random bits keep ids
// unguessable.
func NewIDAt(now time.Time) string { return newIDAt(now, nil) }

// newIDAt is NewIDAt whose id place (when not nil) may refuse or change
// (store.PlacedIDs): the random bits are drawn again, the time and the
// count kept, until place takes one. The ids taken keep 64 random bits
// less what place refuses or changes (on a Redis Cluster it takes every
// id, its last three characters, 13 random bits, changed to land it in one
// of 256 slots, chosen from a start those bits pick: about 58 bits left,
// as when it refused 63 ids in 64).
func newIDAt(now time.Time, place func([]byte) (string, bool)) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	idMu.Lock()
	if ms != idMS {
		idMS, idSeq = ms, 0
	} else {
		idSeq++
	}
	seq := idSeq
	idMu.Unlock()
	b[6], b[7] = byte(seq>>8), byte(seq)
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if place == nil {
		_, _ = rand.Read(b[8:])
		return idEncoding.EncodeToString(b[:])
	}
	// A Redis Cluster takes the first id (PlaceID changes its last
	// characters), so the random bits are read one try at a time.
	var id [26]byte
	for {
		_, _ = rand.Read(b[8:])
		idEncoding.Encode(id[:], b[:])
		if id, ok := place(id[:]); ok {
			return id
		}
	}
}
