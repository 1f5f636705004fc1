package redis

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/retry"
	"github.com/playbook-dev/playbook/store"
)

// The errors and types of store, under the names this package always had.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = store.ErrConflict
	ErrExists   = store.ErrExists
	errStale    = store.ErrStale
)

type (
	// Entry is one item of a conversation's transcript (store.Entry).
	Entry = store.Entry
	// Result is what a committed turn stored (store.Result).
	Result = store.Result
)

var (
	_ store.Sessions           = (*Store)(nil)
	_ store.PendingMarks       = (*Store)(nil)
	_ store.EncodedTranscripts = (*Store)(nil)
)

// Store keeps sessions and transcripts in Redis. It is safe for concurrent
// use.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	ttl    time.Duration
	cache  *store.SessionCache // nil: every turn reads the session first
	// pending, pendingCreate: see Options.
	pending       func([]Entry) bool
	pendingFolded func([]Entry) bool
	pendingCreate func(ctx context.Context) bool
	now           func() time.Time
	// oneNode: rdb is one Redis node (not a Cluster), where the turn
	// script may write keys of other slots: its pending mark and its
	// funnel fold (TurnFolded; on a Cluster only a placed id's, whose
	// shard is in its slot). funnels: the rollup of the same prefix.
	oneNode bool
	funnels *Funnels
	// fleet is the process's (Engine.Sessions; nil: every turn is
	// published): a quiet turn's ARGV[5] (fleet.go).
	fleet *fleet
	// inbox and crm are the inbox and the CRM of the same prefix, whose
	// reads a turn may send with its write (store.TurnReads; their key
	// names and decoding only).
	inbox *Inbox
	crm   *CRM
	// pipes are go-redis pipelines kept for the turns' own (pipeline).
	pipes sync.Pool
}

// Options configure a Store.
type Options struct {
	// Prefix starts every key; default "pb:". Tests use a unique one.
	Prefix string
	// TTL is how long an idle conversation is kept; default 24h. Every turn
	// renews it.
	TTL time.Duration
	// CacheSize is how many sessions (the last version this process wrote
	// or read) are kept in memory, so that a turn is one round trip: the
	// turn script, which checks the version, instead of a read and the
	// script. A stale guess costs a read and a second try. Default 10,000;
	// negative: no cache.
	CacheSize int
	// Pending, when set, tells which turns leave work to do after they are
	// stored (records to create, a chat to queue). Such a turn is marked
	// in the store's pending set in the same round trip as the turn
	// itself; the caller clears the mark with Done once the work is done,
	// and a process that died before that leaves it for ClaimPending.
	Pending func(entries []Entry) bool
	// PendingFolded, when set, is Pending for the turns whose funnel fold
	// is written with the turn (TurnFolded, CreateFolded): the fold needs
	// no mark, so only the turns that leave other work are marked.
	PendingFolded func(entries []Entry) bool
	// PendingCreate, when set and true, marks a new conversation (Create)
	// pending too, whatever its entries: starting it leaves work (such as
	// a conversation.started event to emit). Needs Pending.
	PendingCreate func(ctx context.Context) bool
	// Now is the clock pending marks are stamped with (see ClaimPending);
	// default time.Now.
	Now func() time.Time
}

// DefaultCacheSize is the default Options.CacheSize.
const DefaultCacheSize = 10000

// New returns a Store on rdb (a *goredis.Client or *redis.ClusterClient).
func New(rdb goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "pb:"
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	_, one := rdb.(*goredis.Client)
	return &Store{rdb: rdb, prefix: opts.Prefix, ttl: opts.TTL, cache: store.NewSessionCache(opts.CacheSize, storedTimes), pending: opts.Pending, pendingFolded: opts.PendingFolded,
		pendingCreate: opts.PendingCreate, now: opts.Now, oneNode: one, funnels: NewFunnels(rdb, opts.Prefix),
		inbox: &Inbox{rdb: rdb, p: opts.Prefix, prev: newPreviousCache(previousCacheSize)}, crm: NewCRM(rdb, opts.Prefix)}
}

// CachedSessions is how many sessions the store holds in memory.
func (s *Store) CachedSessions() int { return s.cache.Len() }

// Client returns the Redis client.
func (s *Store) Client() goredis.UniversalClient { return s.rdb }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) keys(id string) []string {
	keys, _ := s.keysAndChannel(id)
	return keys
}

// keysAndChannel returns the conversation's three keys and its Channel,
// all in one string (one allocation), each a part of it.
func (s *Store) keysAndChannel(id string) ([]string, string) {
	return s.keysAndChannelQuiet(id, "")
}

// keysAndChannelQuiet is keysAndChannel with quiet (fleet.quietArg)
// after the channel, in the same string.
func (s *Store) keysAndChannelQuiet(id, quiet string) ([]string, string) {
	p := s.prefix
	all := p + "{c:" + id + "}:s" + p + "{c:" + id + "}:msgs" + p + "{c:" + id + "}:cid" + p + "{c:" + id + liveSuffix + quiet
	n := len(p) + len(id) + len("{c:}:")
	// Room for a turn's mark and fold keys (commit): one allocation.
	keys := make([]string, 3, 7)
	keys[0], keys[1], keys[2] = all[:n+1], all[n+1:2*n+5], all[2*n+5:3*n+8]
	return keys, all[3*n+8:]
}

// Channel is the pub/sub channel that carries a conversation's new entries
// to every process.
func (s *Store) Channel(id string) string { return s.prefix + "{c:" + id + liveSuffix }

// liveSuffix ends a conversation's Channel, after its prefix, "{c:" and its id.
const liveSuffix = "}:live"

// liveArg is the turn script's ARGV[5]: ch, the conversation's channel, or
// on a Cluster for a placed id its shard channel, a newline, the id and
// quiet (fleet.quietArg; on one node ch carries it: keysAndChannelQuiet).
// A Cluster's other channels are published whatever quiet says.
func (s *Store) liveArg(ch, quiet string) string {
	if !s.oneNode {
		if prefix, id, n, ok := placedChannel(ch); ok {
			// shardRoute's shard channel, a newline and the id, in one
			// allocation.
			return prefix + shardTag(n) + "live\n" + id + quiet
		}
	}
	return ch
}

//go:embed turn.lua
var turnLua string

// turnScript is turn.lua after foldLua, with the start record's last
// earlier conversation (store.MaxPrevious-1) written in as a string: a
// number given to redis.call costs a snprintf each call.
var turnScript = newBoxedScript(foldLua + strings.ReplaceAll(turnLua, "MAX_PREVIOUS_LAST", strconv.Itoa(store.MaxPrevious-1)))

// Load returns a conversation's session and its version, read from Redis.
func (s *Store) Load(ctx context.Context, id string) (*engine.Session, int64, error) {
	vs, data, err := s.loadRaw(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.cache.Drop(id, -1)
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("conversation %s: bad version %q", id, vs)
	}
	sess, err := decodeSession(id, data)
	if err != nil {
		return nil, 0, err
	}
	s.cache.Put(id, v, sess, data)
	return sess, v, nil
}

// loadRaw reads a session's version and JSON: a string "VERSION JSON", or
// the hash (v, s) a session was stored as before (the turn script replaces
// it by the string on the conversation's next turn).
func (s *Store) loadRaw(ctx context.Context, id string) (version string, data []byte, err error) {
	raw, err := s.rdb.Get(ctx, s.keys(id)[0]).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		return "", nil, ErrNotFound
	case goredis.HasErrorPrefix(err, "WRONGTYPE"):
		vals, err := s.rdb.HMGet(ctx, s.keys(id)[0], "v", "s").Result()
		if err != nil {
			return "", nil, err
		}
		v, _ := vals[0].(string)
		d, _ := vals[1].(string)
		if v == "" || d == "" {
			return "", nil, ErrNotFound
		}
		return v, []byte(d), nil
	case err != nil:
		return "", nil, err
	}
	v, d, ok := strings.Cut(string(raw), " ")
	if !ok {
		return "", nil, fmt.Errorf("conversation %s: bad stored session %.40q", id, raw)
	}
	return v, []byte(d), nil
}

// storedSession is the stored form of a session: engine.Session's JSON
// without its id (the key names it) and with its two times as Unix
// milliseconds under t0 and t1, about 85 bytes less a session. The older
// form (id, started_at and updated_at as RFC 3339 texts) is read too.
type storedSession struct {
	*engine.Session
	// ID, Started and Updated hide the session's fields of the same JSON
	// names: nothing is written under them; an older session's values are
	// read into them.
	ID      string          `json:"id,omitempty"`
	Started json.RawMessage `json:"started_at,omitempty"`
	Updated json.RawMessage `json:"updated_at,omitempty"`
	T0      int64           `json:"t0,omitempty"`
	T1      int64           `json:"t1,omitempty"`
}

// encodeSessionJSON is sess's stored form through encoding/json
// (appendSession writes the same bytes without it). Its times are kept to
// the millisecond.
func encodeSessionJSON(sess *engine.Session) ([]byte, error) {
	st := storedSession{Session: sess}
	if !sess.StartedAt.IsZero() {
		st.T0 = sess.StartedAt.UnixMilli()
	}
	if !sess.UpdatedAt.IsZero() {
		st.T1 = sess.UpdatedAt.UnixMilli()
	}
	return json.Marshal(st)
}

// storedTimes makes sess's times what a read of its stored form gives
// (milliseconds, UTC), so a cached session is the one a read would give.
func storedTimes(sess *engine.Session) {
	for _, t := range []*time.Time{&sess.StartedAt, &sess.UpdatedAt} {
		if !t.IsZero() {
			*t = time.UnixMilli(t.UnixMilli()).UTC()
		}
	}
}

func decodeSession(id string, data []byte) (*engine.Session, error) {
	var sess engine.Session
	st := storedSession{Session: &sess}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	sess.ID = id
	for _, t := range []struct {
		ms  int64
		raw json.RawMessage
		to  *time.Time
	}{{st.T0, st.Started, &sess.StartedAt}, {st.T1, st.Updated, &sess.UpdatedAt}} {
		switch {
		case t.ms != 0:
			*t.to = time.UnixMilli(t.ms).UTC()
		case len(t.raw) > 0:
			if err := json.Unmarshal(t.raw, t.to); err != nil {
				return nil, fmt.Errorf("conversation %s: %w", id, err)
			}
		}
	}
	return &sess, nil
}

// Commit writes sess as the version after version, appends entries and
// records clientID (when not empty), atomically. A stale version comes
// back as store.ErrStale (Turn retries it).
func (s *Store) Commit(ctx context.Context, id string, version int64, sess *engine.Session, clientID string, entries []Entry) (Result, error) {
	return s.commitFolded(ctx, id, version, sess, clientID, entries, nil, nil, false)
}

// commitFolded is Commit with the turn's funnel fold (nil: none) and a
// new conversation's inbox record (nil: none; CreateStarted). handed: sess
// is a turn's step's, which nobody changes after the turn: the cache
// keeps it as it is (SessionCache.Keep), not a copy.
func (s *Store) commitFolded(ctx context.Context, id string, version int64, sess *engine.Session, clientID string, entries []Entry, fold *inTurnFold, rec *startRecord, handed bool) (Result, error) {
	// The session's JSON goes into a pooled buffer, reused once the
	// script has answered (go-redis, the Coalescer's batch included, is
	// done with the arguments then); on an error it is left to the
	// collector, as the command may still be queued.
	buf := sessionBufs.Get().(*[]byte)
	data, err := appendSession((*buf)[:0], sess)
	if err != nil {
		return Result{}, err
	}
	r, err := s.commit(ctx, id, version, data, clientID, entries, fold, rec)
	reuse := err == nil || errors.Is(err, errStale)
	switch {
	case err == nil && !r.Duplicate:
		var kept bool
		if handed {
			kept = s.cache.Keep(id, r.Version, sess, data)
		} else {
			kept = s.cache.Put(id, r.Version, sess, data)
		}
		if kept {
			reuse = false // the cache holds data
		}
	case err != nil && !errors.Is(err, errStale):
		// The script may or may not have run; the next turn reads.
		s.cache.Drop(id, -1)
	}
	if reuse && cap(data) <= maxPooledSession {
		*buf = data[:0]
		sessionBufs.Put(buf)
	}
	return r, err
}

// countedRow is a counted fold's ARGV[9] (turn.lua): a fold, its row id
// taken from the row's key, and with no mark the rows' key too (not sent).
// countedRows is the same with the rows' key sent, for a store whose
// prefix holds "{fn:", where the script could not find the shard's tag
// in the row's key. By pointer: not boxed.
var countedRow, countedRows = "=", "=="

func (s *Store) commit(ctx context.Context, id string, version int64, data []byte, clientID string, entries []Entry, fold *inTurnFold, rec *startRecord) (Result, error) {
	nf := 0
	if fold != nil {
		nf = 5 * len(fold.Facts)
		if fold.Counted {
			nf = 1
		}
	}
	// The string and number arguments go to go-redis by pointer (it
	// writes a *string as the string, an *int64 as the number): one
	// allocation for them all instead of one each boxed.
	reads := store.TurnReadsOf(ctx)
	// A turn nobody else follows on this process may be left unpublished
	// when no other process hears it either (fleet.go): the script asks.
	quiet, chQuiet := "", ""
	if reads != nil && reads.Quiet && version != 0 {
		quiet = s.fleet.quietArg(s.oneNode)
	}
	if s.oneNode {
		chQuiet = quiet
	}
	keys, ch := s.keysAndChannelQuiet(id, chQuiet)
	v := &turnArgs{version: version, ttl: s.ttl.Milliseconds(), clientID: clientID, data: data}
	if version != 0 {
		// A new conversation is not published: nobody can follow it
		// before it is written (its id is new), and whoever follows it
		// afterwards reads it first (turn.lua).
		v.live = s.liveArg(ch, quiet)
	}
	args := make([]any, 0, 10+len(entries)+nf)
	args = append(args, &v.version, &v.data, &v.ttl, &v.clientID, &v.live, len(entries))
	mark := ""
	pending := s.pending
	if fold != nil && (version != 0 || rec != nil) && s.pendingFolded != nil {
		// A new conversation is marked as Create marks it (its start
		// leaves its inbox record to write), unless the script writes
		// its record too.
		pending = s.pendingFolded
	}
	if pending != nil && (pending(entries) || version == 0 && s.pendingCreate != nil && s.pendingCreate(ctx)) {
		// A turn that loses the race (stale) or repeats a client message
		// id (dup) writes no mark: the try that stored it did.
		mark = id + "|" + newNonce()
	}
	// On a Cluster a placed id's pending set is in its slot (pending.go).
	inScript := mark != "" && (s.oneNode || placedShardOf(id) >= 0)
	if inScript {
		v.mark, v.now = mark, s.now().UnixMilli()
		args = append(args, &v.mark, &v.now)
	} else {
		args = append(args, "", 0)
	}
	if fold != nil {
		nk := len(keys)
		if fold.Counted {
			// No keep: the counters only, and no row id: the script
			// takes it from the row's key (turn.lua).
			keys = fold.f.countedKeys(append(keys, ""), id, fold.Key)
			if fold.f.rowsSent {
				args = append(args, &countedRows, "")
			} else {
				args = append(args, &countedRow, "")
			}
		} else {
			keys, v.row = fold.f.foldKeys(append(keys, ""), id, fold.Key)
			v.keep = max(fold.keep.Milliseconds(), 1)
			args = append(args, &v.row, &v.keep)
		}
		if inScript {
			keys[nk] = s.markKey(mark)
		} else {
			// Not read (no mark): a key of the fold's slot.
			keys[nk] = keys[nk+1]
		}
		for i := range entries {
			b, err := store.EncodeEntry(&entries[i])
			if err != nil {
				return Result{}, err
			}
			args = append(args, v.entry(i, b))
		}
		if fold.Counted {
			field, err := countedField(fold.Facts)
			if err != nil {
				return Result{}, err
			}
			v.field = field
			args = append(args, &v.field)
		} else {
			args = appendFacts(args, fold.Facts)
		}
	} else {
		args = append(args, "", 0)
		if inScript {
			keys = append(keys, s.markKey(mark))
		}
		for i := range entries {
			b, err := store.EncodeEntry(&entries[i])
			if err != nil {
				return Result{}, err
			}
			args = append(args, v.entry(i, b))
		}
	}
	away := rec == nil && reads != nil && reads.Away != ""
	if rec != nil {
		args, keys = rec.add(s, id, args, keys)
	} else if away {
		// Inbox.Away with the turn (turn.lua): the record's key, the team
		// and 1.
		keys = s.recordKey(id, keys)
		args = append(args, reads.Away, 1)
	}
	if fold != nil && fold.Counted && !inScript {
		// A counted fold, no mark in the script: the row is KEYS[4], a
		// record KEYS[5] and the visitor's conversations KEYS[6]
		// (turn.lua), no unused keys before them (the two cost Redis
		// about 1.2 k instructions), nor the rows, whose key the script
		// makes from the row's when the row is new (about 2 k a turn);
		// with a prefix that holds "{fn:", the rows are KEYS[5] and the
		// record's keys one further.
		if fold.f.rowsSent {
			keys = append(keys[:3], keys[5:]...)
		} else {
			keys = append(append(keys[:3], keys[5]), keys[7:]...)
		}
	}
	var res []any
	var err error
	if reads.Wanted() || mark != "" && !inScript || rec != nil && rec.key != "" {
		// On a Cluster the pending set is in another slot: the mark goes
		// in the same round trip, after the turn (a turn that lost a race
		// then leaves a mark with nothing to do, which is harmless). So
		// do the reads the step asked for, and a start's visitor's list
		// (CreateStarted on a Cluster).
		zmark := mark
		if inScript {
			zmark = ""
		}
		res, err = s.runWith(ctx, id, zmark, keys, args, reads, rec)
	} else {
		res, err = turnScript.Run(ctx, s.rdb, keys, args).Slice()
	}
	if err != nil {
		return Result{}, err
	}
	status, _ := res[0].(string)
	switch status {
	case "ok":
		v, _ := strconv.ParseInt(res[1].(string), 10, 64)
		ids := res[2:]
		for i := range entries {
			if i < len(ids) {
				entries[i].ID, _ = ids[i].(string)
			}
		}
		if rec != nil && rec.key == "" {
			rec.read(s, id, ids[min(len(entries), len(ids)):])
		}
		if away && len(ids) > len(entries) {
			recorded, _ := ids[len(entries)].(string)
			reads.AwayRecorded = recorded == "1"
		}
		return Result{Version: v, Entries: entries, Pending: mark}, nil
	case "dup":
		if inScript {
			mark = ""
		}
		first, _ := res[1].(string)
		last, _ := res[2].(string)
		r := Result{Duplicate: true, Pending: mark}
		if first != "" {
			r.Entries, err = s.rangeEntries(ctx, id, first, last, 0)
		}
		return r, err
	case "stale":
		return Result{}, errStale
	}
	return Result{}, fmt.Errorf("turn script: unexpected reply %v", res)
}

// turnArgs are a turn script's string, number and bytes arguments
// (commit), passed by pointer: the session's JSON, and the entries' (room
// for an ordinary turn's).
type turnArgs struct {
	version, ttl, now, keep int64
	clientID, live, mark    string
	row, field              string
	data                    argBytes
	entries                 [4]argBytes
}

// entry returns the argument of the i-th entry's JSON b: by pointer into
// v when it has room, or else b boxed.
func (v *turnArgs) entry(i int, b []byte) any {
	if i < len(v.entries) {
		v.entries[i] = b
		return &v.entries[i]
	}
	return b
}

// argBytes is a bytes argument that goes to go-redis by pointer, as an
// encoding.BinaryMarshaler (written as its bytes, as a []byte is),
// instead of boxed: no allocation each.
type argBytes []byte

// MarshalBinary returns the bytes.
func (b *argBytes) MarshalBinary() ([]byte, error) { return *b, nil }

// maxTries bounds how often Turn re-runs a step that lost a race.
const maxTries = 30

// Turn runs one atomic turn: it loads the session, calls step, and commits
// what step returns, retrying from a fresh load when another writer got
// there first. The session comes from the store's cache when it has one, so
// a turn is usually a single round trip; a stale cached version is caught by
// the turn script and the turn runs again on the session read from Redis. A
// duplicate clientID is answered from the transcript without calling step
// again.
func (s *Store) Turn(ctx context.Context, id, clientID string, step store.Step) (Result, error) {
	return s.turn(ctx, id, clientID, 0, func(sess *engine.Session) (*engine.Session, []Entry, *store.FunnelFold, error) {
		next, entries, err := step(sess)
		return next, entries, nil, err
	})
}

// turn is Turn whose step may return a funnel fold, written with the turn
// (kept keep) on one node, or on a Cluster for a placed id.
func (s *Store) turn(ctx context.Context, id, clientID string, keep time.Duration, step store.FoldStep) (Result, error) {
	if c, ok := s.cache.Get(id); ok {
		sess, err := c.Session(func(data []byte) (*engine.Session, error) { return decodeSession(id, data) })
		if err == nil {
			next, entries, fold, err := step(sess)
			if err != nil {
				return Result{}, err
			}
			var room inTurnFold
			r, err := s.commitFolded(ctx, id, c.Version, next, clientID, entries, s.inTurn(&room, id, fold, keep), nil, true)
			if !errors.Is(err, errStale) {
				return r, err
			}
		}
		// Another tab or process wrote since: read and try again.
		s.cache.Drop(id, c.Version)
	}
	// Another tab or process won the race: read and try again after a
	// little wait, with jitter so the losers do not collide again in step.
	var r Result
	err := retry.Do(ctx, retry.Policy{Tries: maxTries, Base: time.Millisecond, Max: 50 * time.Millisecond}, func(ctx context.Context) error {
		sess, v, err := s.Load(ctx, id)
		if err != nil {
			return retry.Permanent(err)
		}
		next, entries, fold, err := step(sess)
		if err != nil {
			return retry.Permanent(err)
		}
		// A duplicate clientID is caught inside the script, which then
		// answers with the entries stored the first time; the step's
		// output is dropped (it is pure, so running it cost nothing else).
		var room inTurnFold
		r, err = s.commitFolded(ctx, id, v, next, clientID, entries, s.inTurn(&room, id, fold, keep), nil, true)
		if errors.Is(err, errStale) {
			return err
		}
		return retry.Permanent(err)
	})
	switch {
	case err == nil:
		return r, nil
	case ctx.Err() != nil:
		return Result{}, err
	case errors.Is(err, errStale):
		return Result{}, ErrConflict
	}
	return r, err
}

// inTurnFold is a funnel fold the turn script writes with the turn.
type inTurnFold struct {
	f     *Funnels
	Key   store.FunnelKey
	Facts []store.FunnelFact
	keep  time.Duration
	// Counted: the facts' counters only (store.FunnelFold.Counted).
	Counted bool
}

// inTurn is fold as the turn script writes it with the turn, kept keep;
// nil when the script does not fold it (no facts, or an id of another
// slot on a Cluster). It is written into room, the caller's variable,
// which stays on the caller's stack (commit keeps nothing of it), and
// room is returned: no allocation a turn.
func (s *Store) inTurn(room *inTurnFold, id string, fold *store.FunnelFold, keep time.Duration) *inTurnFold {
	if fold == nil || len(fold.Facts) == 0 || !s.oneNode && placedShardOf(id) < 0 {
		return nil
	}
	*room = inTurnFold{f: s.funnels, Key: fold.Key, Facts: fold.Facts, keep: keep, Counted: fold.Counted}
	return room
}

var _ store.TurnFolds = (*Store)(nil)

// FoldsTurns implements store.TurnFolds: when f is the rollup of this
// store's client and prefix (NewFunnels, Engine.Funnels), TurnFolded and
// CreateFolded write the fold in the turn script on one Redis node, and on
// a Cluster for a placed id (PlaceID), whose shard is in its own slot. A
// conversation of another id on a Cluster (made before ids were placed)
// has its shard in another slot: the caller folds after the turn, which
// is then marked pending.
func (s *Store) FoldsTurns(f store.Funnels, conv string) bool {
	rf, ok := f.(*Funnels)
	return ok && rf.rdb == s.rdb && rf.p == s.prefix && (s.oneNode || placedShardOf(conv) >= 0)
}

// TurnFolded implements store.TurnFolds.
func (s *Store) TurnFolded(ctx context.Context, id, clientID string, keep time.Duration, step store.FoldStep) (Result, error) {
	return s.turn(ctx, id, clientID, keep, step)
}

// CreateFolded implements store.TurnFolds.
func (s *Store) CreateFolded(ctx context.Context, sess *engine.Session, entries []Entry, fold *store.FunnelFold, keep time.Duration) (Result, error) {
	var room inTurnFold
	r, err := s.commitFolded(ctx, sess.ID, 0, sess, "", entries, s.inTurn(&room, sess.ID, fold, keep), nil, false)
	if errors.Is(err, errStale) {
		return r, ErrExists
	}
	return r, err
}

var _ store.InboxStarts = (*Store)(nil)

// StartsInbox implements store.InboxStarts: when in is the inbox of this
// store's client and prefix (Engine.Inbox), the turn script that creates
// a conversation writes its inbox record ({c:ID}:meta, in the
// conversation's slot). On one node it adds the conversation to its
// visitor's conversations too, reading the earlier ones first; on a
// Cluster the visitor's are in another slot, read and added to in the
// same pipeline (CreateStarted).
func (s *Store) StartsInbox(in store.Inbox, conv string) bool {
	ri, ok := in.(*Inbox)
	return ok && ri.rdb == s.rdb && ri.p == s.prefix
}

// CreateStarted implements store.InboxStarts: CreateFolded whose turn
// script writes c too (StartsInbox), in one EVALSHA; the visitor's earlier
// conversations it names are those before this one is added to them: the
// ones this process saw last for the visitor (the engine's cache), when
// the script finds the visitor's list as it was then (its size and its
// newest), else read by the script. It is marked only for the work its
// entries leave (Options.PendingFolded, when the fold goes with it) or
// PendingCreate.
//
// On a Cluster the visitor's conversations are in another slot: the
// record names those this process saw last for the visitor (the
// engine's cache, as Inbox.Start), and the pipeline that sends the
// script reads the visitor's list and adds the conversation to it, so a
// start is one round trip; when the read finds other ones (another
// process started the visitor's last conversation) a second puts the
// record's previous right. A create that loses (ErrExists) takes its
// addition back. When the visitor's list cannot be written the
// conversation and its record are stored all the same: CreateStarted
// returns the Result with an error that wraps store.ErrVisitorList.
func (s *Store) CreateStarted(ctx context.Context, sess *engine.Session, entries []Entry, fold *store.FunnelFold, keep time.Duration, c *store.Conversation, retention time.Duration) (Result, error) {
	rec := &startRecord{c: c, retention: retention}
	var room inTurnFold
	r, err := s.commitFolded(ctx, sess.ID, 0, sess, "", entries, s.inTurn(&room, sess.ID, fold, keep), rec, false)
	if rec.key != "" {
		return s.startedOnCluster(ctx, sess.ID, rec, r, err)
	}
	if errors.Is(err, errStale) {
		return r, ErrExists
	}
	return r, err
}

// startedOnCluster finishes CreateStarted on a Cluster once its pipeline
// ran (r, err: the create's): the visitor's list as read, the record's
// previous put right when the guess missed, a lost create's addition
// taken back.
func (s *Store) startedOnCluster(ctx context.Context, id string, rec *startRecord, r Result, err error) (Result, error) {
	cache := s.inbox.prev
	if err != nil {
		cache.forget(rec.key)
		if errors.Is(err, errStale) {
			if rec.added {
				// Ours, not the conversation's that exists: taken back.
				_ = s.rdb.ZRem(ctx, rec.key, id).Err()
			}
			return r, ErrExists
		}
		return r, err
	}
	if lerr := errors.Join(rec.prev.Err(), rec.adding.Err(), rec.expire.Err()); lerr != nil {
		cache.forget(rec.key)
		rec.c.Previous = rec.named
		return r, fmt.Errorf("%w: %w", store.ErrVisitorList, lerr)
	}
	found := slices.DeleteFunc(rec.prev.Val(), func(x string) bool { return x == id })
	if len(found) == 0 {
		found = nil
	}
	cache.put(rec.key, id, found, 0)
	rec.c.Previous = found
	if slices.Equal(found, rec.named) {
		return r, nil
	}
	meta := s.inbox.metaKey(id)
	if found == nil {
		err = s.rdb.HDel(ctx, meta, "previous").Err()
	} else {
		b, _ := json.Marshal(found)
		err = s.rdb.HSet(ctx, meta, "previous", string(b)).Err()
	}
	if err != nil {
		rec.c.Previous = rec.named
		return r, fmt.Errorf("%w: its record's previous: %w", store.ErrVisitorList, err)
	}
	return r, nil
}

// startRecord is a new conversation's inbox record that the turn script
// writes (CreateStarted).
type startRecord struct {
	c         *store.Conversation
	retention time.Duration
	// On one node, for a visitor with an id or email: list is the
	// visitor's conversations (KEYS[9]); size, guess and guessed the
	// earlier ones as this process last saw them, the script's arguments
	// and the ids (previousGuess; "" and nil: none).
	list, size, guess string
	guessed           []string
	// On a Cluster, for a visitor with an id or email: key is the
	// visitor's conversations (another slot), named the earlier ones the
	// record names as written (the process's guess); prev, add and expire are the pipeline's
	// read, ZADD NX and PEXPIRE of key; added: whether a try's ZADD added
	// the conversation (a NOSCRIPT retry sends them again).
	key    string
	named  []string
	prev   *goredis.StringSliceCmd
	adding *goredis.IntCmd
	expire *goredis.BoolCmd
	added  bool
	// fixed holds the record's fixed arguments (add), which go to
	// go-redis by pointer: not boxed one by one.
	fixed recordArgs
}

// recordArgs are a start record's fixed arguments of the turn script, in
// order: id, start (ms), retention (ms), status, playbook, visitor.
type recordArgs struct {
	id, start                 string
	retention                 int64
	status, playbook, visitor string
}

// visitorIn queues the read of the visitor's conversations and the
// conversation's addition to them (id, at its start) on pipe.
func (r *startRecord) visitorIn(ctx context.Context, pipe goredis.Pipeliner, id string) {
	r.prev = pipe.ZRevRange(ctx, r.key, 0, store.MaxPrevious-1)
	r.adding = pipe.ZAddNX(ctx, r.key, zmember(r.c.StartedAt, id))
	r.expire = pipe.PExpire(ctx, r.key, r.retention)
}

// add appends the record's keys and arguments to the turn script's
// (turn.lua: KEYS[8] and KEYS[9], KEYS[5] and KEYS[6] once commit drops
// a counted fold's unused keys and its rows; the record at ARGV's end): the id, the
// start (ms: started_at and updated_at, the visitor's list's score), the
// retention (ms), status, playbook and visitor, with KEYS[9] the guess
// of the earlier conversations, then the record's other fields
// (metaOptional) and the count of all these. The field names are the
// script's. On a Cluster there is no KEYS[9]: the record names the
// guess (see CreateStarted).
func (r *startRecord) add(s *Store, id string, args []any, keys []string) ([]any, []string) {
	keys = s.recordKey(id, keys)
	c := *r.c
	if c.Visitor.ID != "" || c.Visitor.Email != "" {
		key := s.inbox.visitorKey(c.Visitor)
		if s.oneNode {
			keys = append(keys, key)
			r.list = key
			r.size, r.guess, r.guessed = s.inbox.prev.previousGuess(key, id)
			c.Previous = nil // the script's, as Inbox.Start reads them
		} else {
			r.key = key
			r.named = s.inbox.prev.guess(key, id)
			c.Previous = r.named
		}
	}
	n := len(args)
	// By pointer (go-redis writes a *string as the string, an *int64 as
	// the number): r holds them, no box each.
	f := &r.fixed
	*f = recordArgs{id: id, start: stamp(c.StartedAt), retention: r.retention.Milliseconds(), status: string(c.Status), playbook: c.Playbook, visitor: encodeVisitor(c.Visitor)}
	args = append(args, &f.id, &f.start, &f.retention, &f.status, &f.playbook, &f.visitor)
	if r.list != "" {
		// By pointer: not boxed.
		args = append(args, &r.size)
		if r.size != "" {
			args = append(args, &r.guess)
		}
	}
	if !c.UpdatedAt.Equal(c.StartedAt) {
		args = append(args, "updated_at", stamp(c.UpdatedAt))
	}
	args = metaOptional(args, &c)
	return append(args, len(args)-n), keys
}

// recordKey appends conversation id's inbox record to the turn script's
// keys, as its KEYS[8] (KEYS[4..7] made up to there, unused).
func (s *Store) recordKey(id string, keys []string) []string {
	for len(keys) < 7 {
		keys = append(keys, keys[0]) // KEYS[4..7], unused
	}
	return append(keys, s.inbox.metaKey(id))
}

// read sets the record's Previous from what the script replied after the
// entries' ids (one node): the size of the visitor's list, then, unless
// the guess held, the earlier conversations as the record's JSON field
// ("": none); as Inbox.Start sets them (none when the visitor has no id
// nor email: Previous as given). The cache learns the visitor's list.
func (r *startRecord) read(s *Store, id string, rest []any) {
	c := r.c
	if r.list == "" || len(rest) == 0 {
		return
	}
	n, _ := rest[0].(int64)
	if len(rest) == 1 {
		c.Previous = r.guessed
	} else {
		list, _ := rest[1].(string)
		c.Previous = nil
		if list != "" {
			c.Previous = decodeIDs(list)
		}
	}
	s.inbox.prev.put(r.list, id, c.Previous, n)
}

// decodeIDs reads a JSON array of ids as the turn script writes it:
// ["a","b"], split where no id has an escape, else decoded.
func decodeIDs(list string) []string {
	if len(list) < 4 || list[0] != '[' || list[1] != '"' || list[len(list)-2] != '"' || list[len(list)-1] != ']' || strings.IndexByte(list, '\\') >= 0 {
		var ids []string
		_ = json.Unmarshal([]byte(list), &ids)
		return ids
	}
	return strings.Split(list[2:len(list)-2], `","`)
}

// Create stores a new conversation with its first entries.
func (s *Store) Create(ctx context.Context, sess *engine.Session, entries []Entry) (Result, error) {
	r, err := s.Commit(ctx, sess.ID, 0, sess, "", entries)
	if errors.Is(err, errStale) {
		return r, ErrExists
	}
	return r, err
}

// Append adds entries to a conversation's transcript without changing its
// session (agent messages, notes, system events).
func (s *Store) Append(ctx context.Context, id string, entries []Entry) ([]Entry, error) {
	_, err := s.Turn(ctx, id, "", func(sess *engine.Session) (*engine.Session, []Entry, error) {
		return sess, entries, nil
	})
	return entries, err
}

// Alive reports which of the conversations exist (their session has not
// expired), in one pipelined round trip.
func (s *Store) Alive(ctx context.Context, ids []string) (map[string]bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.IntCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Exists(ctx, s.keys(id)[0])
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		out[id] = cmds[i].Val() == 1
	}
	return out, nil
}

// Delete removes conversations: their sessions, transcripts and answered
// client message ids, in one pipelined round trip.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, id := range ids {
		s.cache.Drop(id, -1)
		pipe.Unlink(ctx, s.keys(id)...)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Transcript returns up to count entries after the entry id after ("" or
// "0" = from the start). count 0 means all.
func (s *Store) Transcript(ctx context.Context, id, after string, count int64) ([]Entry, error) {
	start := "-"
	if after != "" && after != "0" {
		if _, err := parseEntryID(after); err != nil {
			return nil, err
		}
		start = "(" + after
	}
	return s.rangeEntries(ctx, id, start, "+", count)
}

func (s *Store) rangeEntries(ctx context.Context, id, start, end string, count int64) ([]Entry, error) {
	items, err := s.rdb.LRange(ctx, s.keys(id)[1], 0, -1).Result()
	if err != nil {
		if goredis.HasErrorPrefix(err, "WRONGTYPE") {
			// Stored before transcripts were lists: a stream.
			return s.rangeStream(ctx, id, start, end, count)
		}
		return nil, err
	}
	lo, loOpen, hi := bound(start, 0), strings.HasPrefix(start, "("), bound(end, ^uint64(0)>>1)
	out := make([]Entry, 0, len(items))
	for _, item := range items {
		eid, data, ok := strings.Cut(item, " ")
		if !ok {
			return nil, fmt.Errorf("conversation %s: bad transcript item %.40q", id, item)
		}
		k := entryKey(eid)
		if k.less(lo) || loOpen && k == lo {
			continue
		}
		if hi.less(k) || count > 0 && int64(len(out)) >= count {
			break
		}
		e, err := DecodeEntry(eid, data)
		if err != nil {
			return nil, fmt.Errorf("conversation %s entry %s: %w", id, eid, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// KeepTranscript implements store.Sessions: the transcript's key loses its
// expiry (PERSIST), and the turn script's PEXPIRE ... GT leaves a key with
// none as it is, so the entries of later turns do not give it one back.
func (s *Store) KeepTranscript(ctx context.Context, id string) error {
	return s.rdb.Persist(ctx, s.keys(id)[1]).Err()
}

// EncodedTranscript implements store.EncodedTranscripts: the transcript
// list's items are already EncodeEntries' lines, joined as they are. A
// transcript stored as a stream (before lists) is read and encoded.
func (s *Store) EncodedTranscript(ctx context.Context, id string) ([]byte, error) {
	items, err := s.rdb.LRange(ctx, s.keys(id)[1], 0, -1).Result()
	if goredis.HasErrorPrefix(err, "WRONGTYPE") {
		entries, err := s.rangeStream(ctx, id, "-", "+", 0)
		if err != nil || len(entries) == 0 {
			return nil, err
		}
		return store.EncodeEntries(entries)
	}
	if err != nil || len(items) == 0 {
		return nil, err
	}
	n := len(items) - 1
	for _, it := range items {
		n += len(it)
	}
	b := make([]byte, 0, n)
	for i, it := range items {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, it...)
	}
	return b, nil
}

// idKey is an entry id ("ms-seq") as two numbers, to compare.
type idKey struct{ ms, seq uint64 }

func (a idKey) less(b idKey) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

// entryKey parses an entry id; a bad one compares as 0-0.
func entryKey(id string) idKey {
	k, _ := parseEntryID(id)
	return k
}

// parseEntryID parses "ms-seq" or "ms" (sequence 0), as XRANGE does.
func parseEntryID(id string) (idKey, error) {
	ms, seq, hasSeq := strings.Cut(id, "-")
	var k idKey
	var err error
	k.ms, err = strconv.ParseUint(ms, 10, 64)
	if err == nil && hasSeq {
		k.seq, err = strconv.ParseUint(seq, 10, 64)
	}
	if err != nil {
		return idKey{}, fmt.Errorf("bad transcript entry id %q (want MILLISECONDS-SEQUENCE)", id)
	}
	return k, nil
}

// bound is an XRANGE bound as an idKey: "-" and "+" are the ends (def),
// "(ID" is ID (exclusive: the caller checks the parenthesis).
func bound(b string, def uint64) idKey {
	switch b {
	case "-", "+", "":
		return idKey{def, def}
	}
	return entryKey(strings.TrimPrefix(b, "("))
}

// rangeStream reads a transcript stored as a stream (before lists).
func (s *Store) rangeStream(ctx context.Context, id, start, end string, count int64) ([]Entry, error) {
	var msgs []goredis.XMessage
	var err error
	if count > 0 {
		msgs, err = s.rdb.XRangeN(ctx, s.keys(id)[1], start, end, count).Result()
	} else {
		msgs, err = s.rdb.XRange(ctx, s.keys(id)[1], start, end).Result()
	}
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		e, err := DecodeEntry(m.ID, m.Values["e"])
		if err != nil {
			return nil, fmt.Errorf("conversation %s entry %s: %w", id, m.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// DecodeEntry decodes a stored entry (the "e" field of a stream entry).
func DecodeEntry(id string, v any) (Entry, error) { return store.DecodeEntry(id, v) }

// DecodeLive decodes what a turn published on a conversation's Channel.
func DecodeLive(payload string) ([]Entry, error) { return store.DecodeLive(payload) }
