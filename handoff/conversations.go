package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is where a conversation stands in the inbox.
type Status string

// Conversation statuses.
const (
	StatusBot      Status = "bot"      // the bot is talking; not in any queue
	StatusOpen     Status = "open"     // in a team's queue, or with an agent
	StatusSnoozed  Status = "snoozed"  // put aside until a time or the visitor's reply
	StatusResolved Status = "resolved" // closed; cannot be reassigned or reopened
	// StatusMissed: nobody took the chat within the handoff's wait (or
	// the visitor chose to leave a message instead), so the bot's offline
	// path ran. It stays in the team's Missed folder until an agent takes
	// or resolves it.
	StatusMissed Status = "missed"
)

// Visitor is what the inbox shows of the visitor.
type Visitor struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Page  string `json:"page,omitempty"`
}

// Last is a conversation's latest message, for the list.
type Last struct {
	From string `json:"from"` // visitor, bot or agent
	// Agent and Author are the id and name of the agent who wrote it (from
	// agent), so each inbox says "You" only for its own messages.
	Agent  string    `json:"agent,omitempty"`
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// CSAT is the visitor's rating.
type CSAT struct {
	Score   int       `json:"score"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Conversation is one chat as the inbox sees it.
type Conversation struct {
	ID           string     `json:"id"`
	Status       Status     `json:"status"`
	Team         string     `json:"team,omitempty"`
	Assignee     string     `json:"assignee,omitempty"`
	AssigneeName string     `json:"assignee_name,omitempty"`
	Playbook     string     `json:"playbook"`
	Card         string     `json:"card,omitempty"`
	Priority     string     `json:"priority,omitempty"`
	Visitor      Visitor    `json:"visitor"`
	Labels       []string   `json:"labels"`
	Last         *Last      `json:"last,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	SnoozedUntil *time.Time `json:"snoozed_until"`
	UntilReply   bool       `json:"snoozed_until_reply,omitempty"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	CSAT         *CSAT      `json:"csat"`
	Previous     []string   `json:"previous,omitempty"`
	// QueuePosition is the conversation's place in its team's queue (1 is
	// next) as HandOff left it; not stored, 0 everywhere else.
	QueuePosition int `json:"-"`
}

// VisibleTo reports whether a member of c's team, or an admin, is a.
//
// Deprecated: the access policy decides who may see or act on a
// conversation (its assignee too): use access.Conversation.
func (c *Conversation) VisibleTo(a *Agent) bool {
	if a.Role == RoleAdmin {
		return true
	}
	return c.Team != "" && slices.Contains(a.Teams, c.Team)
}

// A team's lists (and its routing, teamConfigKey) share the hash tag
// {t:TEAM}: one slot on a Redis Cluster, so a change to several of them is
// one transaction. An agent's list (mineKey), the set of teams and a
// conversation's record ({c:ID}) are in other slots: see indexBatch.
func (s *Store) queueKey(team string) string   { return s.p + "{t:" + team + "}:queue" }
func (s *Store) openKey(team string) string    { return s.p + "{t:" + team + "}:open" }
func (s *Store) snoozedKey(team string) string { return s.p + "{t:" + team + "}:snoozed" }
func (s *Store) closedKey(team string) string  { return s.p + "{t:" + team + "}:closed" }
func (s *Store) missedKey(team string) string  { return s.p + "{t:" + team + "}:missed" }
func (s *Store) mineKey(agent string) string   { return s.p + "agent:" + agent + ":mine" }
func (s *Store) visitorKey(v Visitor) string {
	k := v.ID
	if v.Email != "" {
		k = strings.ToLower(v.Email)
	}
	return s.p + "visitor:" + k + ":convs"
}

// Start records a new conversation (status bot) and links it to the same
// visitor's earlier ones, found by visitor id or email.
func (s *Store) Start(ctx context.Context, c Conversation) (*Conversation, error) {
	now := s.now().UTC()
	c.Status, c.StartedAt, c.UpdatedAt = StatusBot, now, now
	if c.Labels == nil {
		c.Labels = []string{}
	}
	// One round trip: the visitor's earlier conversations are read, this
	// one is added to them and recorded, in order; a returning visitor's
	// list of earlier conversations is written in a second one.
	pipe := s.rdb.Pipeline()
	var prev *redis.StringSliceCmd
	if c.Visitor.ID != "" || c.Visitor.Email != "" {
		c.Previous = nil // the visitor's earlier conversations, read below
		key := s.visitorKey(c.Visitor)
		prev = pipe.ZRevRange(ctx, key, 0, 19)
		pipe.ZAdd(ctx, key, redisZ(float64(now.UnixMilli()), c.ID))
		pipe.PExpire(ctx, key, s.retention)
	}
	pipe.HSet(ctx, s.metaKey(c.ID), metaFields(&c)...)
	pipe.PExpire(ctx, s.metaKey(c.ID), s.retention)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	if prev != nil {
		c.Previous = slices.DeleteFunc(prev.Val(), func(id string) bool { return id == c.ID })
		if len(c.Previous) > 0 {
			b, _ := json.Marshal(c.Previous)
			if err := s.rdb.HSet(ctx, s.metaKey(c.ID), "previous", string(b)).Err(); err != nil {
				return nil, err
			}
		}
	}
	return &c, nil
}

func metaFields(c *Conversation) []any {
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	return []any{
		"id", c.ID, "status", string(c.Status), "team", c.Team, "assignee", c.Assignee, "assignee_name", c.AssigneeName,
		"playbook", c.Playbook, "card", c.Card, "priority", c.Priority, "visitor", j(c.Visitor), "labels", j(c.Labels),
		"started_at", c.StartedAt.Format(time.RFC3339Nano), "updated_at", c.UpdatedAt.Format(time.RFC3339Nano),
		"previous", j(c.Previous),
	}
}

// Conversation returns a conversation's inbox record.
func (s *Store) Conversation(ctx context.Context, id string) (*Conversation, error) {
	m, err := s.rdb.HGetAll(ctx, s.metaKey(id)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return decodeMeta(m), nil
}

func decodeMeta(m map[string]string) *Conversation {
	c := &Conversation{
		ID: m["id"], Status: Status(m["status"]), Team: m["team"], Assignee: m["assignee"], AssigneeName: m["assignee_name"],
		Playbook: m["playbook"], Card: m["card"], Priority: m["priority"], UntilReply: m["until_reply"] == "1",
	}
	_ = json.Unmarshal([]byte(m["visitor"]), &c.Visitor)
	_ = json.Unmarshal([]byte(m["labels"]), &c.Labels)
	_ = json.Unmarshal([]byte(m["previous"]), &c.Previous)
	if c.Labels == nil {
		c.Labels = []string{}
	}
	if m["last"] != "" {
		c.Last = &Last{}
		_ = json.Unmarshal([]byte(m["last"]), c.Last)
	}
	if m["csat"] != "" {
		c.CSAT = &CSAT{}
		_ = json.Unmarshal([]byte(m["csat"]), c.CSAT)
	}
	c.StartedAt, _ = time.Parse(time.RFC3339Nano, m["started_at"])
	c.UpdatedAt, _ = time.Parse(time.RFC3339Nano, m["updated_at"])
	if t, err := time.Parse(time.RFC3339Nano, m["snoozed_until"]); err == nil {
		c.SnoozedUntil = &t
	}
	if t, err := time.Parse(time.RFC3339Nano, m["resolved_at"]); err == nil {
		c.ResolvedAt = &t
	}
	return c
}

// transition changes a conversation's fields atomically, refusing a
// resolved one. With mode "claim" it also refuses when another agent owns
// it. It returns the assignee, status and team before the change.
var transition = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st == 'resolved' then return {'closed'} end
local cur = redis.call('HGET', KEYS[1], 'assignee') or ''
local team = redis.call('HGET', KEYS[1], 'team') or ''
if ARGV[1] == 'claim' and cur ~= '' and cur ~= ARGV[2] then return {'taken', cur} end
if ARGV[1] == 'unsnooze' and st ~= 'snoozed' then return {'unchanged', cur, st, team} end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
return {'ok', cur, st, team}
`)

type before struct {
	assignee string
	status   Status
	team     string
}

func (s *Store) transition(ctx context.Context, id, mode, agent string, fields ...string) (before, error) {
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
		return before{}, ErrNotFound
	case "closed":
		return before{}, ErrClosed
	case "taken":
		return before{assignee: res[1]}, ErrTaken
	case "unchanged":
		return before{assignee: res[1], status: Status(res[2]), team: res[3]}, errUnchanged
	}
	return before{assignee: res[1], status: Status(res[2]), team: res[3]}, nil
}

var errUnchanged = errors.New("unchanged")

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

func (s *Store) score() float64 { return float64(s.now().UnixMilli()) }

// UpdateVisitor fills in what is known of the visitor (fields of v that
// are not empty win).
func (s *Store) UpdateVisitor(ctx context.Context, id string, v Visitor) error {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return err
	}
	old := c.Visitor
	for _, f := range []struct {
		dst *string
		src string
	}{{&c.Visitor.ID, v.ID}, {&c.Visitor.Name, v.Name}, {&c.Visitor.Email, v.Email}, {&c.Visitor.Page, v.Page}} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if c.Visitor == old {
		return nil
	}
	b, _ := json.Marshal(c.Visitor)
	return s.rdb.HSet(ctx, s.metaKey(id), "visitor", b).Err()
}

// Handoff is a conversation the bot hands to a team.
type Handoff struct {
	Team     string
	Priority string
	// Card is the handoff card (the bot resumes from it if the chat comes
	// back).
	Card string
	// Visitor is what the bot learnt of the visitor; its fields that are
	// not empty fill in the conversation's.
	Visitor Visitor
	// Last, when set, is the conversation's latest message (the bot's
	// handoff text), for the lists.
	Last *Last
}

// handOff moves a conversation to a team's queue in one step on its own
// record: the visitor's details merged in, the latest message, the new
// status and team. It returns the fields before the change and the
// record after it, and renews the record's retention (ARGV[10], ms).
// (The team lists, other keys, follow in a pipeline.)
var handOff = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st == 'resolved' then return {'closed'} end
local cur = redis.call('HGET', KEYS[1], 'assignee') or ''
local team = redis.call('HGET', KEYS[1], 'team') or ''
local vis = {ARGV[5], ARGV[6], ARGV[7], ARGV[8]}
if vis[1] ~= '' or vis[2] ~= '' or vis[3] ~= '' or vis[4] ~= '' then
  local ok, v = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'visitor') or '{}')
  if not ok or type(v) ~= 'table' then v = {} end
  for i, k in ipairs({'id', 'name', 'email', 'page'}) do
    if vis[i] ~= '' then v[k] = vis[i] end
  end
  redis.call('HSET', KEYS[1], 'visitor', cjson.encode(v))
end
redis.call('HSET', KEYS[1], 'status', 'open', 'team', ARGV[1], 'assignee', '', 'assignee_name', '',
  'priority', ARGV[2], 'card', ARGV[3], 'updated_at', ARGV[4])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[9]) end
redis.call('PEXPIRE', KEYS[1], ARGV[10])
return {'ok', cur, st, team, redis.call('HGETALL', KEYS[1])}
`)

// HandOff puts a conversation in a team's queue, unassigned (the handoff
// card ran and someone of the team is online, or an agent put it back),
// and returns it with the team's routing. Two round trips: the
// conversation's record, then the team's lists and routing.
func (s *Store) HandOff(ctx context.Context, id string, h Handoff) (*Conversation, TeamConfig, error) {
	last := ""
	if h.Last != nil {
		b, _ := json.Marshal(h.Last)
		last = string(b)
	}
	res, err := handOff.Run(ctx, s.rdb, []string{s.metaKey(id)}, h.Team, h.Priority, h.Card, s.stamp(),
		h.Visitor.ID, h.Visitor.Name, h.Visitor.Email, h.Visitor.Page, last, s.retention.Milliseconds()).Slice()
	if err != nil {
		return nil, TeamConfig{}, err
	}
	switch res[0] {
	case "missing":
		return nil, TeamConfig{}, ErrNotFound
	case "closed":
		return nil, TeamConfig{}, ErrClosed
	}
	if len(res) != 5 {
		return nil, TeamConfig{}, fmt.Errorf("handoff: unexpected reply %v", res)
	}
	b := before{assignee: fmt.Sprint(res[1]), status: Status(fmt.Sprint(res[2])), team: fmt.Sprint(res[3])}
	flat, _ := res[4].([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[fmt.Sprint(flat[i])] = fmt.Sprint(flat[i+1])
	}
	var bt indexBatch
	var cfg *redis.MapStringStringCmd
	var rank *redis.IntCmd
	score := s.score()
	bt.add(s.queueKey(h.Team), func(p redis.Pipeliner) {
		p.ZAdd(ctx, s.queueKey(h.Team), redisZ(score, id))
		p.ZAdd(ctx, s.openKey(h.Team), redisZ(score, id))
		cfg = p.HGetAll(ctx, s.teamConfigKey(h.Team))
		rank = p.ZRank(ctx, s.queueKey(h.Team), id)
	})
	bt.add(s.p+"teams", func(p redis.Pipeliner) { p.SAdd(ctx, s.p+"teams", h.Team) })
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, TeamConfig{}, err
	}
	c := decodeMeta(m)
	c.QueuePosition = int(rank.Val()) + 1
	return c, teamConfig(cfg.Val()), nil
}

// Queue puts a conversation in team's queue, unassigned.
func (s *Store) Queue(ctx context.Context, id, team, priority, card string) (*Conversation, error) {
	c, _, err := s.HandOff(ctx, id, Handoff{Team: team, Priority: priority, Card: card})
	return c, err
}

// unindexBatch queues the removal of id from the lists it was in before a
// change.
func (s *Store) unindexBatch(ctx context.Context, bt *indexBatch, id string, b before) {
	if b.team != "" {
		bt.remove(s.queueKey(b.team), func(p redis.Pipeliner) { s.unindex(ctx, p, id, before{team: b.team}) })
	}
	if b.assignee != "" {
		bt.remove(s.mineKey(b.assignee), func(p redis.Pipeliner) { s.unindex(ctx, p, id, before{assignee: b.assignee}) })
	}
}

// unindex removes id from the lists it was in before a change, in pipe (a
// plain pipeline: on a cluster its commands may go to several nodes).
func (s *Store) unindex(ctx context.Context, pipe redis.Pipeliner, id string, b before) {
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

// Assign gives a conversation to agent to. With claim set (an agent taking
// a chat for themselves) it fails with ErrTaken when another agent has it;
// without (reassigning), it moves it from whoever has it.
func (s *Store) Assign(ctx context.Context, id string, to *Agent, claim bool) (*Conversation, string, error) {
	mode := "set"
	if claim {
		mode = "claim"
	}
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := s.mustBeAlive(ctx, c); err != nil {
		return nil, "", err
	}
	if c.Team == "" {
		return nil, "", fmt.Errorf("%w: the conversation is not in a team's queue", ErrInvalid)
	}
	if !to.InTeam(c.Team) {
		return nil, "", fmt.Errorf("%w: %s is not in team %s", ErrForbidden, to.Name, c.Team)
	}
	status := string(StatusOpen)
	if c.Status == StatusSnoozed {
		status = string(StatusSnoozed)
	}
	b, err := s.transition(ctx, id, mode, to.ID, "assignee", to.ID, "assignee_name", to.Name, "status", status, "updated_at", s.stamp())
	if err != nil {
		return nil, b.assignee, err
	}
	var bt indexBatch
	score := s.score()
	if Status(status) == StatusSnoozed {
		bt.add(s.snoozedKey(b.team), func(p redis.Pipeliner) { p.ZAdd(ctx, s.snoozedKey(b.team), redisZ(score, id)) })
	} else {
		bt.add(s.openKey(b.team), func(p redis.Pipeliner) { p.ZAdd(ctx, s.openKey(b.team), redisZ(score, id)) })
		bt.add(s.mineKey(to.ID), func(p redis.Pipeliner) { p.ZAdd(ctx, s.mineKey(to.ID), redisZ(score, id)) })
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, b.assignee, err
	}
	c, err = s.Conversation(ctx, id)
	return c, b.assignee, err
}

// AssignBy is Assign done by agent by (nil: the team's routing chose).
// When by gives the chat to someone else, that agent must be of the
// conversation's team and online (LeadBooster's rule: chats go only to
// people who are there); otherwise it fails with ErrUnavailable and the
// reason, and nothing changes. Taking a chat yourself has no such check.
func (s *Store) AssignBy(ctx context.Context, id string, by, to *Agent, claim bool) (*Conversation, string, error) {
	if by != nil && by.ID != to.ID {
		c, err := s.Conversation(ctx, id)
		if err != nil {
			return nil, "", err
		}
		if c.Team != "" && !to.InTeam(c.Team) {
			return nil, "", fmt.Errorf("%w: %s is not in team %s; transfer the chat to their team instead", ErrUnavailable, to.Name, c.Team)
		}
		p, err := s.PresenceOf(ctx, to)
		if err != nil {
			return nil, "", err
		}
		if p != Online {
			return nil, "", fmt.Errorf("%w: %s is %s; a chat can be given only to an agent who is online", ErrUnavailable, to.Name, p)
		}
	}
	return s.Assign(ctx, id, to, claim)
}

// Unassign puts a conversation back in its team's queue.
func (s *Store) Unassign(ctx context.Context, id string) (*Conversation, string, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	b, err := s.Queue(ctx, id, c.Team, c.Priority, c.Card)
	return b, c.Assignee, err
}

// Transfer moves a conversation to another team's queue, unassigned. The
// team must be one an agent is in (Teams): a chat sent to a team nobody is
// in would be seen by admins only.
func (s *Store) Transfer(ctx context.Context, id, team string) (*Conversation, string, error) {
	teams, err := s.Teams(ctx)
	if err != nil {
		return nil, "", err
	}
	if !slices.Contains(teams, team) {
		return nil, "", fmt.Errorf("%w: there is no team %q (teams: %s)", ErrInvalid, truncateRunes(team, 40), strings.Join(teams, ", "))
	}
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	n, err := s.Queue(ctx, id, team, c.Priority, c.Card)
	return n, c.Assignee, err
}

// ToBot takes a conversation out of the queues: the bot talks again (an
// agent handed it back, or nobody accepted in time).
func (s *Store) ToBot(ctx context.Context, id, card string) (*Conversation, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(StatusBot), "assignee", "", "assignee_name", "", "card", card, "updated_at", s.stamp())
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
var away = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local team = redis.call('HGET', KEYS[1], 'team')
if team and team ~= '' then return 2 end
redis.call('HSET', KEYS[1], 'team', ARGV[1])
return 1
`)

// Away records on conversation id that the bot reached a handoff to team
// while the team was away (the bot's offline path ran): the conversation
// belongs to team from then on, for who may see it, but it is queued
// nowhere (no Unassigned, no Missed: nobody was there to miss it). A
// conversation that has a team keeps it (the first handoff it reached
// names it; a real handoff always sets its own). It is queued on pipe
// (so that it shares a round trip with other work); the returned function
// reports its outcome after pipe runs: ErrNotFound when the conversation
// has no inbox record.
func (s *Store) Away(ctx context.Context, pipe redis.Pipeliner, id, team string) func() error {
	cmd := away.Eval(ctx, pipe, []string{s.metaKey(id)}, team)
	return func() error {
		n, err := cmd.Int()
		switch {
		case err != nil:
			return err
		case n == 0:
			return ErrNotFound
		}
		return nil
	}
}

// Miss records that nobody took a queued conversation in time (its wait
// ran out, or the visitor chose to leave a message instead): it leaves the
// team's queue for the team's Missed folder, unassigned, and keeps its
// team, so the team still sees it with what the bot's offline path
// created. It returns the conversation after the change and the ids of
// the team's agents who were online when it happened.
func (s *Store) Miss(ctx context.Context, id string) (*Conversation, []string, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(StatusMissed), "assignee", "", "assignee_name", "", "updated_at", s.stamp())
	if err != nil {
		return nil, nil, err
	}
	var bt indexBatch
	if b.team != "" {
		score := s.score()
		bt.add(s.missedKey(b.team), func(p redis.Pipeliner) {
			p.ZAdd(ctx, s.missedKey(b.team), redisZ(score, id))
			p.ZRemRangeByRank(ctx, s.missedKey(b.team), 0, -5001) // keep the latest 5,000
		})
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, nil, err
	}
	var online []string
	if b.team != "" {
		if online, err = s.OnlineAgents(ctx, b.team); err != nil {
			return nil, nil, err
		}
	}
	c, err := s.Conversation(ctx, id)
	return c, online, err
}

// Resolve closes a conversation. It stays visible in the team's Closed
// folder; records can still be created from it.
func (s *Store) Resolve(ctx context.Context, id string) (*Conversation, string, error) {
	b, err := s.transition(ctx, id, "set", "", "status", string(StatusResolved), "resolved_at", s.stamp(), "updated_at", s.stamp())
	if err != nil {
		return nil, "", err
	}
	team := b.team
	if team == "" {
		team = "none"
	}
	var bt indexBatch
	score := s.score()
	bt.add(s.closedKey(team), func(p redis.Pipeliner) {
		p.ZAdd(ctx, s.closedKey(team), redisZ(score, id))
		p.ZRemRangeByRank(ctx, s.closedKey(team), 0, -5001) // keep the latest 5,000
	})
	bt.add(s.p+"teams", func(p redis.Pipeliner) { p.SAdd(ctx, s.p+"teams", team) })
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, "", err
	}
	c, err := s.Conversation(ctx, id)
	return c, b.assignee, err
}

// Snooze puts a conversation aside until a time, or (untilReply) until
// the visitor writes again. The caller sets a timer for until.
func (s *Store) Snooze(ctx context.Context, id string, until time.Time, untilReply bool) (*Conversation, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusBot || c.Status == StatusMissed {
		return nil, fmt.Errorf("%w: only open conversations can be snoozed", ErrInvalid)
	}
	reply := "0"
	if untilReply {
		reply = "1"
	}
	b, err := s.transition(ctx, id, "set", "", "status", string(StatusSnoozed), "snoozed_until", until.UTC().Format(time.RFC3339Nano), "until_reply", reply, "updated_at", s.stamp())
	if err != nil {
		return nil, err
	}
	var bt indexBatch
	bt.add(s.snoozedKey(b.team), func(p redis.Pipeliner) {
		p.ZAdd(ctx, s.snoozedKey(b.team), redisZ(float64(until.UnixMilli()), id))
	})
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, err
	}
	return s.Conversation(ctx, id)
}

// Unsnooze reopens a snoozed conversation (its time came, or the visitor
// replied). It reports false when the conversation was not snoozed, so a
// timer that fires late, or twice, changes nothing.
func (s *Store) Unsnooze(ctx context.Context, id string) (*Conversation, bool, error) {
	b, err := s.transition(ctx, id, "unsnooze", "", "status", string(StatusOpen), "snoozed_until", "", "until_reply", "0", "updated_at", s.stamp())
	if errors.Is(err, errUnchanged) {
		c, err := s.Conversation(ctx, id)
		return c, false, err
	}
	if err != nil {
		return nil, false, err
	}
	var bt indexBatch
	score := s.score()
	bt.add(s.openKey(b.team), func(p redis.Pipeliner) {
		p.ZAdd(ctx, s.openKey(b.team), redisZ(score, id))
		if b.assignee == "" {
			p.ZAdd(ctx, s.queueKey(b.team), redisZ(score, id))
		}
	})
	if b.assignee != "" {
		bt.add(s.mineKey(b.assignee), func(p redis.Pipeliner) { p.ZAdd(ctx, s.mineKey(b.assignee), redisZ(score, id)) })
	}
	s.unindexBatch(ctx, &bt, id, b)
	if err := bt.exec(ctx, s.rdb); err != nil {
		return nil, false, err
	}
	c, err := s.Conversation(ctx, id)
	return c, true, err
}

// Touch records a conversation's latest message and moves it up its lists.
func (s *Store) Touch(ctx context.Context, c *Conversation, last Last) error {
	b, _ := json.Marshal(last)
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.metaKey(c.ID), "last", b, "updated_at", last.At.UTC().Format(time.RFC3339Nano))
	pipe.PExpire(ctx, s.metaKey(c.ID), s.retention)
	score := redisZ(float64(last.At.UnixMilli()), c.ID)
	if c.Status == StatusOpen && c.Team != "" {
		pipe.ZAddXX(ctx, s.openKey(c.Team), score)
		if c.Assignee != "" {
			pipe.ZAddXX(ctx, s.mineKey(c.Assignee), score)
		}
	}
	_, err := pipe.Exec(ctx)
	c.Last, c.UpdatedAt = &last, last.At
	return err
}

// SetLabels adds and removes labels.
func (s *Store) SetLabels(ctx context.Context, id string, add, remove []string) (*Conversation, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	labels := c.Labels
	for _, l := range add {
		l = strings.TrimSpace(strings.ToLower(l))
		if l == "" || len(l) > 40 {
			return nil, fmt.Errorf("%w: a label has 1 to 40 characters", ErrInvalid)
		}
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	labels = slices.DeleteFunc(labels, func(l string) bool { return slices.Contains(remove, l) })
	sort.Strings(labels)
	b, _ := json.Marshal(labels)
	if err := s.rdb.HSet(ctx, s.metaKey(id), "labels", b).Err(); err != nil {
		return nil, err
	}
	c.Labels = labels
	return c, nil
}

// rate stores a rating on a resolved conversation that has none, in one
// step, so two tabs (or two processes) rating at once store one.
var rate = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st ~= 'resolved' then return 'not_resolved' end
if redis.call('HSETNX', KEYS[1], 'csat', ARGV[1]) == 0 then return 'rated' end
return 'ok'
`)

// Rate stores the visitor's rating (1 to 5) of a conversation. Only a
// resolved conversation can be rated (ErrNotResolved), and only once
// (ErrRated): the first rating stays.
func (s *Store) Rate(ctx context.Context, id string, score int, comment string) (*Conversation, error) {
	if score < 1 || score > 5 {
		return nil, fmt.Errorf("%w: a rating is 1 to 5", ErrInvalid)
	}
	if len([]rune(comment)) > 1000 {
		return nil, fmt.Errorf("%w: the comment is longer than 1,000 characters", ErrInvalid)
	}
	b, _ := json.Marshal(CSAT{Score: score, Comment: comment, At: s.now().UTC()})
	res, err := rate.Run(ctx, s.rdb, []string{s.metaKey(id)}, string(b)).Text()
	if err != nil {
		return nil, err
	}
	switch res {
	case "missing":
		return nil, ErrNotFound
	case "not_resolved":
		return nil, ErrNotResolved
	case "rated":
		return nil, ErrRated
	}
	return s.Conversation(ctx, id)
}

// Folder names.
const (
	FolderUnassigned = "unassigned"
	FolderMine       = "mine"
	FolderOpen       = "open"
	FolderSnoozed    = "snoozed"
	FolderClosed     = "closed"
	FolderMissed     = "missed"
)

// List returns the conversations of a folder that agent a may see, newest
// activity first, at most limit.
func (s *Store) List(ctx context.Context, a *Agent, folder string, limit int) ([]*Conversation, error) {
	teams := a.Teams
	if a.Role == RoleAdmin {
		all, err := s.rdb.SMembers(ctx, s.p+"teams").Result()
		if err != nil {
			return nil, err
		}
		teams = all
	}
	var keys []string
	switch folder {
	case FolderMine:
		keys = []string{s.mineKey(a.ID)}
	case FolderUnassigned, FolderOpen, FolderSnoozed, FolderClosed, FolderMissed:
		for _, t := range teams {
			switch folder {
			case FolderUnassigned:
				keys = append(keys, s.queueKey(t))
			case FolderOpen:
				keys = append(keys, s.openKey(t))
			case FolderSnoozed:
				keys = append(keys, s.snoozedKey(t))
			case FolderClosed:
				keys = append(keys, s.closedKey(t))
			case FolderMissed:
				keys = append(keys, s.missedKey(t))
			}
		}
	default:
		return nil, fmt.Errorf("%w: folder %q", ErrInvalid, folder)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZRevRangeWithScores(ctx, k, 0, int64(limit-1))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
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
	sort.Slice(items, func(i, j int) bool { return items[i].score > items[j].score })
	if len(items) > limit {
		items = items[:limit]
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	convs, err := s.conversations(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.withoutGone(ctx, folder, keys, ids, convs)
}

func (s *Store) conversations(ctx context.Context, ids []string) ([]*Conversation, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.metaKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]*Conversation, 0, len(ids))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, decodeMeta(m))
		}
	}
	return out, nil
}

// Previous returns the visitor's earlier conversations, newest first.
func (s *Store) Previous(ctx context.Context, c *Conversation) ([]*Conversation, error) {
	return s.conversations(ctx, c.Previous)
}

// OpenCount returns how many conversations each agent has assigned.
func (s *Store) OpenCount(ctx context.Context, ids []string) (map[string]int, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ids))
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

// QueuePosition returns the team whose queue conversation id waits in and
// its place there (1 is next; the queue is first come, first served). Its
// place is 0 when it does not wait (taken, missed, resolved, with the
// bot). Two reads: the conversation's record, then the team's queue (they
// are on different slots of a Redis Cluster).
func (s *Store) QueuePosition(ctx context.Context, id string) (team string, pos int, err error) {
	vals, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "team", "assignee").Result()
	if err != nil {
		return "", 0, err
	}
	str := func(v any) string { s, _ := v.(string); return s }
	status, team, assignee := Status(str(vals[0])), str(vals[1]), str(vals[2])
	if status != StatusOpen || team == "" || assignee != "" {
		return team, 0, nil
	}
	rank, err := s.rdb.ZRank(ctx, s.queueKey(team), id).Result()
	if errors.Is(err, redis.Nil) {
		return team, 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	return team, int(rank) + 1, nil
}
