package embedded

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/retry"
	"github.com/playbook-dev/playbook/store"
)

// Sessions keeps conversations in a DB (store.Sessions and
// store.PendingMarks). A turn reads the session in a snapshot, runs the
// step outside any transaction, and commits in one Update that checks the
// version, as the Redis engine's script does.
//
// Keys: a conversation's keys share the prefix K("c", conv), so the keys
// one turn writes sit together (mostly on one B-tree leaf page, one page
// for the commit to rewrite). sessionKey, K("c", conv, "s"), holds the
// version, the last entry id and the session JSON, expiring after the
// idle TTL; K("c", conv, "m", ms, seq) the transcript entries and
// K("c", conv, "d", clientID) the answered client ids, deleted with the
// session (by Delete, or by the sweep when it expires). K("c", conv, "k")
// marks a kept transcript (KeepTranscript): the sweep then leaves the
// entries and the mark. Data directories
// of the earlier layout are migrated at Open (see layout.go).
type Sessions struct {
	db    *DB
	opts  store.SessionOptions
	cache *store.SessionCache // the last session of each conversation, decoded
}

var (
	_ store.Sessions           = (*Sessions)(nil)
	_ store.PendingMarks       = (*Sessions)(nil)
	_ store.EncodedTranscripts = (*Sessions)(nil)
)

// NewSessions returns the sessions of db.
func NewSessions(db *DB, opts store.SessionOptions) *Sessions {
	if opts.TTL <= 0 {
		opts.TTL = store.DefaultTTL
	}
	s := &Sessions{db: db, opts: opts, cache: store.NewSessionCache(store.DefaultSessionCacheSize, nil)}
	db.OnExpire("c", func(tx *Tx, key []byte) error {
		parts, err := SplitKey(key)
		if err != nil || len(parts) != 3 || parts[2] != "s" {
			return err // only the session expires
		}
		conv, _ := parts[1].(string)
		s.cache.Drop(conv, -1)
		return expireConversation(tx, conv)
	})
	return s
}

// Keys of a conversation. The ones every turn makes (the session, its
// entries, its client id) are K's encoding built in one buffer of their
// size: K would box the id and the numbers (an allocation each) and grow
// its buffer past 32 bytes, for keys of 34 to 53.
func convKey(conv string) []byte    { return K("c", conv) }
func sessionKey(conv string) []byte { return convPart(conv, "s", 0) }
func doneKey(conv, clientID string) []byte {
	return appendString(convPart(conv, "d", 2+len(clientID)), clientID)
}
func entryKey(conv string, ms, seq int64) []byte {
	return appendInt(appendInt(convPart(conv, "m", 18), ms), seq)
}
func entriesKey(conv string) []byte { return K("c", conv, "m") }
func doneKeys(conv string) []byte   { return K("c", conv, "d") }

// convPart is K("c", conv, part) with room for more bytes after it.
func convPart(conv, part string, more int) []byte {
	k := make([]byte, 0, 3+2+len(conv)+2+len(part)+more)
	return appendString(appendString(appendString(k, "c"), conv), part)
}

// keptKey marks a conversation whose transcript outlives its session
// (KeepTranscript).
func keptKey(conv string) []byte { return K("c", conv, "k") }

func deleteConversation(tx *Tx, conv string) error {
	// The session first: Delete drops its expiry index entry too.
	if err := tx.Delete(sessionKey(conv)); err != nil {
		return err
	}
	_, err := tx.DeletePrefix(convKey(conv))
	return err
}

// expireConversation deletes what an expired session leaves: everything,
// or, when its transcript is kept, the session and the answered client
// ids only.
func expireConversation(tx *Tx, conv string) error {
	kept, err := tx.Has(keptKey(conv))
	if err != nil || !kept {
		if err == nil {
			err = deleteConversation(tx, conv)
		}
		return err
	}
	if err := tx.Delete(sessionKey(conv)); err != nil {
		return err
	}
	_, err = tx.DeletePrefix(doneKeys(conv))
	return err
}

// hasTranscript reports whether conversation conv's transcript can be
// read: its session is there, or its transcript is kept.
func hasTranscript(tx *Tx, conv string) (bool, error) {
	ok, err := tx.Has(sessionKey(conv))
	if err != nil || ok {
		return ok, err
	}
	return tx.Has(keptKey(conv))
}

// sessionRecord is the stored form: 8 bytes version, 8 bytes last entry
// milliseconds, 8 bytes last entry sequence, then the session JSON.
type sessionRecord struct {
	version int64
	lastMs  int64
	lastSeq int64
	data    []byte
}

func (r sessionRecord) encode() []byte {
	b := make([]byte, 24, 24+len(r.data))
	binary.BigEndian.PutUint64(b, uint64(r.version))
	binary.BigEndian.PutUint64(b[8:], uint64(r.lastMs))
	binary.BigEndian.PutUint64(b[16:], uint64(r.lastSeq))
	return append(b, r.data...)
}

func readSession(tx *Tx, id string) (sessionRecord, bool, error) {
	v, ok, err := tx.Get(sessionKey(id))
	if err != nil || !ok {
		return sessionRecord{}, false, err
	}
	if len(v) < 24 {
		return sessionRecord{}, false, fmt.Errorf("conversation %s: bad stored session", id)
	}
	return sessionRecord{
		version: int64(binary.BigEndian.Uint64(v)),
		lastMs:  int64(binary.BigEndian.Uint64(v[8:])),
		lastSeq: int64(binary.BigEndian.Uint64(v[16:])),
		data:    v[24:],
	}, true, nil
}

// sessionHead reads the stored session's version and last entry id in a
// write transaction, without copying the session's JSON; prev is the
// stored record as it is (nil: none), for putOver. key is
// sessionKey(id).
func sessionHead(tx *Tx, id string, key []byte) (rec sessionRecord, prev []byte, err error) {
	prev, err = tx.t.get(key)
	if err != nil || prev == nil {
		return sessionRecord{}, nil, err
	}
	v, _, ok := tx.live(prev)
	if !ok {
		return sessionRecord{}, prev, nil // expired: as if missing
	}
	if len(v) < 24 {
		return sessionRecord{}, nil, fmt.Errorf("conversation %s: bad stored session", id)
	}
	return sessionRecord{
		version: int64(binary.BigEndian.Uint64(v)),
		lastMs:  int64(binary.BigEndian.Uint64(v[8:])),
		lastSeq: int64(binary.BigEndian.Uint64(v[16:])),
	}, prev, nil
}

// Channel is the Bus channel of a conversation's new entries.
func (s *Sessions) Channel(id string) string { return "pb:{c:" + id + "}:live" }

// Load returns a conversation's session and version.
func (s *Sessions) Load(ctx context.Context, id string) (*engine.Session, int64, error) {
	var rec sessionRecord
	var ok bool
	err := s.db.View(ctx, func(tx *Tx) error {
		var err error
		rec, ok, err = readSession(tx, id)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	var sess engine.Session
	if err := json.Unmarshal(rec.data, &sess); err != nil {
		return nil, 0, fmt.Errorf("conversation %s: %w", id, err)
	}
	return &sess, rec.version, nil
}

// Commit writes sess as the version after version (see store.Sessions).
func (s *Sessions) Commit(ctx context.Context, id string, version int64, sess *engine.Session, clientID string, entries []store.Entry) (store.Result, error) {
	return s.commit(ctx, id, version, sess, clientID, entries, nil, 0, false, nil, false)
}

// commit is Commit with the turn's funnel fold (nil: none), written in
// the turn's own transaction, kept keep. folded says the turn came
// through TurnFolds (its fold needs no mark: SessionOptions.PendingFolded
// decides, a new conversation aside unless its inbox record goes with
// it). start, when not nil, is a new conversation's inbox record, written
// in the same transaction (CreateStarted). handed: sess is a turn's
// step's, which nobody changes after the turn: the cache keeps it as it
// is (store.SessionCache.Keep), not a copy.
func (s *Sessions) commit(ctx context.Context, id string, version int64, sess *engine.Session, clientID string, entries []store.Entry, fold *store.FunnelFold, keep time.Duration, folded bool, start *startRecord, handed bool) (store.Result, error) {
	data, err := json.Marshal(sess)
	if err != nil {
		return store.Result{}, err
	}
	// The entries in the compact form the Redis transcript keeps
	// (store.EncodeEntry): half the bytes of the entry's JSON, and no
	// time to format. store.DecodeEntry reads it and the entry's JSON
	// that versions before stored, so a transcript may hold both.
	encoded := make([][]byte, len(entries))
	for i := range entries {
		if encoded[i], err = store.EncodeEntry(&entries[i]); err != nil {
			return store.Result{}, err
		}
	}
	mark := ""
	pending := s.opts.Pending
	if folded && (version != 0 || start != nil) && s.opts.PendingFolded != nil {
		// A new conversation is marked as Create marks it (its start
		// leaves its inbox record to write), unless its record is
		// written in its commit.
		pending = s.opts.PendingFolded
	}
	if pending != nil && (pending(entries) || version == 0 && s.opts.PendingCreate != nil && s.opts.PendingCreate(ctx)) {
		mark = id + "|" + newNonce()
	}
	var folds []store.FunnelFold
	if fold != nil && len(fold.Facts) > 0 {
		folds = []store.FunnelFold{{Conv: id, Key: fold.Key, Facts: fold.Facts, Counted: fold.Counted}}
	}
	foldErrs := make([]error, len(folds))
	// A turn nobody else follows is not published: this engine has one
	// process, and its caller follows for itself (store.TurnReads.Quiet).
	quiet := false
	if r := store.TurnReadsOf(ctx); r != nil {
		quiet = r.Quiet
	}
	var res store.Result
	err = s.db.Batch(ctx, func(tx *Tx) error {
		res = store.Result{}
		var dk []byte // doneKey(id, clientID), looked up, then written
		if clientID != "" {
			dk = doneKey(id, clientID)
			done, ok, err := tx.Get(dk)
			if err != nil {
				return err
			}
			if ok {
				first, last, _ := strings.Cut(string(done), " ")
				res.Duplicate = true
				if first != "" {
					res.Entries, err = rangeEntries(tx, id, first, last)
				}
				// A folded turn's first try wrote its fold and its mark
				// in its own commit: a repeat of it marks nothing.
				if err == nil && mark != "" && !folded {
					res.Pending = mark
					err = putNewMark(tx, mark, s.markTime(tx))
				}
				return err
			}
		}
		sk := sessionKey(id)
		rec, prev, err := sessionHead(tx, id, sk)
		if err != nil {
			return err
		}
		if rec.version != version {
			return store.ErrStale
		}
		now := tx.Now()
		expires := now.Add(s.opts.TTL)
		ms := now.UnixMilli()
		for i := range entries {
			if ms > rec.lastMs {
				rec.lastMs, rec.lastSeq = ms, 0
			} else {
				rec.lastSeq++
			}
			entries[i].ID = strconv.FormatInt(rec.lastMs, 10) + "-" + strconv.FormatInt(rec.lastSeq, 10)
			// After the session's last entry: a new key.
			if err := tx.putNew(entryKey(id, rec.lastMs, rec.lastSeq), encoded[i]); err != nil {
				return err
			}
		}
		rec.version++
		rec.data = data
		if err := tx.putOver(sk, rec, expires, prev); err != nil {
			return err
		}
		if clientID != "" {
			span := " "
			if len(entries) > 0 {
				span = entries[0].ID + " " + entries[len(entries)-1].ID
			}
			// Looked up above: not there.
			if err := tx.putNew(dk, []byte(span)); err != nil {
				return err
			}
		}
		if len(folds) > 0 {
			// The fold FoldMany would write, in this commit. A
			// conversation whose stored facts do not decode folds
			// nothing (foldErrs[0]; a sweep's fold of it would fail
			// too): the turn is stored all the same.
			if err := foldAll(tx, folds, keep, foldErrs); err != nil {
				return err
			}
		}
		if mark != "" {
			if err := putNewMark(tx, mark, s.markTime(tx)); err != nil {
				return err
			}
		}
		if start != nil {
			if err := startIn(tx, start.c, start.retention); err != nil {
				return err
			}
		}
		// A new conversation is not published either: nobody can follow
		// it before it is written.
		if len(entries) > 0 && !quiet && version != 0 {
			tx.Publish(s.Channel(id), liveOf(entries, encoded))
		}
		res = store.Result{Version: rec.version, Entries: entries, Pending: mark}
		return nil
	})
	if err != nil {
		return store.Result{}, err
	}
	switch {
	case res.Duplicate:
	case handed:
		s.cache.Keep(id, res.Version, sess, nil)
	default:
		s.cache.Put(id, res.Version, sess, nil)
	}
	return res, nil
}

// liveOf is store.EncodeLive(entries) from the entries' stored form
// (store.EncodeEntry, which store.DecodeLive reads as it reads the
// entries' JSON), already encoded for the transcript: each entry encoded
// once.
func liveOf(entries []store.Entry, encoded [][]byte) string {
	n := 0
	for i := range entries {
		n += len(entries[i].ID) + 2 + len(encoded[i])
	}
	var b strings.Builder
	b.Grow(n)
	for i := range entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(entries[i].ID)
		b.WriteByte(' ')
		b.Write(encoded[i])
	}
	return b.String()
}

// maxTries bounds how often Turn re-runs a step that lost a race.
const maxTries = 30

// Turn runs one atomic turn (see store.Sessions).
func (s *Sessions) Turn(ctx context.Context, id, clientID string, step store.Step) (store.Result, error) {
	return s.turn(ctx, id, clientID, 0, false, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		next, entries, err := step(sess)
		return next, entries, nil, err
	})
}

// turn is Turn whose step may return the turn's funnel fold, committed
// with the turn (kept keep); folded: see commit.
func (s *Sessions) turn(ctx context.Context, id, clientID string, keep time.Duration, folded bool, step store.FoldStep) (store.Result, error) {
	var r store.Result
	err := retry.Do(ctx, retry.Policy{Tries: maxTries, Base: time.Millisecond, Max: 50 * time.Millisecond}, func(ctx context.Context) error {
		// The cached session is a guess Commit checks (see store.SessionCache).
		var sess *engine.Session
		c, ok := s.cache.Get(id)
		v := c.Version
		if ok {
			var err error
			if sess, err = c.Session(nil); err != nil {
				ok = false
			}
		}
		if !ok {
			var err error
			if sess, v, err = s.Load(ctx, id); err != nil {
				return retry.Permanent(err)
			}
		}
		next, entries, fold, err := step(sess)
		if err != nil {
			return retry.Permanent(err)
		}
		r, err = s.commit(ctx, id, v, next, clientID, entries, fold, keep, folded, nil, true)
		if errors.Is(err, store.ErrStale) {
			s.cache.Drop(id, -1)
			return err
		}
		return retry.Permanent(err)
	})
	switch {
	case err == nil:
		return r, nil
	case ctx.Err() != nil:
		return store.Result{}, err
	case errors.Is(err, store.ErrStale):
		return store.Result{}, store.ErrConflict
	}
	return r, err
}

var _ store.TurnFolds = (*Sessions)(nil)

// FoldsTurns implements store.TurnFolds: when f is the funnel rollup of
// the same DB, TurnFolded and CreateFolded write a turn's fold in the
// turn's own (group-committed) transaction, as the separate FoldMany
// would have (the same code, the same counts): no pending mark for the
// fold, no transaction after the turn.
func (s *Sessions) FoldsTurns(f store.Funnels, _ string) bool {
	ef, ok := f.(*Funnels)
	return ok && ef.db == s.db
}

// TurnFolded implements store.TurnFolds. A duplicate or a stale try
// folds nothing (its writes are not committed).
func (s *Sessions) TurnFolded(ctx context.Context, id, clientID string, keep time.Duration, step store.FoldStep) (store.Result, error) {
	return s.turn(ctx, id, clientID, keep, true, step)
}

// CreateFolded implements store.TurnFolds: Create with the first turn's
// fold, marked as Create marks.
func (s *Sessions) CreateFolded(ctx context.Context, sess *engine.Session, entries []store.Entry, fold *store.FunnelFold, keep time.Duration) (store.Result, error) {
	r, err := s.commit(ctx, sess.ID, 0, sess, "", entries, fold, keep, true, nil, false)
	if errors.Is(err, store.ErrStale) {
		return r, store.ErrExists
	}
	return r, err
}

var _ store.InboxStarts = (*Sessions)(nil)

// StartsInbox implements store.InboxStarts: when in is the inbox of the
// same DB, CreateStarted writes a new conversation's inbox record (as
// Inbox.Start, the same code) in the conversation's own commit.
func (s *Sessions) StartsInbox(in store.Inbox, _ string) bool {
	ei, ok := in.(*Inbox)
	return ok && ei.db == s.db
}

// CreateStarted implements store.InboxStarts: CreateFolded (fold nil:
// none, the caller folds after) whose commit writes c too (StartsInbox).
func (s *Sessions) CreateStarted(ctx context.Context, sess *engine.Session, entries []store.Entry, fold *store.FunnelFold, keep time.Duration, c *store.Conversation, retention time.Duration) (store.Result, error) {
	// Without a fold the caller folds after the create: marked as
	// Create marks (Pending), not as a folded turn.
	r, err := s.commit(ctx, sess.ID, 0, sess, "", entries, fold, keep, fold != nil && len(fold.Facts) > 0, &startRecord{c: c, retention: retention}, false)
	if errors.Is(err, store.ErrStale) {
		return r, store.ErrExists
	}
	return r, err
}

// startRecord is a new conversation's inbox record that its commit
// writes (CreateStarted).
type startRecord struct {
	c         *store.Conversation
	retention time.Duration
}

// Create stores a new conversation with its first entries.
func (s *Sessions) Create(ctx context.Context, sess *engine.Session, entries []store.Entry) (store.Result, error) {
	r, err := s.Commit(ctx, sess.ID, 0, sess, "", entries)
	if errors.Is(err, store.ErrStale) {
		return r, store.ErrExists
	}
	return r, err
}

// Append adds entries to a conversation's transcript.
func (s *Sessions) Append(ctx context.Context, id string, entries []store.Entry) ([]store.Entry, error) {
	_, err := s.Turn(ctx, id, "", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		return sess, entries, nil
	})
	return entries, err
}

// Alive reports which of the conversations exist.
func (s *Sessions) Alive(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := s.db.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			ok, err := tx.Has(sessionKey(id))
			if err != nil {
				return err
			}
			out[id] = ok
		}
		return nil
	})
	return out, err
}

// Delete removes conversations.
func (s *Sessions) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		s.cache.Drop(id, -1)
	}
	return s.db.Update(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if err := deleteConversation(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// KeepTranscript implements store.Sessions: a mark under the
// conversation's prefix, which the session's expiry leaves with the
// entries.
func (s *Sessions) KeepTranscript(ctx context.Context, id string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		if ok, err := tx.Has(sessionKey(id)); err != nil || !ok {
			return err // gone already
		}
		return tx.Put(keptKey(id), nil)
	})
}

// Transcript returns up to count entries after the entry id after.
func (s *Sessions) Transcript(ctx context.Context, id, after string, count int64) ([]store.Entry, error) {
	start := entriesKey(id)
	if after != "" && after != "0" {
		ms, seq, err := parseEntryID(after)
		if err != nil {
			return nil, err
		}
		start = append(entryKey(id, ms, seq), 0)
	}
	var out []store.Entry
	err := s.db.View(ctx, func(tx *Tx) error {
		if ok, err := hasTranscript(tx, id); err != nil || !ok {
			return err // an expired conversation has no transcript, unless kept
		}
		return tx.ScanRange(start, PrefixEnd(entriesKey(id)), false, func(k, v []byte) (bool, error) {
			e, err := decodeStored(k, v)
			if err != nil {
				return false, fmt.Errorf("conversation %s: %w", id, err)
			}
			out = append(out, e)
			return count <= 0 || int64(len(out)) < count, nil
		})
	})
	return out, err
}

// EncodedTranscript implements store.EncodedTranscripts: the stored
// entries as they are, each after its id, one a line.
func (s *Sessions) EncodedTranscript(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	err := s.db.View(ctx, func(tx *Tx) error {
		if ok, err := hasTranscript(tx, id); err != nil || !ok {
			return err // an expired conversation has no transcript, unless kept
		}
		return tx.Scan(entriesKey(id), func(k, v []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 5 {
				return false, fmt.Errorf("conversation %s: bad transcript key %q", id, k)
			}
			ms, _ := parts[3].(int64)
			seq, _ := parts[4].(int64)
			if len(out) > 0 {
				out = append(out, '\n')
			}
			out = strconv.AppendInt(out, ms, 10)
			out = append(out, '-')
			out = strconv.AppendInt(out, seq, 10)
			out = append(out, ' ')
			out = append(out, v...)
			return true, nil
		})
	})
	return out, err
}

// rangeEntries returns the entries from id first to id last, inclusive.
func rangeEntries(tx *Tx, conv, first, last string) ([]store.Entry, error) {
	fms, fseq, err := parseEntryID(first)
	if err != nil {
		return nil, err
	}
	lms, lseq, err := parseEntryID(last)
	if err != nil {
		return nil, err
	}
	var out []store.Entry
	err = tx.ScanRange(entryKey(conv, fms, fseq), append(entryKey(conv, lms, lseq), 0), false, func(k, v []byte) (bool, error) {
		e, err := decodeStored(k, v)
		out = append(out, e)
		return err == nil, err
	})
	return out, err
}

func decodeStored(k, v []byte) (store.Entry, error) {
	parts, err := SplitKey(k)
	if err != nil || len(parts) != 5 {
		return store.Entry{}, fmt.Errorf("bad transcript key %q", k)
	}
	ms, _ := parts[3].(int64)
	seq, _ := parts[4].(int64)
	return store.DecodeEntry(strconv.FormatInt(ms, 10)+"-"+strconv.FormatInt(seq, 10), v)
}

// parseEntryID parses an entry id, "MS-SEQ" (or "MS", meaning MS-0).
func parseEntryID(id string) (ms, seq int64, err error) {
	a, b, hasSeq := strings.Cut(id, "-")
	ms, err = strconv.ParseInt(a, 10, 64)
	if err == nil && hasSeq {
		seq, err = strconv.ParseInt(b, 10, 64)
	}
	if err != nil || ms < 0 || seq < 0 {
		return 0, 0, fmt.Errorf("bad transcript entry id %q (want MILLISECONDS-SEQUENCE)", id)
	}
	return ms, seq, nil
}

func newNonce() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
