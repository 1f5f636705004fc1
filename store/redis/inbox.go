package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/internal/bounded"
	"github.com/playbook-dev/playbook/store"
	goredis "github.com/redis/go-redis/v9"
)

// Inbox keeps the inbox (store.InboxEngine: conversations' inbox records
// and folders, routing, agents, sign-ins, presence, canned responses) in
// Redis, one node or a Redis Cluster with the same code.
//
// Key layout (every key starts with the prefix):
//   - {c:ID}:meta: a conversation's record (a hash); each step on it is
//     one Lua script on that key.
//   - {t:TEAM}:queue|open|snoozed|closed|missed and {t:TEAM}:config: a
//     team's folders (sorted sets scored by time in ms) and routing, one
//     slot per team, so a change to several is one MULTI/EXEC.
//   - agent:ID:mine: an agent's open chats; teams: the teams with folders;
//     visitor:KEY:convs: a visitor's conversations; rr:TEAM: round robin.
//   - agent:ID, agent-email:EMAIL, agents: agents; login:HASH,
//     apitoken:HASH: sessions and tokens; loginfail:...: attempt counters.
//   - presence:TEAM (heartbeats, a sorted set by ms), agent-status.
//   - {canned}:items, {canned}:index: canned responses (one slot).
//
// A step that changes a record and its folders changes the record first
// (one script) and then the folders, grouped by slot (see indexBatch): on a
// Cluster no transaction spans slots.
type Inbox struct {
	rdb  goredis.UniversalClient
	p    string
	now  func() time.Time // the engine's clock (Engine.WithClock)
	prev *previousCache   // each visitor's conversations as last seen (Start)
}

var _ store.InboxEngine = (*Inbox)(nil)

// NewInbox returns the inbox on rdb with keys under prefix (default
// "pb:").
func NewInbox(rdb goredis.UniversalClient, prefix string) *Inbox {
	if prefix == "" {
		prefix = "pb:"
	}
	return &Inbox{rdb: rdb, p: prefix, now: time.Now, prev: newPreviousCache(previousCacheSize)}
}

func (s *Inbox) metaKey(conv string) string    { return s.p + "{c:" + conv + "}:meta" }
func (s *Inbox) queueKey(team string) string   { return s.p + "{t:" + team + "}:queue" }
func (s *Inbox) openKey(team string) string    { return s.p + "{t:" + team + "}:open" }
func (s *Inbox) snoozedKey(team string) string { return s.p + "{t:" + team + "}:snoozed" }
func (s *Inbox) closedKey(team string) string  { return s.p + "{t:" + team + "}:closed" }
func (s *Inbox) missedKey(team string) string  { return s.p + "{t:" + team + "}:missed" }
func (s *Inbox) mineKey(agent string) string   { return s.p + "agent:" + agent + ":mine" }
func (s *Inbox) teamsKey() string              { return s.p + "teams" }

// SetsTimersOf implements store.HandOffTimers: HandOff sets the timers of
// a handoff in t when t is the timer queue of this inbox's client and
// prefix (Engine.Timers).
func (s *Inbox) SetsTimersOf(t store.Timers) bool {
	tt, ok := t.(*Timers)
	return ok && tt.rdb == s.rdb && tt.key == s.timersKey()
}

// timersKey is the timer queue's key, Timers' (Store.Timers), for the
// timers HandOff sets.
func (s *Inbox) timersKey() string { return s.p + "timers" }
func (s *Inbox) visitorKey(v store.Visitor) string {
	k := v.ID
	if v.Email != "" {
		k = strings.ToLower(v.Email)
	}
	return s.p + "visitor:" + k + ":convs"
}

// folderKey is the key of a folder of owner (a team, or an agent for
// FolderMine).
func (s *Inbox) folderKey(folder, owner string) (string, error) {
	switch folder {
	case store.FolderMine:
		return s.mineKey(owner), nil
	case store.FolderUnassigned:
		return s.queueKey(owner), nil
	case store.FolderOpen:
		return s.openKey(owner), nil
	case store.FolderSnoozed:
		return s.snoozedKey(owner), nil
	case store.FolderClosed:
		return s.closedKey(owner), nil
	case store.FolderMissed:
		return s.missedKey(owner), nil
	}
	return "", fmt.Errorf("no folder %q", folder)
}

func zmember(t time.Time, member string) goredis.Z {
	return goredis.Z{Score: float64(t.UnixMilli()), Member: member}
}

// stamp is a record's time: Unix milliseconds (which Redis keeps in a
// listpack as an integer, 9 bytes, where RFC 3339 took 30).
func stamp(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// parseStamp reads a record's time: Unix milliseconds, or the RFC 3339
// text stored before.
func parseStamp(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// Start implements store.Inbox in one round trip: the visitor's earlier
// conversations are read, this one is added to them and recorded, in
// order. The record names the earlier ones (Previous); on a Cluster they
// are in another slot, so the record is written with the list this
// process saw last for the visitor (previousCache), and put right in a
// second round trip when the read finds another one (a visitor whose last
// conversation another process started, or the first one this process
// sees).
func (s *Inbox) Start(ctx context.Context, c *store.Conversation, retention time.Duration) error {
	pipe := s.rdb.Pipeline()
	var prev *goredis.StringSliceCmd
	key := ""
	if c.Visitor.ID != "" || c.Visitor.Email != "" {
		key = s.visitorKey(c.Visitor)
		c.Previous = s.prev.guess(key, c.ID) // checked against the read below
		prev = pipe.ZRevRange(ctx, key, 0, store.MaxPrevious-1)
		pipe.ZAdd(ctx, key, zmember(c.StartedAt, c.ID))
		pipe.PExpire(ctx, key, retention)
	}
	pipe.HSet(ctx, s.metaKey(c.ID), metaFields(c)...)
	pipe.PExpire(ctx, s.metaKey(c.ID), retention)
	if _, err := pipe.Exec(ctx); err != nil {
		if key != "" {
			s.prev.forget(key)
		}
		return err
	}
	if prev != nil {
		found := slices.DeleteFunc(prev.Val(), func(id string) bool { return id == c.ID })
		if len(found) == 0 {
			found = nil
		}
		s.prev.put(key, c.ID, found, 0)
		if !slices.Equal(found, c.Previous) {
			c.Previous = found
			b, _ := json.Marshal(c.Previous)
			if err := s.rdb.HSet(ctx, s.metaKey(c.ID), "previous", string(b)).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// previousCache remembers, per visitor key, the visitor's conversations
// as this process last saw them (newest first, at most store.MaxPrevious),
// so that Start can write a returning visitor's record with its earlier
// conversations in the round trip that reads them. A guess is checked by
// that read, or on one node by the start's script, which takes it
// (instead of reading the list) when the list still has the size it had
// then and the same newest conversation (previousGuess). At most max
// visitors; when full, a random one is dropped.
type previousCache struct {
	m *bounded.Map[string, seenConvs]
}

// seenConvs is a visitor's conversations as seen: the newest (at most
// store.MaxPrevious) and how many the visitor's list held then (0: not
// known).
type seenConvs struct {
	ids []string
	n   int64
}

// previousCacheSize bounds previousCache.
const previousCacheSize = 10000

func newPreviousCache(max int) *previousCache {
	return &previousCache{m: bounded.New[string, seenConvs](max)}
}

// guess is the visitor's earlier conversations for a new one, id.
func (c *previousCache) guess(key, id string) []string {
	if c == nil {
		return nil
	}
	l, _ := c.m.Get(key)
	ids := slices.DeleteFunc(slices.Clone(l.ids), func(x string) bool { return x == id })
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// previousGuess is the start script's guess of the earlier conversations
// of the visitor for a new one, id (turn.lua): size, how many the
// visitor's list held when last seen (N), as the ranks "N-1 N" that the
// script's ZRANGE checks it by, and list, the record's previous
// then (JSON, newest first), and ids, the same as a slice (not to be
// changed: the cache's own); "" and nil when there is none to check
// (not seen, the size not known, an id that JSON would escape, or id
// among them).
func (c *previousCache) previousGuess(key, id string) (size, list string, ids []string) {
	if c == nil {
		return "", "", nil
	}
	l, _ := c.m.Get(key)
	if l.n == 0 || len(l.ids) == 0 {
		return "", "", nil
	}
	n := 41 + 3*len(l.ids)
	for _, x := range l.ids {
		if x == id || !plainID(x) {
			return "", "", nil
		}
		n += len(x)
	}
	// One allocation for both.
	var b strings.Builder
	b.Grow(n)
	var nb [20]byte
	b.Write(strconv.AppendInt(nb[:0], l.n-1, 10))
	b.WriteByte(' ')
	b.Write(strconv.AppendInt(nb[:0], l.n, 10))
	k := b.Len()
	b.WriteByte('[')
	for i, x := range l.ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(x)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	both := b.String()
	return both[:k], both[k:], l.ids
}

// plainID reports whether id is written in JSON as it is, between quotes
// (encoding/json's and cjson's forms the same).
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == '/' {
			return false
		}
	}
	return id != ""
}

// put records that conversation id followed earlier (as read), the
// visitor's list then holding n (0: not known).
func (c *previousCache) put(key, id string, earlier []string, n int64) {
	if c == nil {
		return
	}
	l := make([]string, 0, min(len(earlier)+1, store.MaxPrevious))
	l = append(l, id)
	l = append(l, earlier[:min(len(earlier), store.MaxPrevious-1)]...)
	c.m.Put(key, seenConvs{ids: l, n: n})
}

func (c *previousCache) forget(key string) {
	if c != nil {
		c.m.Delete(key)
	}
}

// storedVisitor is the stored form of a record's visitor: one-letter
// names, so that the value stays within Redis's 64 bytes for a listpack
// (a longer value makes the whole hash a hash table, twice its size).
// The older form (id, name, email, page) is read too.
type storedVisitor struct {
	I string `json:"i,omitempty"`
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	P string `json:"p,omitempty"`
	store.Visitor
}

func encodeVisitor(v store.Visitor) string {
	b, _ := json.Marshal(struct {
		I string `json:"i,omitempty"`
		N string `json:"n,omitempty"`
		E string `json:"e,omitempty"`
		P string `json:"p,omitempty"`
	}{v.ID, v.Name, v.Email, v.Page})
	return string(b)
}

// decodeVisitor reads a record's stored visitor ("" for none: no visitor,
// without asking encoding/json, whose error for an empty input is
// allocated).
func decodeVisitor(s string) store.Visitor {
	if s == "" {
		return store.Visitor{}
	}
	var sv storedVisitor
	_ = json.Unmarshal([]byte(s), &sv)
	return mergeVisitor(sv.Visitor, store.Visitor{ID: sv.I, Name: sv.N, Email: sv.E, Page: sv.P})
}

// mergeVisitor is cur with every field that v sets set to v's.
func mergeVisitor(cur, v store.Visitor) store.Visitor {
	if v.ID != "" {
		cur.ID = v.ID
	}
	if v.Name != "" {
		cur.Name = v.Name
	}
	if v.Email != "" {
		cur.Email = v.Email
	}
	if v.Page != "" {
		cur.Page = v.Page
	}
	return cur
}

// storedLast is the stored form of a record's last message, for the same
// reason: one-letter names, from as one letter (as in a transcript
// entry), the time in Unix milliseconds. The older form (store.Last's
// JSON) is read too.
type storedLast struct {
	F string `json:"f"`
	G string `json:"g,omitempty"`
	U string `json:"u,omitempty"`
	T string `json:"t"`
	A int64  `json:"a"`
}

// lastFrom maps a message's from to its letter and back.
var lastFrom = map[string]string{"visitor": "v", "bot": "b", "agent": "a", "system": "s"}

func encodeLast(l store.Last) string {
	f, ok := lastFrom[l.From]
	if !ok {
		f = l.From
	}
	b, _ := json.Marshal(storedLast{F: f, G: l.Agent, U: l.Author, T: l.Text, A: l.At.UnixMilli()})
	return string(b)
}

// lastAsRead is what decodeLast reads back from encodeLast(l) (the time to
// the millisecond, in UTC), made without the JSON; nil when the JSON
// would change a text (invalid UTF-8, which encoding/json replaces).
func lastAsRead(l *store.Last) *store.Last {
	if l == nil || !utf8.ValidString(l.Text) || !utf8.ValidString(l.Author) || !utf8.ValidString(l.Agent) {
		return nil
	}
	f, ok := lastFrom[l.From]
	if !ok {
		f = l.From
	}
	return &store.Last{From: fromLetter(f), Agent: l.Agent, Author: l.Author, Text: l.Text, At: time.UnixMilli(l.At.UnixMilli()).UTC()}
}

// fromLetter is the from a stored letter stands for (lastFrom's other
// way); an unknown one is itself.
func fromLetter(f string) string {
	for k, v := range lastFrom {
		if v == f {
			return k
		}
	}
	return f
}

func decodeLast(s string) *store.Last {
	if !strings.Contains(s, `"f":`) {
		l := &store.Last{} // the older form
		_ = json.Unmarshal([]byte(s), l)
		return l
	}
	var sl storedLast
	_ = json.Unmarshal([]byte(s), &sl)
	return &store.Last{From: fromLetter(sl.F), Agent: sl.G, Author: sl.U, Text: sl.T, At: time.UnixMilli(sl.A).UTC()}
}

// metaFields is a new record's fields, but its id (the key names it).
// Empty ones are left out (every
// reader takes a missing field as empty): a record stays small, and Redis
// keeps a small hash as one listpack.
func metaFields(c *store.Conversation) []any {
	f := []any{"status", string(c.Status), "playbook", c.Playbook, "visitor", encodeVisitor(c.Visitor),
		"started_at", stamp(c.StartedAt), "updated_at", stamp(c.UpdatedAt)}
	return metaOptional(f, c)
}

// metaOptional appends to f the fields of c's record that metaFields
// writes only when set: team, assignee, assignee_name, card, priority,
// labels, previous, last (the start's turn script gets them so).
func metaOptional(f []any, c *store.Conversation) []any {
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, kv := range [][2]string{{"team", c.Team}, {"assignee", c.Assignee}, {"assignee_name", c.AssigneeName}, {"card", c.Card}, {"priority", c.Priority}} {
		if kv[1] != "" {
			f = append(f, kv[0], kv[1])
		}
	}
	if len(c.Labels) > 0 {
		f = append(f, "labels", j(c.Labels))
	}
	if len(c.Previous) > 0 {
		f = append(f, "previous", j(c.Previous))
	}
	if c.Last != nil {
		f = append(f, "last", encodeLast(*c.Last))
	}
	return f
}

// Conversation implements store.Inbox.
func (s *Inbox) Conversation(ctx context.Context, id string) (*store.Conversation, error) {
	return s.conversationIn(ctx, s.rdb, id)()
}

// conversationIn queues the read of conversation id's record on c (a
// pipeline, or the client itself) and returns what decodes it once c
// has run.
func (s *Inbox) conversationIn(ctx context.Context, c goredis.Cmdable, id string) func() (*store.Conversation, error) {
	return s.conversationOf(id, c.HGetAll(ctx, s.metaKey(id)))
}

// conversationOf is conversationIn's answer from its HGETALL.
func (s *Inbox) conversationOf(id string, cmd *goredis.MapStringStringCmd) func() (*store.Conversation, error) {
	return func() (*store.Conversation, error) {
		m, err := cmd.Result()
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, store.ErrInboxNotFound
		}
		return decodeMeta(id, m), nil
	}
}

// decodeMeta reads conversation id's record. The id is not stored (the
// key names it); a record stored before has it too.
func decodeMeta(id string, m map[string]string) *store.Conversation {
	return decodeMetaWith(id, m, decodeVisitor(m["visitor"]), nil)
}

// decodeMetaWith is decodeMeta with the record's visitor already decoded
// (vis), and its last message when known (last, nil: read from m): a
// handoff's record, whose visitor handedOff merged and whose last message
// the handoff wrote.
func decodeMetaWith(id string, m map[string]string, vis store.Visitor, last *store.Last) *store.Conversation {
	c := &store.Conversation{
		ID: id, Status: store.Status(m["status"]), Team: m["team"], Assignee: m["assignee"], AssigneeName: m["assignee_name"],
		Playbook: m["playbook"], Card: m["card"], Priority: m["priority"], UntilReply: m["until_reply"] == "1",
		Visitor: vis,
	}
	// Most records have neither (metaOptional writes them only when
	// set): encoding/json is not asked to read nothing (its error for an
	// empty input is allocated), and what it would leave is left.
	if l := m["labels"]; l != "" {
		_ = json.Unmarshal([]byte(l), &c.Labels)
	}
	if p := m["previous"]; p != "" {
		_ = json.Unmarshal([]byte(p), &c.Previous)
	}
	if c.Labels == nil {
		c.Labels = []string{}
	}
	if last != nil {
		c.Last = last
	} else if m["last"] != "" {
		c.Last = decodeLast(m["last"])
	}
	if m["csat"] != "" {
		c.CSAT = &store.CSAT{}
		_ = json.Unmarshal([]byte(m["csat"]), c.CSAT)
	}
	c.StartedAt, _ = parseStamp(m["started_at"])
	c.UpdatedAt, _ = parseStamp(m["updated_at"])
	if t, ok := parseStamp(m["snoozed_until"]); ok {
		c.SnoozedUntil = &t
	}
	if t, ok := parseStamp(m["resolved_at"]); ok {
		c.ResolvedAt = &t
	}
	if t, ok := parseStamp(m["queued_at"]); ok {
		c.QueuedAt = &t
	}
	return c
}

// transition changes a conversation's fields atomically, refusing a
// resolved one. Modes: "claim" also refuses when another agent owns it;
// "claim" and "assign" keep a snoozed chat snoozed (ARGV[3..] must then
// set status open, which is skipped); "unsnooze" changes only a snoozed
// one; "reopen" changes only a resolved one. It returns the assignee,
// status and team before the change.
var transition = newScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st == 'resolved' and ARGV[1] ~= 'reopen' then return {'closed'} end
local cur = redis.call('HGET', KEYS[1], 'assignee') or ''
local team = redis.call('HGET', KEYS[1], 'team') or ''
if ARGV[1] == 'reopen' and st ~= 'resolved' then return {'unchanged', cur, st, team} end
if ARGV[1] == 'claim' and cur ~= '' and cur ~= ARGV[2] then return {'taken', cur} end
if ARGV[1] == 'unsnooze' and st ~= 'snoozed' then return {'unchanged', cur, st, team} end
local keep = (ARGV[1] == 'claim' or ARGV[1] == 'assign') and st == 'snoozed'
for i = 3, #ARGV, 2 do
  if keep and ARGV[i] == 'status' then
  elseif ARGV[i+1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) -- empty: left out
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
end
return {'ok', cur, st, team}
`)

type before struct {
	assignee string
	status   store.Status
	team     string
}

var errUnchanged = errors.New("unchanged")

func (s *Inbox) transition(ctx context.Context, id, mode, agent string, fields ...string) (before, error) {
	args := []any{mode, agent}
	for _, f := range fields {
		args = append(args, f)
	}
	res, err := transition.Run(ctx, s.rdb, []string{s.metaKey(id)}, args...).StringSlice()
	if err != nil {
		return before{}, err
	}
	switch res[0] {
	case "missing":
		return before{}, store.ErrInboxNotFound
	case "closed":
		return before{}, store.ErrClosed
	case "taken":
		return before{assignee: res[1]}, store.ErrTaken
	case "unchanged":
		return before{assignee: res[1], status: store.Status(res[2]), team: res[3]}, errUnchanged
	}
	return before{assignee: res[1], status: store.Status(res[2]), team: res[3]}, nil
}

// SetVisitor implements store.Inbox.
func (s *Inbox) SetVisitor(ctx context.Context, id string, v store.Visitor) error {
	return s.rdb.HSet(ctx, s.metaKey(id), "visitor", encodeVisitor(v)).Err()
}

// handOff moves a conversation to a team's queue in one step on its own
// record (KEYS[1]), read once: the visitor's details (ARGV[5], JSON in the
// stored form, merged in), the latest message (ARGV[6]), the new status,
// team (ARGV[1]), priority, card and time (ARGV[2..4]). It returns the
// fields before the change and the record before it (the caller makes the
// record after it: handedOff), and renews the record's retention (ARGV[7],
// ms). A refused step (a resolved chat, a gone one) writes nothing.
//
// ARGV[8] is the chat's id when the script also does the team's part (one
// node, where a script may touch keys of any slot); empty, only the step
// (a Cluster: the caller's pipeline does the rest), whose reply is
// {'ok', assignee, status, team, record, 0}. The team's part, on keys made
// from the prefix (KEYS[1] less the chat's '{c:ID}:meta', as Inbox makes
// it): the chat in the team's queue and open lists, the team in the set
// of teams, the ARGV[9] timers that follow (score and member pairs) in the
// timer queue; and it returns the team's routing and waits, the chat's
// place in the queue and the status, team and assignee of the earlier
// chats whose ids follow the timers (their count, then the ids). With a
// notice after them (the payload, its channel, the record's field count
// and its fields joined by NUL bytes (joinFields), with earlier chats
// their three fields each, joined alike, and last the visitor as the
// step then writes it when it is not ARGV[5]) it publishes the payload
// after the step, only when the record's fields before it are those and
// the earlier chats' those; the reply's sixth
// element is then 1, and the record (the caller's) is not returned. The
// one-node reply is {'ok', assignee, status, team, record, sent, routing,
// place, waits, earlier}, each of the record, routing, waits and earlier
// chats 0 when empty (an empty table costs Redis's reply a table's checks).
var handOff = newScript(`
local rec = redis.call('HGETALL', KEYS[1])
-- The fields the step reads, found in the reply (no table of them all).
local st, cur, curname, team, prio, card, vis
for i = 1, #rec, 2 do
  local k = rec[i]
  if k == 'status' then st = rec[i + 1]
  elseif k == 'team' then team = rec[i + 1]
  elseif k == 'visitor' then vis = rec[i + 1]
  elseif k == 'card' then card = rec[i + 1]
  elseif k == 'assignee' then cur = rec[i + 1]
  elseif k == 'assignee_name' then curname = rec[i + 1]
  elseif k == 'priority' then prio = rec[i + 1] end
end
if not st then return {'missing'} end
if st == 'resolved' then return {'closed'} end
local id, nt = ARGV[8], tonumber(ARGV[9])
local o = 10 + 2 * nt
local np = tonumber(ARGV[o] or '0')
local p, prev
if id ~= '' then
  p = string.sub(KEYS[1], 1, #KEYS[1] - #id - 9)
  if np > 0 then
    prev = {}
    for j = o + 1, o + np do prev[j - o] = redis.call('HMGET', p .. '{c:' .. ARGV[j] .. '}:meta', 'status', 'team', 'assignee') end
  end
end
o = o + np + 1
local same = false
if ARGV[o] then
  -- The caller's fields (their count, ARGV[o + 2], then their names and
  -- values joined by NUL bytes, in the order Inbox writes a record's
  -- fields: joinFields), as many as the record's (which tells a value
  -- holding a NUL from two fields). A record written in that order is
  -- the text HGETALL's reply joins to, one table.concat. Otherwise the
  -- text is walked pair by pair against the record's table: each name's
  -- value the record's (found in place, then a NUL or the end), the text
  -- used up.
  local s = ARGV[o + 3]
  if #rec == 2 * tonumber(ARGV[o + 2]) then
    same = table.concat(rec, '\0') == s
    if not same then
      local f = {}
      for i = 1, #rec, 2 do f[rec[i]] = rec[i + 1] end
      local at = 1
      same = true
      for _ = 1, #rec / 2 do
        local e = string.find(s, '\0', at, true)
        local v = e and f[string.sub(s, at, e - 1)]
        if not v or string.find(s, v, e + 1, true) ~= e + 1 then same = false break end
        at = e + #v + 1
        local c = string.byte(s, at)
        if c and c ~= 0 then same = false break end
        at = at + 1
      end
      if at <= #s then same = false end
    end
  end
  if same and prev then
    local parts = {}
    for _, v in ipairs(prev) do
      for k = 1, 3 do parts[#parts + 1] = v[k] or '' end
    end
    same = table.concat(parts, '\0') == ARGV[o + 4]
  end
end
local v
if same then
  -- The record is as the caller read it: the visitor as it makes it (the
  -- last argument, when it is not ARGV[5]).
  v = ARGV[np > 0 and o + 5 or o + 4] or ARGV[5]
  if v == '' then v = nil end
elseif ARGV[5] ~= '' then
  local ok, w = pcall(cjson.decode, vis or '{}')
  if not ok or type(w) ~= 'table' then w = {} end
  local add = cjson.decode(ARGV[5])
  -- The stored form has one-letter names (i, n, e, p); an older record's
  -- long names are moved to them.
  for _, k in ipairs({'id', 'name', 'email', 'page'}) do
    local c = string.sub(k, 1, 1)
    if w[k] ~= nil then
      if w[c] == nil then w[c] = w[k] end
      w[k] = nil
    end
    if add[c] then w[c] = add[c] end
  end
  -- cjson writes / as \/: Go's JSON does not, and the value is shorter.
  v = (string.gsub(cjson.encode(w), '\\/', '/'))
end
-- The new fields in one table (an empty one left out: every reader takes
-- a missing field as empty), the old ones no longer wanted taken out.
local set = {'status', 'open', 'team', ARGV[1], 'updated_at', ARGV[4], 'queued_at', ARGV[4], 'last', ARGV[6], 'card', ARGV[3], 'priority', ARGV[2], 'visitor', v}
local n = 8
if ARGV[6] ~= '' then n = 10 end
if ARGV[3] ~= '' then set[n + 1], set[n + 2], n = 'card', ARGV[3], n + 2 end
if ARGV[2] ~= '' then set[n + 1], set[n + 2], n = 'priority', ARGV[2], n + 2 end
if v then set[n + 1], set[n + 2], n = 'visitor', v, n + 2 end
redis.call('HSET', KEYS[1], unpack(set, 1, n))
if cur or curname or (prio and ARGV[2] == '') or (card and ARGV[3] == '') then
  local del = {}
  if cur then del[#del + 1] = 'assignee' end
  if curname then del[#del + 1] = 'assignee_name' end
  if prio and ARGV[2] == '' then del[#del + 1] = 'priority' end
  if card and ARGV[3] == '' then del[#del + 1] = 'card' end
  redis.call('HDEL', KEYS[1], unpack(del))
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
cur, team = cur or '', team or ''
if id == '' then
  return {'ok', cur, st, team, rec, 0}
end
local t = p .. '{t:' .. ARGV[1] .. '}:'
local queue = t .. 'queue'
redis.call('ZADD', queue, ARGV[4], id)
redis.call('ZADD', t .. 'open', ARGV[4], id)
redis.call('SADD', p .. 'teams', ARGV[1])
for i = 10, 9 + 2 * nt, 2 do redis.call('ZADD', p .. 'timers', ARGV[i], ARGV[i + 1]) end
local sent = 0
if same then
  -- After the lists: the chat is in them before the agents hear of it.
  redis.call('PUBLISH', ARGV[o + 1], ARGV[o])
  sent, rec = 1, 0
end
local cfg = redis.call('HGETALL', t .. 'config')
local rank = redis.call('ZRANK', queue, id)
local waits = redis.call('LRANGE', t .. 'waits', '0', '-1')
if #cfg == 0 then cfg = 0 end
if #waits == 0 then waits = 0 end
return {'ok', cur, st, team, rec, sent, cfg, rank, waits, prev or 0}
`)

// handOffReply is what a handoff's step and reads answered.
type handOffReply struct {
	before before            // the record's assignee, status and team before the step
	fields map[string]string // the record before it (none when sent: the notice's)
	sent   bool              // the notice went out in the step
	cfg    map[string]string // the team's routing
	waits  []string          // the team's waits (nil: not read)
	rank   int64             // the chat's place in the queue, from 0
	// prev are the status, team and assignee of Handoff.Previous (nil: not
	// read; a gone record's status is empty).
	prev [][3]string
}

// HandOff implements store.Inbox. On one node a bot's first handoff (the
// chat in no team's lists, the usual case) is one command, the handOff
// script with the team's part, which a Coalescer batches with other
// turns' commands. On a Cluster, where the team's keys are in other
// slots, it is one pipeline (handOffPipelined). Either way the lists a
// chat leaves (another team's, the agent who had it) are cleaned in a
// second round trip, once the record says which; a bot's first handoff
// leaves none.
func (s *Inbox) HandOff(ctx context.Context, id string, h store.Handoff, at time.Time, retention time.Duration) (*store.Conversation, store.TeamConfig, error) {
	last := ""
	if h.Last != nil {
		last = encodeLast(*h.Last)
	}
	vis := ""
	if h.Visitor != (store.Visitor{}) {
		vis = encodeVisitor(h.Visitor)
	}
	// Room for what handOffOne appends (the chat, the prefix, the timers,
	// the earlier chats, the notice's six): the list is not grown.
	// The string and number arguments go to go-redis by pointer into v
	// (it writes a *string as the string, an *int64 as the number): one
	// allocation for them all instead of one each boxed.
	v := &handOffArgs{team: h.Team, priority: h.Priority, card: h.Card, at: stamp(at), vis: vis, last: last, retention: retention.Milliseconds()}
	args := make([]any, 0, 7+3+2*len(h.Timers)+1+len(h.Previous)+6)
	args = append(args, &v.team, &v.priority, &v.card, &v.at, &v.vis, &v.last, &v.retention)
	var (
		r         handOffReply
		predicted *noticeRecord
		err       error
	)
	if _, cluster := s.rdb.(*goredis.ClusterClient); cluster {
		r, err = s.handOffPipelined(ctx, id, h, at, args)
	} else {
		r, predicted, err = s.handOffOne(ctx, id, h, at, v, args)
	}
	if err != nil {
		return nil, store.TeamConfig{}, err
	}
	// The lists it leaves: another team's (all of them), its own team's
	// snoozed and missed, the agent who had it.
	if b := r.before; b.team != "" || b.assignee != "" {
		pipe := s.rdb.Pipeline()
		if b.team != "" && b.team != h.Team {
			s.unindex(ctx, pipe, id, before{team: b.team})
		} else if b.team == h.Team {
			pipe.ZRem(ctx, s.snoozedKey(b.team), id)
			pipe.ZRem(ctx, s.missedKey(b.team), id)
		}
		if b.assignee != "" {
			s.unindex(ctx, pipe, id, before{assignee: b.assignee})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, store.TeamConfig{}, err
		}
	}
	var c *store.Conversation
	if r.sent && predicted != nil {
		// The record was as the notice's Before: it is now as predicted,
		// decoded already.
		c = predicted.c
		c.NoticeSent = true
	} else {
		// The record after the step, made from the one before it as the
		// script made it.
		fields, v := handedOff(r.fields, h, at, last, vis)
		c = decodeMetaWith(id, fields, v, lastAsRead(h.Last))
	}
	c.QueuePosition = int(r.rank) + 1
	if len(h.Previous) > 0 && r.prev != nil {
		c.PreviousRead = make([]store.PreviousChat, 0, len(h.Previous))
		for i, v := range r.prev {
			if v[0] != "" { // gone otherwise (a record always has its status)
				c.PreviousRead = append(c.PreviousRead, store.PreviousChat{ID: h.Previous[i], Team: v[1], Assignee: v[2]})
			}
		}
	}
	tc := teamConfig(r.cfg)
	if ws, err := parseWaits(h.Team, r.waits); r.waits != nil && err == nil {
		tc.Waits = &ws
	}
	return c, tc, nil
}

// noticeRecord is the record a handoff's notice was built from: as
// handOff should leave it, its fields and decoded.
type noticeRecord struct {
	fields map[string]string
	c      *store.Conversation
}

// handOffOne is HandOff on one node: the handOff script with the team's
// part, and the notice when it can ride (it returns the record the notice
// was built from; nil: none).
func (s *Inbox) handOffOne(ctx context.Context, id string, h store.Handoff, at time.Time, v *handOffArgs, args []any) (handOffReply, *noticeRecord, error) {
	// The team's, the timers' and the earlier chats' keys are made in the
	// script from the prefix (one node: a script may touch any key).
	// The turn's timers, as Timers.Set's ZADD sets them.
	v.id = id
	args = append(args, &v.id, len(h.Timers))
	for i, tm := range h.Timers {
		if i < len(v.timers) {
			t := &v.timers[i]
			t.at, t.member = tm.At.UnixMilli(), member(id, tm.ID)
			args = append(args, &t.at, &t.member)
		} else {
			args = append(args, tm.At.UnixMilli(), member(id, tm.ID))
		}
	}
	args = append(args, len(h.Previous))
	for i := range h.Previous {
		args = append(args, &h.Previous[i])
	}
	var predicted *noticeRecord
	if n := h.Notice; n != nil {
		if fields, c := s.noticeArgs(id, h, at, v.last, v.vis); c != nil {
			before, ok := joinFields(n.Before)
			prev, pok := joinPrevious(n.Previous)
			if payload, err := n.Build(c); err == nil && ok && pok {
				predicted = &noticeRecord{fields, c}
				v.payload, v.channel, v.before, v.prev = payload, n.Channel, before, prev
				if h.Visitor != (store.Visitor{}) {
					v.merged = fields["visitor"]
				}
				args = append(args, &v.payload, &v.channel, len(n.Before), &v.before)
				if len(h.Previous) > 0 {
					args = append(args, &v.prev)
				}
				if v.merged != v.vis {
					args = append(args, &v.merged)
				}
			}
		}
	}
	res, err := handOff.Run(ctx, s.rdb, []string{s.metaKey(id)}, args...).Slice()
	r, err := stepReply(res, err, 10)
	if err != nil {
		return r, nil, err
	}
	r.cfg = flatMap(res[6])
	r.rank, _ = res[7].(int64)
	waits, _ := res[8].([]any)
	r.waits = make([]string, len(waits))
	for i, w := range waits {
		r.waits[i], _ = w.(string)
	}
	prev, _ := res[9].([]any)
	r.prev = make([][3]string, len(prev))
	for i, p := range prev {
		v, _ := p.([]any)
		for k := 0; k < 3 && k < len(v); k++ {
			r.prev[i][k], _ = v[k].(string)
		}
	}
	return r, predicted, nil
}

// handOffArgs holds the string and number arguments of the handOff
// script, which go to go-redis by pointer (HandOff): the step's (team,
// priority, card, time, visitor, last message, retention), the chat's id,
// the first timer's, and the notice's.
type handOffArgs struct {
	team, priority, card, at, vis, last string
	retention                           int64
	id                                  string
	timers                              [1]struct {
		at     int64
		member string
	}
	payload, channel, merged, before, prev string
}

// handOffPipelined is HandOff on a Cluster: one pipeline runs the step on
// the conversation's record and adds it to the team's queue and open
// lists, reading the team's routing and the chat's place in the queue
// (the pipeline goes to the nodes of those slots at once). A pipeline is
// not a transaction: the lists may hold the chat a moment before its
// record says so, never the other way round; and when the step refuses
// (the chat is resolved, or gone) the additions are taken back.
func (s *Inbox) handOffPipelined(ctx context.Context, id string, h store.Handoff, at time.Time, args []any) (handOffReply, error) {
	args = append(args, "", 0) // the step only
	var step *goredis.Cmd
	var cfg *goredis.MapStringStringCmd
	var rank *goredis.IntCmd
	var waits *goredis.StringSliceCmd
	var timers []*goredis.IntCmd
	prev := make([]*goredis.SliceCmd, len(h.Previous))
	for try := 0; ; try++ {
		pipe := s.rdb.Pipeline()
		step = pipe.EvalSha(ctx, handOff.Hash(), []string{s.metaKey(id)}, args...)
		pipe.ZAdd(ctx, s.queueKey(h.Team), zmember(at, id))
		pipe.ZAdd(ctx, s.openKey(h.Team), zmember(at, id))
		cfg = pipe.HGetAll(ctx, s.teamConfigKey(h.Team))
		rank = pipe.ZRank(ctx, s.queueKey(h.Team), id)
		pipe.SAdd(ctx, s.teamsKey(), h.Team)
		waits = pipe.LRange(ctx, s.waitsKey(h.Team), 0, -1)
		// The turn's timers (Timers.Set's ZADD) and the earlier
		// conversations' records ride in the same round trip.
		timers = timers[:0]
		for _, tm := range h.Timers {
			timers = append(timers, pipe.ZAdd(ctx, s.timersKey(), goredis.Z{Score: float64(tm.At.UnixMilli()), Member: member(id, tm.ID)}))
		}
		for i, p := range h.Previous {
			prev[i] = pipe.HMGet(ctx, s.metaKey(p), "status", "team", "assignee")
		}
		_, _ = pipe.Exec(ctx)
		if err := step.Err(); try == 0 && err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := handOff.Load(ctx, s.rdb).Err(); err != nil {
				return handOffReply{}, err
			}
			continue
		}
		break
	}
	res, err := step.Slice()
	r, err := stepReply(res, err, 6)
	if err == nil {
		err = errors.Join(cfg.Err(), rank.Err())
		for _, tm := range timers {
			err = errors.Join(err, tm.Err())
		}
	}
	if err != nil {
		// The step did not happen (or may not have): take the chat out of
		// the lists the pipeline put it in. A chat that is already in this
		// team's lists is only ever re-added there, with the step.
		if !errors.Is(err, store.ErrInboxNotFound) && !errors.Is(err, store.ErrClosed) {
			return r, err // unknown: the record decides, the lists follow it
		}
		pipe := s.rdb.Pipeline()
		pipe.ZRem(ctx, s.queueKey(h.Team), id)
		pipe.ZRem(ctx, s.openKey(h.Team), id)
		if _, uerr := pipe.Exec(ctx); uerr != nil {
			return r, errors.Join(err, uerr)
		}
		return r, err
	}
	r.cfg, r.rank = cfg.Val(), rank.Val()
	if waits.Err() == nil {
		r.waits = waits.Val()
	}
	if len(h.Previous) > 0 {
		r.prev = previousFields(prev) // nil, not read: the caller reads them
	}
	return r, nil
}

// stepReply reads the handOff script's reply res (err: the command's),
// want elements long: store.ErrInboxNotFound or store.ErrClosed when the
// step refused.
func stepReply(res []any, err error, want int) (handOffReply, error) {
	if err != nil {
		return handOffReply{}, err
	}
	switch res[0] {
	case "missing":
		return handOffReply{}, store.ErrInboxNotFound
	case "closed":
		return handOffReply{}, store.ErrClosed
	}
	if len(res) != want {
		return handOffReply{}, fmt.Errorf("handoff: unexpected reply %v", res)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	sent, _ := res[5].(int64)
	return handOffReply{
		before: before{assignee: str(res[1]), status: store.Status(str(res[2])), team: str(res[3])},
		fields: flatMap(res[4]), sent: sent == 1,
	}, nil
}

// joinFields is a record's fields as the handOff script compares them:
// names and values joined by NUL bytes, the names in recordOrder's order
// (the order metaFields writes them, in which a record Inbox wrote and
// changed only by adding fields in that order keeps them: the text is
// then HGETALL's reply joined, which the script compares at once with
// the field count sent beside it); false when a name or value holds a NUL
// (the join would not say which fields it holds).
func joinFields(fields map[string]string) (string, bool) {
	n := 0
	for k, v := range fields {
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return "", false
		}
		n += len(k) + len(v) + 2
	}
	var b strings.Builder
	b.Grow(n)
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(0)
		}
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(v)
	}
	known := 0
	for _, k := range recordOrder {
		if v, ok := fields[k]; ok {
			add(k, v)
			known++
		}
	}
	if known < len(fields) {
		// Fields recordOrder does not name: after, sorted by name.
		rest := make([]string, 0, len(fields)-known)
		for k := range fields {
			if !slices.Contains(recordOrder, k) {
				rest = append(rest, k)
			}
		}
		slices.Sort(rest)
		for _, k := range rest {
			add(k, fields[k])
		}
	}
	return b.String(), true
}

// recordOrder is the order of a record's fields as metaFields writes
// them (a start's), then the fields a handoff adds (queued_at).
var recordOrder = []string{"status", "playbook", "visitor", "started_at", "updated_at", "team", "assignee", "assignee_name",
	"card", "priority", "labels", "previous", "last", "queued_at"}

// joinPrevious is the earlier chats' status, team and assignee as the
// handOff script compares them: all joined by NUL bytes; false when one
// holds a NUL.
func joinPrevious(prev [][3]string) (string, bool) {
	var b strings.Builder
	for i, p := range prev {
		for k, v := range p {
			if strings.IndexByte(v, 0) >= 0 {
				return "", false
			}
			if i > 0 || k > 0 {
				b.WriteByte(0)
			}
			b.WriteString(v)
		}
	}
	return b.String(), true
}

// flatMap is a script's reply of HGETALL (name, value, ...) as a map.
func flatMap(v any) map[string]string {
	flat, _ := v.([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		m[k], _ = flat[i+1].(string)
	}
	return m
}

// unindexBatch queues the removal of id from the lists it was in before a
// change.
func (s *Inbox) unindexBatch(ctx context.Context, bt *indexBatch, id string, b before) {
	if b.team != "" {
		bt.remove(s.queueKey(b.team), func(p goredis.Pipeliner) { s.unindex(ctx, p, id, before{team: b.team}) })
	}
	if b.assignee != "" {
		bt.remove(s.mineKey(b.assignee), func(p goredis.Pipeliner) { s.unindex(ctx, p, id, before{assignee: b.assignee}) })
	}
}

// unindex removes id from the lists it was in before a change, in pipe (a
// plain pipeline: on a cluster its commands may go to several nodes).
func (s *Inbox) unindex(ctx context.Context, pipe goredis.Pipeliner, id string, b before) {
	if b.team != "" {
		pipe.ZRem(ctx, s.queueKey(b.team), id)
		pipe.ZRem(ctx, s.openKey(b.team), id)
		pipe.ZRem(ctx, s.snoozedKey(b.team), id)
		pipe.ZRem(ctx, s.missedKey(b.team), id)
	}
	if b.assignee != "" {
		pipe.ZRem(ctx, s.mineKey(b.assignee), id)
	}
}

// Unlist implements store.Inbox.
func (s *Inbox) Unlist(ctx context.Context, id, team, assignee string) error {
	if team == "" && assignee == "" {
		return nil
	}
	pipe := s.rdb.Pipeline()
	s.unindex(ctx, pipe, id, before{team: team, assignee: assignee})
	_, err := pipe.Exec(ctx)
	return err
}

// Assign implements store.Inbox.
func (s *Inbox) Assign(ctx context.Context, id, agent, name string, claim bool, at time.Time) (*store.Conversation, string, error) {
	mode := "assign"
	if claim {
		mode = "claim"
	}
	b, err := s.transition(ctx, id, mode, agent, "assignee", agent, "assignee_name", name, "status", string(store.StatusOpen), "updated_at", stamp(at))
	if err != nil {
		return nil, b.assignee, err
	}
	var bt indexBatch
	if b.status == store.StatusSnoozed {
		bt.add(s.snoozedKey(b.team), func(p goredis.Pipeliner) { p.ZAdd(ctx, s.snoozedKey(b.team), zmember(at, id)) })
	} else {
		bt.add(s.openKey(b.team), func(p goredis.Pipeliner) { p.ZAdd(ctx, s.openKey(b.team), zmember(at, id)) })
		bt.add(s.mineKey(agent), func(p goredis.Pipeliner) { p.ZAdd(ctx, s.mineKey(agent), zmember(at, id)) })
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, b.assignee, err
	}
	c, err := s.Conversation(ctx, id)
	return c, b.assignee, err
}

// ToBot implements store.Inbox.
func (s *Inbox) ToBot(ctx context.Context, id, card string, at time.Time) (*store.Conversation, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(store.StatusBot), "assignee", "", "assignee_name", "", "card", card, "updated_at", stamp(at))
	if err != nil {
		return nil, err
	}
	var bt indexBatch
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, id)
}

// away sets the team of a conversation that has none: it returns 1 when
// set, 2 when the conversation had a team already (kept), 0 when there is
// no such conversation.
var away = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local team = redis.call('HGET', KEYS[1], 'team')
if team and team ~= '' then return 2 end
redis.call('HSET', KEYS[1], 'team', ARGV[1])
return 1
`)

// Away implements store.Inbox, by EVALSHA (Script.Run): the script is
// loaded on every master at the first Ping (loadScripts), so its body goes
// over the wire, and is hashed by Redis, only after a NOSCRIPT.
func (s *Inbox) Away(ctx context.Context, id, team string) error {
	n, err := away.Run(ctx, s.rdb, []string{s.metaKey(id)}, team).Int()
	switch {
	case err != nil:
		return err
	case n == 0:
		return store.ErrInboxNotFound
	}
	return nil
}

// Miss implements store.Inbox.
func (s *Inbox) Miss(ctx context.Context, id string, at time.Time) (*store.Conversation, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(store.StatusMissed), "assignee", "", "assignee_name", "", "updated_at", stamp(at))
	if err != nil {
		return nil, err
	}
	var bt indexBatch
	if b.team != "" {
		bt.add(s.missedKey(b.team), func(p goredis.Pipeliner) {
			p.ZAdd(ctx, s.missedKey(b.team), zmember(at, id))
			p.ZRemRangeByRank(ctx, s.missedKey(b.team), 0, -store.MaxClosed-1) // keep the latest
		})
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, id)
}

// Resolve implements store.Inbox.
func (s *Inbox) Resolve(ctx context.Context, id string, at time.Time) (*store.Conversation, string, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(store.StatusResolved), "resolved_at", stamp(at), "updated_at", stamp(at))
	if err != nil {
		return nil, "", err
	}
	team := b.team
	if team == "" {
		team = "none"
	}
	var bt indexBatch
	bt.add(s.closedKey(team), func(p goredis.Pipeliner) {
		p.ZAdd(ctx, s.closedKey(team), zmember(at, id))
		p.ZRemRangeByRank(ctx, s.closedKey(team), 0, -store.MaxClosed-1) // keep the latest
	})
	bt.add(s.teamsKey(), func(p goredis.Pipeliner) { p.SAdd(ctx, s.teamsKey(), team) })
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, "", err
	}
	c, err := s.Conversation(ctx, id)
	return c, b.assignee, err
}

// Reopen implements store.Inbox: the record in one step, then its lists.
func (s *Inbox) Reopen(ctx context.Context, id string, at time.Time) (*store.Conversation, error) {
	fields := []string{"status", string(store.StatusOpen), "resolved_at", "", "updated_at", stamp(at)}
	b, err := s.transition(ctx, id, "reopen", "", fields...)
	if errors.Is(err, errUnchanged) {
		return nil, store.ErrNotResolved
	}
	if err != nil {
		return nil, err
	}
	if b.assignee == "" && b.team != "" {
		if err := s.rdb.HSet(ctx, s.metaKey(id), "queued_at", stamp(at)).Err(); err != nil {
			return nil, err
		}
	}
	team := b.team
	if team == "" {
		team = "none"
	}
	var bt indexBatch
	bt.add(s.closedKey(team), func(p goredis.Pipeliner) {
		p.ZRem(ctx, s.closedKey(team), id)
		if b.team != "" {
			p.ZAdd(ctx, s.openKey(b.team), zmember(at, id))
			if b.assignee == "" {
				p.ZAdd(ctx, s.queueKey(b.team), zmember(at, id))
			}
		}
	})
	if b.assignee != "" {
		bt.add(s.mineKey(b.assignee), func(p goredis.Pipeliner) { p.ZAdd(ctx, s.mineKey(b.assignee), zmember(at, id)) })
	}
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, id)
}

// Snooze implements store.Inbox.
func (s *Inbox) Snooze(ctx context.Context, id string, until time.Time, untilReply bool, at time.Time) (*store.Conversation, error) {
	reply := "0"
	if untilReply {
		reply = "1"
	}
	b, err := s.transition(ctx, id, "set", "", "status", string(store.StatusSnoozed), "snoozed_until", stamp(until), "until_reply", reply, "updated_at", stamp(at))
	if err != nil {
		return nil, err
	}
	var bt indexBatch
	bt.add(s.snoozedKey(b.team), func(p goredis.Pipeliner) {
		p.ZAdd(ctx, s.snoozedKey(b.team), zmember(until, id))
	})
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, id)
}

// Unsnooze implements store.Inbox.
func (s *Inbox) Unsnooze(ctx context.Context, id string, at time.Time) (*store.Conversation, bool, error) {
	b, err := s.transition(ctx, id, "unsnooze", "", "status", string(store.StatusOpen), "snoozed_until", "", "until_reply", "0", "updated_at", stamp(at))
	if errors.Is(err, errUnchanged) {
		c, err := s.Conversation(ctx, id)
		return c, false, err
	}
	if err != nil {
		return nil, false, err
	}
	var bt indexBatch
	bt.add(s.openKey(b.team), func(p goredis.Pipeliner) {
		p.ZAdd(ctx, s.openKey(b.team), zmember(at, id))
		if b.assignee == "" {
			p.ZAdd(ctx, s.queueKey(b.team), zmember(at, id))
		}
	})
	if b.assignee != "" {
		bt.add(s.mineKey(b.assignee), func(p goredis.Pipeliner) { p.ZAdd(ctx, s.mineKey(b.assignee), zmember(at, id)) })
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, false, err
	}
	c, err := s.Conversation(ctx, id)
	return c, true, err
}

// Touch implements store.Inbox.
func (s *Inbox) Touch(ctx context.Context, c *store.Conversation, last store.Last, retention time.Duration) error {
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.metaKey(c.ID), "last", encodeLast(last), "updated_at", stamp(last.At))
	pipe.PExpire(ctx, s.metaKey(c.ID), retention)
	score := zmember(last.At, c.ID)
	if c.Status == store.StatusOpen && c.Team != "" {
		pipe.ZAddXX(ctx, s.openKey(c.Team), score)
		if c.Assignee != "" {
			pipe.ZAddXX(ctx, s.mineKey(c.Assignee), score)
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// SetLabels implements store.Inbox.
func (s *Inbox) SetLabels(ctx context.Context, id string, labels []string) error {
	b, _ := json.Marshal(labels)
	return s.rdb.HSet(ctx, s.metaKey(id), "labels", b).Err()
}

// Rate implements store.Inbox: on the conversation's meta hash (one key,
// so one slot) under WATCH, the status and the earlier rating read, the
// new one (store.AmendCSAT) written in MULTI/EXEC, again when another
// writer changed the hash in between; two tabs rating at once store one
// of their ratings whole.
func (s *Inbox) Rate(ctx context.Context, id string, r store.CSAT, amend time.Duration) (*store.Conversation, error) {
	key := s.metaKey(id)
	var refused error
	rate := func(tx *goredis.Tx) error {
		refused = nil
		vals, err := tx.HMGet(ctx, key, "status", "csat").Result()
		if err != nil {
			return err
		}
		st, _ := vals[0].(string)
		switch {
		case vals[0] == nil:
			refused = store.ErrInboxNotFound
			return nil
		case st != string(store.StatusResolved):
			refused = store.ErrNotResolved
			return nil
		}
		var old *store.CSAT
		if raw, ok := vals[1].(string); ok && raw != "" {
			old = new(store.CSAT)
			if err := json.Unmarshal([]byte(raw), old); err != nil {
				return fmt.Errorf("the stored rating of %s: %w", id, err)
			}
		}
		csat, err := store.AmendCSAT(old, r, amend)
		if err != nil {
			refused = err
			return nil
		}
		b, _ := json.Marshal(csat)
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, key, "csat", b)
			return nil
		})
		return err
	}
	for range 50 {
		err := s.rdb.Watch(ctx, rate, key)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if refused != nil {
			return nil, refused
		}
		return s.Conversation(ctx, id)
	}
	return nil, fmt.Errorf("rating %s: the conversation kept changing; try again", id)
}

// List implements store.Inbox.
func (s *Inbox) List(ctx context.Context, folder string, owners []string, limit int) ([]*store.Conversation, error) {
	if limit <= 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(owners))
	for _, o := range owners {
		k, err := s.folderKey(folder, o)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZRevRangeWithScores(ctx, k, 0, int64(limit-1))
	}
	if len(keys) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, err
		}
	}
	type item struct {
		id    string
		score float64
	}
	var items []item
	seen := map[string]bool{}
	for _, c := range cmds {
		for _, z := range c.Val() {
			id := z.Member.(string)
			if !seen[id] {
				seen[id] = true
				items = append(items, item{id, z.Score})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].score > items[j].score })
	if len(items) > limit {
		items = items[:limit]
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	convs, err := s.Conversations(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(convs) < len(ids) {
		// Records that expired leave the folder.
		have := map[string]bool{}
		for _, c := range convs {
			have[c.ID] = true
		}
		pipe := s.rdb.Pipeline()
		for _, id := range ids {
			if !have[id] {
				for _, k := range keys {
					pipe.ZRem(ctx, k, id)
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	return convs, nil
}

// Conversations implements store.Inbox.
func (s *Inbox) Conversations(ctx context.Context, ids []string) ([]*store.Conversation, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.metaKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]*store.Conversation, 0, len(ids))
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, decodeMeta(ids[i], m))
		}
	}
	return out, nil
}

// Listed implements store.Inbox.
func (s *Inbox) Listed(ctx context.Context, folder, owner string, n int) ([]string, error) {
	k, err := s.folderKey(folder, owner)
	if err != nil || n <= 0 {
		return nil, err
	}
	ids, err := s.rdb.ZRange(ctx, k, 0, int64(n-1)).Result()
	if errors.Is(err, goredis.Nil) {
		err = nil
	}
	return ids, err
}

// ListedTeams implements store.Inbox.
func (s *Inbox) ListedTeams(ctx context.Context) ([]string, error) {
	teams, err := s.rdb.SMembers(ctx, s.teamsKey()).Result()
	sort.Strings(teams)
	return teams, err
}

// OpenCount implements store.Inbox.
func (s *Inbox) OpenCount(ctx context.Context, ids []string) (map[string]int, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.IntCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.ZCard(ctx, s.mineKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	out := make(map[string]int, len(ids))
	for i, id := range ids {
		out[id] = int(cmds[i].Val())
	}
	return out, nil
}

// QueuePosition implements store.Inbox with two reads: the record, then
// the team's queue (they are on different slots of a Redis Cluster).
func (s *Inbox) QueuePosition(ctx context.Context, id string) (string, int, error) {
	vals, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "team", "assignee").Result()
	if err != nil {
		return "", 0, err
	}
	str := func(v any) string { s, _ := v.(string); return s }
	status, team, assignee := store.Status(str(vals[0])), str(vals[1]), str(vals[2])
	if status != store.StatusOpen || team == "" || assignee != "" {
		return team, 0, nil
	}
	rank, err := s.rdb.ZRank(ctx, s.queueKey(team), id).Result()
	if errors.Is(err, goredis.Nil) {
		return team, 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	return team, int(rank) + 1, nil
}

func (s *Inbox) teamConfigKey(team string) string { return s.p + "{t:" + team + "}:config" }

// SetTeamConfig implements store.Teams.
func (s *Inbox) SetTeamConfig(ctx context.Context, team string, c store.TeamConfig) error {
	reopen := c.Reopen
	if reopen == "" {
		reopen = store.ReopenNever
	}
	if err := s.rdb.HSet(ctx, s.teamConfigKey(team), "routing", string(c.Routing), "capacity", c.Capacity, "reopen", string(reopen), "hours", c.Hours).Err(); err != nil {
		return err
	}
	return s.rdb.SAdd(ctx, s.teamsKey(), team).Err()
}

// TeamConfig implements store.Teams.
func (s *Inbox) TeamConfig(ctx context.Context, team string) (store.TeamConfig, error) {
	m, err := s.rdb.HGetAll(ctx, s.teamConfigKey(team)).Result()
	if err != nil {
		return store.TeamConfig{}, err
	}
	return teamConfig(m), nil
}

func teamConfig(m map[string]string) store.TeamConfig {
	c := store.TeamConfig{Routing: store.Routing(m["routing"])}
	if c.Routing == "" {
		c.Routing = store.Manual
	}
	c.Capacity, _ = strconv.Atoi(m["capacity"])
	c.Reopen = store.ReopenPolicy(m["reopen"])
	c.Hours = m["hours"]
	if c.Reopen == "" {
		c.Reopen = store.ReopenNever
	}
	return c
}

// AddWait implements store.Teams: LPUSH and LTRIM of the team's one list
// in one MULTI.
func (s *Inbox) AddWait(ctx context.Context, team string, wait time.Duration, keep int) error {
	k := s.p + "{t:" + team + "}:waits"
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.LPush(ctx, k, max(wait, 0).Milliseconds())
		p.LTrim(ctx, k, 0, int64(max(keep, 1))-1)
		return nil
	})
	return err
}

// Waits implements store.Teams.
func (s *Inbox) Waits(ctx context.Context, team string) ([]time.Duration, error) {
	vals, err := s.rdb.LRange(ctx, s.waitsKey(team), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	return parseWaits(team, vals)
}

func (s *Inbox) waitsKey(team string) string { return s.p + "{t:" + team + "}:waits" }

// parseWaits decodes a team's waits list (ms).
func parseWaits(team string, vals []string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, len(vals))
	for _, v := range vals {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("waits of team %s: %w", team, err)
		}
		out = append(out, time.Duration(ms)*time.Millisecond)
	}
	return out, nil
}

// NextTurn implements store.Teams.
func (s *Inbox) NextTurn(ctx context.Context, team string) (int64, error) {
	return s.rdb.Incr(ctx, s.p+"rr:"+team).Result()
}

// previousFields are the status, team and assignee HMGETs answered (nil
// when one failed).
func previousFields(cmds []*goredis.SliceCmd) [][3]string {
	out := make([][3]string, len(cmds))
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil || len(v) != 3 {
			return nil
		}
		for k := range 3 {
			out[i][k], _ = v[k].(string)
		}
	}
	return out
}

var _ store.NoticePublisher = (*Inbox)(nil)

// PublishesOn implements store.NoticePublisher: on one node, a handoff's
// notice goes out in its step, heard by a Bus on the same client (on a
// Cluster the step's keys are in other slots than the earlier chats').
func (s *Inbox) PublishesOn(publisher any) bool {
	b, ok := busOf(publisher)
	_, cluster := s.rdb.(*goredis.ClusterClient)
	return ok && b.rdb == s.rdb && !cluster
}

// noticeArgs returns the record as handOff leaves it when it has the
// fields h.Notice.Before (its fields, and decoded with PreviousRead from
// h.Notice.Previous); nil when the notice cannot ride (a Cluster, nothing
// read).
func (s *Inbox) noticeArgs(id string, h store.Handoff, at time.Time, last, vis string) (map[string]string, *store.Conversation) {
	n := h.Notice
	if _, cluster := s.rdb.(*goredis.ClusterClient); cluster || n.Before == nil || len(n.Previous) != len(h.Previous) {
		return nil, nil
	}
	fields, v := handedOff(n.Before, h, at, last, vis)
	c := decodeMetaWith(id, fields, v, lastAsRead(h.Last))
	if len(h.Previous) > 0 {
		c.PreviousRead = make([]store.PreviousChat, 0, len(h.Previous))
		for i, p := range n.Previous {
			if p[0] != "" { // a record always has its status
				c.PreviousRead = append(c.PreviousRead, store.PreviousChat{ID: h.Previous[i], Team: p[1], Assignee: p[2]})
			}
		}
	}
	return fields, c
}

// handedOff is the record's fields as the handOff script leaves fields
// (its Go twin: TestHandOffStepCommands and TestHandOffReturnsTheRecordItLeaves
// hold them together).
// It also returns the record's visitor as it leaves it, decoded (for
// decodeMetaWith). vis is h.Visitor encoded (encodeVisitor; "" when
// h.Visitor is empty), the value when the record's visitor has nothing
// h.Visitor does not set.
func handedOff(fields map[string]string, h store.Handoff, at time.Time, last, vis string) (map[string]string, store.Visitor) {
	// Room for the fields the step may add (status, team, updated_at,
	// queued_at, priority, card, last): the map is not grown.
	m := make(map[string]string, len(fields)+7)
	maps.Copy(m, fields)
	cur := decodeVisitor(m["visitor"])
	if v := h.Visitor; v != (store.Visitor{}) {
		merged := mergeVisitor(cur, v)
		if merged == v && vis != "" {
			m["visitor"] = vis
		} else {
			m["visitor"] = encodeVisitor(merged)
		}
		cur = merged
	}
	st := stamp(at)
	m["status"], m["team"], m["updated_at"], m["queued_at"] = string(store.StatusOpen), h.Team, st, st
	delete(m, "assignee")
	delete(m, "assignee_name")
	for _, f := range []struct{ k, v string }{{"priority", h.Priority}, {"card", h.Card}} {
		if f.v == "" {
			delete(m, f.k)
		} else {
			m[f.k] = f.v
		}
	}
	if last != "" {
		m["last"] = last
	}
	return m, cur
}
