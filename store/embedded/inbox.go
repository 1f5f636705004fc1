package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Inbox is the embedded engine's inbox (store.InboxEngine): conversations'
// inbox records and folders, routing, agents, sign-ins, presence and
// canned responses. Each atomic step is one Update, so a record and its
// folders always change together.
//
// Key space "h" (see keys.go):
//
//	K("hc", id)                          a conversation's record (JSON), expiring
//	K("hf", folder, owner, ms, id)       folder membership, by time (ms)
//	K("hm", folder, owner, id) -> ms     the same, by id
//	K("hfn", folder, owner) -> n         how many a folder holds
//	K("ht", team)                        teams with folders
//	K("hv", visitor, ms, id)             a visitor's conversations, expiring
//	K("hcfg", team), K("hrr", team)      routing, round-robin turns
//	K("ha", id), K("hae", email)         agents, their emails
//	K("hl", counter)                     sign-in attempts, expiring
//	K("hs", hash), K("hk", hash)         sign-ins (expiring), API tokens
//	K("hpa", agent), K("hpb", team, agent) -> ms   availability, heartbeats
//	K("hn", id), K("hnu", unique)        canned responses, their unique keys
type Inbox struct {
	db *DB
}

var _ store.InboxEngine = (*Inbox)(nil)

// NewInbox returns the inbox kept in db.
func NewInbox(db *DB) *Inbox { return &Inbox{db: db} }

func ms(t time.Time) int64 { return t.UnixMilli() }

func i64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func readI64(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func checkFolder(folder string) error {
	switch folder {
	case store.FolderUnassigned, store.FolderMine, store.FolderOpen, store.FolderSnoozed, store.FolderClosed, store.FolderMissed:
		return nil
	}
	return fmt.Errorf("no folder %q", folder)
}

// zadd puts id in a folder of owner at time at (moving it if there).
func zadd(tx *Tx, folder, owner string, at int64, id string) error {
	if err := zrem(tx, folder, owner, id); err != nil {
		return err
	}
	if err := tx.Put(K("hf", folder, owner, at, id), nil); err != nil {
		return err
	}
	if _, err := tx.Incr(K("hfn", folder, owner), 1); err != nil {
		return err
	}
	return tx.Put(K("hm", folder, owner, id), i64(at))
}

// zcard is how many ids a folder of owner holds.
func zcard(tx *Tx, folder, owner string) (int, error) {
	v, _, err := tx.Get(K("hfn", folder, owner))
	return int(readI64(v)), err
}

// zaddXX moves id in a folder it is in to time at; nothing when it is not.
func zaddXX(tx *Tx, folder, owner string, at int64, id string) error {
	ok, err := tx.Has(K("hm", folder, owner, id))
	if err != nil || !ok {
		return err
	}
	return zadd(tx, folder, owner, at, id)
}

func zrem(tx *Tx, folder, owner, id string) error {
	v, ok, err := tx.Get(K("hm", folder, owner, id))
	if err != nil || !ok {
		return err
	}
	if err := tx.Delete(K("hf", folder, owner, readI64(v), id)); err != nil {
		return err
	}
	if _, err := tx.Incr(K("hfn", folder, owner), -1); err != nil {
		return err
	}
	return tx.Delete(K("hm", folder, owner, id))
}

// zids returns the ids of a folder, oldest first (newest first with
// reverse), at most n.
func zids(tx *Tx, folder, owner string, n int, reverse bool) ([]string, []int64, error) {
	var ids []string
	var at []int64
	p := K("hf", folder, owner)
	err := tx.ScanRange(p, PrefixEnd(p), reverse, func(k, _ []byte) (bool, error) {
		if len(ids) >= n {
			return false, nil
		}
		parts, err := SplitKey(k)
		if err != nil || len(parts) != 5 {
			return false, fmt.Errorf("inbox folder key %q: %v", k, err)
		}
		ids = append(ids, parts[4].(string))
		at = append(at, parts[3].(int64))
		return true, nil
	})
	return ids, at, err
}

// trim keeps the latest max of a folder.
func trim(tx *Tx, folder, owner string, max int) error {
	n, err := zcard(tx, folder, owner)
	if err != nil || n <= max {
		return err
	}
	ids, _, err := zids(tx, folder, owner, n-max, false)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := zrem(tx, folder, owner, id); err != nil {
			return err
		}
	}
	return nil
}

// unindex takes id out of the folders it was in before a change.
func unindex(tx *Tx, id, team, assignee string) error {
	if team != "" {
		for _, f := range []string{store.FolderUnassigned, store.FolderOpen, store.FolderSnoozed, store.FolderMissed} {
			if err := zrem(tx, f, team, id); err != nil {
				return err
			}
		}
	}
	if assignee != "" {
		return zrem(tx, store.FolderMine, assignee, id)
	}
	return nil
}

func getConv(tx *Tx, id string) (*store.Conversation, error) {
	c, _, err := getConvRec(tx, id)
	return c, err
}

// getConvRec is getConv that also returns the stored record it decoded,
// for putConvOver: a record read and written back is looked up once.
func getConvRec(tx *Tx, id string) (*store.Conversation, []byte, error) {
	rec, err := tx.t.get(K("hc", id))
	if err != nil {
		return nil, nil, err
	}
	v, _, ok := tx.live(rec)
	if !ok {
		return nil, nil, store.ErrInboxNotFound
	}
	c := &store.Conversation{}
	if err := json.Unmarshal(v, c); err != nil { // copies what it keeps
		return nil, nil, fmt.Errorf("inbox record %s: %w", id, err)
	}
	if c.Labels == nil {
		c.Labels = []string{}
	}
	return c, rec, nil
}

// putConv stores c, expiring retention from now (0: keeping its expiry).
func putConv(tx *Tx, c *store.Conversation, retention time.Duration) error {
	rec, err := tx.t.get(K("hc", c.ID))
	if err != nil {
		return err
	}
	return putConvOver(tx, c, retention, rec)
}

// putConvOver is putConv of a record whose stored record, rec (nil:
// none), getConvRec read in this transaction, with no write to it since.
func putConvOver(tx *Tx, c *store.Conversation, retention time.Duration, rec []byte) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := K("hc", c.ID)
	if retention > 0 {
		return tx.putExpiringOver(key, b, tx.now.Add(retention), rec)
	}
	var at time.Time
	if _, ns, ok := tx.live(rec); ok && ns != 0 {
		at = time.Unix(0, ns)
	}
	return tx.putExpiringOver(key, b, at, rec)
}

// change runs fn on a record that exists and is not resolved, in one
// transaction, and stores it.
func (s *Inbox) change(ctx context.Context, id string, fn func(tx *Tx, c *store.Conversation) error) (*store.Conversation, error) {
	var out *store.Conversation
	err := s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		if c.Status == store.StatusResolved {
			return store.ErrClosed
		}
		if err := fn(tx, c); err != nil {
			return err
		}
		out = c
		return putConvOver(tx, c, 0, rec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func visitorKey(v store.Visitor) string {
	if v.Email != "" {
		return strings.ToLower(v.Email)
	}
	return v.ID
}

// Start implements store.Inbox.
func (s *Inbox) Start(ctx context.Context, c *store.Conversation, retention time.Duration) error {
	return s.db.Update(ctx, func(tx *Tx) error { return startIn(tx, c, retention) })
}

// startIn is Start in tx (Sessions.CreateStarted runs it in the
// conversation's own commit).
func startIn(tx *Tx, c *store.Conversation, retention time.Duration) error {
	if c.Visitor.ID != "" || c.Visitor.Email != "" {
		vk := visitorKey(c.Visitor)
		var prev []string
		p := K("hv", vk)
		if err := tx.ScanRange(p, PrefixEnd(p), true, func(k, _ []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 4 {
				return false, fmt.Errorf("visitor key %q: %v", k, err)
			}
			if id := parts[3].(string); id != c.ID {
				prev = append(prev, id)
			}
			return len(prev) < store.MaxPrevious, nil
		}); err != nil {
			return err
		}
		c.Previous = prev
		if err := tx.PutTTL(K("hv", vk, ms(c.StartedAt), c.ID), nil, retention); err != nil {
			return err
		}
	}
	return putConv(tx, c, retention)
}

// Conversation implements store.Inbox.
func (s *Inbox) Conversation(ctx context.Context, id string) (*store.Conversation, error) {
	var c *store.Conversation
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		c, err = getConv(tx, id)
		return err
	})
	return c, err
}

// Conversations implements store.Inbox.
func (s *Inbox) Conversations(ctx context.Context, ids []string) ([]*store.Conversation, error) {
	out := make([]*store.Conversation, 0, len(ids))
	err := s.db.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			c, err := getConv(tx, id)
			if err == store.ErrInboxNotFound {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// SetVisitor implements store.Inbox.
func (s *Inbox) SetVisitor(ctx context.Context, id string, v store.Visitor) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		c.Visitor = v
		return putConvOver(tx, c, 0, rec)
	})
}

// SetsTimersOf implements store.HandOffTimers: HandOff sets the timers of
// a handoff in its own transaction when t is the timer queue of the same
// DB.
func (s *Inbox) SetsTimersOf(t store.Timers) bool {
	tt, ok := t.(*Timers)
	return ok && tt.db == s.db
}

// HandOff implements store.Inbox.
func (s *Inbox) HandOff(ctx context.Context, id string, h store.Handoff, at time.Time, retention time.Duration) (*store.Conversation, store.TeamConfig, error) {
	var out *store.Conversation
	var cfg store.TeamConfig
	err := s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		if c.Status == store.StatusResolved {
			return store.ErrClosed
		}
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		for _, f := range []struct {
			dst *string
			src string
		}{{&c.Visitor.ID, h.Visitor.ID}, {&c.Visitor.Name, h.Visitor.Name}, {&c.Visitor.Email, h.Visitor.Email}, {&c.Visitor.Page, h.Visitor.Page}} {
			if f.src != "" {
				*f.dst = f.src
			}
		}
		c.Status, c.Team, c.Assignee, c.AssigneeName = store.StatusOpen, h.Team, "", ""
		c.Priority, c.Card, c.UpdatedAt = h.Priority, h.Card, at.UTC()
		queued := at.UTC()
		c.QueuedAt = &queued
		if h.Last != nil {
			last := *h.Last
			c.Last = &last
		}
		if err := putConvOver(tx, c, retention, rec); err != nil {
			return err
		}
		for _, f := range []string{store.FolderUnassigned, store.FolderOpen} {
			if err := zadd(tx, f, h.Team, ms(at), id); err != nil {
				return err
			}
		}
		if err := tx.Put(K("ht", h.Team), nil); err != nil {
			return err
		}
		if cfg, err = teamConfig(tx, h.Team); err != nil {
			return err
		}
		ws, err := waits(tx, h.Team)
		if err != nil {
			return err
		}
		list := make([]time.Duration, 0, len(ws))
		for _, m := range ws {
			list = append(list, time.Duration(m)*time.Millisecond)
		}
		cfg.Waits = &list
		for _, tm := range h.Timers {
			if err := setTimer(tx, id, tm.ID, tm.At); err != nil {
				return err
			}
		}
		if len(h.Previous) > 0 {
			c.PreviousRead = make([]store.PreviousChat, 0, len(h.Previous))
			for _, p := range h.Previous {
				pc, err := getConv(tx, p)
				if errors.Is(err, store.ErrInboxNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				c.PreviousRead = append(c.PreviousRead, store.PreviousChat{ID: pc.ID, Team: pc.Team, Assignee: pc.Assignee})
			}
		}
		c.QueuePosition, err = queuePos(tx, h.Team, id)
		out = c
		return err
	})
	if err != nil {
		return nil, store.TeamConfig{}, err
	}
	return out, cfg, nil
}

// queuePos is id's place in team's queue (1 is next), 0 when not there.
// It counts the keys on the shorter side of id: the ones before it, or
// the ones after it taken from the queue's size (its counter, K("hfn")).
// Which side is shorter is guessed from the times of the queue's first and
// last keys (two seeks); a chat just handed off is the last one, so the
// handoff's own position costs a few seeks, not a walk of the queue.
func queuePos(tx *Tx, team, id string) (int, error) {
	v, ok, err := tx.Get(K("hm", store.FolderUnassigned, team, id))
	if err != nil || !ok {
		return 0, err
	}
	at := readI64(v)
	p := K("hf", store.FolderUnassigned, team)
	mine := K("hf", store.FolderUnassigned, team, at, id)
	count := func(start, end []byte, reverse bool) (int, error) {
		n := 0
		err := tx.ScanRange(start, end, reverse, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
		return n, err
	}
	first, err := edgeTime(tx, p, false)
	if err != nil {
		return 0, err
	}
	last, err := edgeTime(tx, p, true)
	if err != nil {
		return 0, err
	}
	if last-at < at-first {
		size, err := zcard(tx, store.FolderUnassigned, team)
		if err != nil {
			return 0, err
		}
		after, err := count(append(mine, 0), PrefixEnd(p), true)
		if err != nil {
			return 0, err
		}
		if pos := size - after; pos >= 1 {
			return pos, nil
		}
		// A counter out of step with the keys: count the other side.
	}
	before, err := count(p, mine, false)
	return before + 1, err
}

// edgeTime is the time of a folder's first key (its last when last), 0
// when it is empty.
func edgeTime(tx *Tx, folder []byte, last bool) (int64, error) {
	var at int64
	err := tx.ScanRange(folder, PrefixEnd(folder), last, func(k, _ []byte) (bool, error) {
		parts, err := SplitKey(k)
		if err != nil || len(parts) != 5 {
			return false, fmt.Errorf("inbox folder key %q: %v", k, err)
		}
		at, _ = parts[3].(int64)
		return false, nil
	})
	return at, err
}

// Assign implements store.Inbox.
func (s *Inbox) Assign(ctx context.Context, id, agent, name string, claim bool, at time.Time) (*store.Conversation, string, error) {
	var prev string
	c, err := s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		prev = c.Assignee
		if claim && c.Assignee != "" && c.Assignee != agent {
			return store.ErrTaken
		}
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		c.Assignee, c.AssigneeName, c.UpdatedAt = agent, name, at.UTC()
		if c.Status == store.StatusSnoozed {
			return zadd(tx, store.FolderSnoozed, c.Team, ms(at), id)
		}
		c.Status = store.StatusOpen
		if err := zadd(tx, store.FolderOpen, c.Team, ms(at), id); err != nil {
			return err
		}
		return zadd(tx, store.FolderMine, agent, ms(at), id)
	})
	return c, prev, err
}

// ToBot implements store.Inbox.
func (s *Inbox) ToBot(ctx context.Context, id, card string, at time.Time) (*store.Conversation, error) {
	return s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		c.Status, c.Assignee, c.AssigneeName, c.Card, c.UpdatedAt = store.StatusBot, "", "", card, at.UTC()
		return nil
	})
}

// Away implements store.Inbox.
func (s *Inbox) Away(ctx context.Context, id, team string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil || c.Team != "" {
			return err
		}
		c.Team = team
		return putConvOver(tx, c, 0, rec)
	})
}

// Miss implements store.Inbox.
func (s *Inbox) Miss(ctx context.Context, id string, at time.Time) (*store.Conversation, error) {
	return s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		c.Status, c.Assignee, c.AssigneeName, c.UpdatedAt = store.StatusMissed, "", "", at.UTC()
		if c.Team == "" {
			return nil
		}
		if err := zadd(tx, store.FolderMissed, c.Team, ms(at), id); err != nil {
			return err
		}
		return trim(tx, store.FolderMissed, c.Team, store.MaxClosed)
	})
}

// Resolve implements store.Inbox.
func (s *Inbox) Resolve(ctx context.Context, id string, at time.Time) (*store.Conversation, string, error) {
	var prev string
	c, err := s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		prev = c.Assignee
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		t := at.UTC()
		c.Status, c.ResolvedAt, c.UpdatedAt = store.StatusResolved, &t, t
		team := c.Team
		if team == "" {
			team = "none"
		}
		if err := zadd(tx, store.FolderClosed, team, ms(at), id); err != nil {
			return err
		}
		if err := tx.Put(K("ht", team), nil); err != nil {
			return err
		}
		return trim(tx, store.FolderClosed, team, store.MaxClosed)
	})
	return c, prev, err
}

// Reopen implements store.Inbox.
func (s *Inbox) Reopen(ctx context.Context, id string, at time.Time) (*store.Conversation, error) {
	var out *store.Conversation
	err := s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		if c.Status != store.StatusResolved {
			return store.ErrNotResolved
		}
		team := c.Team
		if team == "" {
			team = "none"
		}
		if err := zrem(tx, store.FolderClosed, team, id); err != nil {
			return err
		}
		c.Status, c.ResolvedAt, c.UpdatedAt = store.StatusOpen, nil, at.UTC()
		if c.Team != "" {
			if err := zadd(tx, store.FolderOpen, c.Team, ms(at), id); err != nil {
				return err
			}
		}
		switch {
		case c.Assignee != "":
			err = zadd(tx, store.FolderMine, c.Assignee, ms(at), id)
		case c.Team != "":
			queued := at.UTC()
			c.QueuedAt = &queued
			err = zadd(tx, store.FolderUnassigned, c.Team, ms(at), id)
		}
		if err != nil {
			return err
		}
		out = c
		return putConvOver(tx, c, 0, rec)
	})
	return out, err
}

// Snooze implements store.Inbox.
func (s *Inbox) Snooze(ctx context.Context, id string, until time.Time, untilReply bool, at time.Time) (*store.Conversation, error) {
	return s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		u := until.UTC()
		c.Status, c.SnoozedUntil, c.UntilReply, c.UpdatedAt = store.StatusSnoozed, &u, untilReply, at.UTC()
		return zadd(tx, store.FolderSnoozed, c.Team, ms(until), id)
	})
}

// Unsnooze implements store.Inbox.
func (s *Inbox) Unsnooze(ctx context.Context, id string, at time.Time) (*store.Conversation, bool, error) {
	woke := false
	c, err := s.change(ctx, id, func(tx *Tx, c *store.Conversation) error {
		if c.Status != store.StatusSnoozed {
			return nil
		}
		woke = true
		if err := unindex(tx, id, c.Team, c.Assignee); err != nil {
			return err
		}
		c.Status, c.SnoozedUntil, c.UntilReply, c.UpdatedAt = store.StatusOpen, nil, false, at.UTC()
		if err := zadd(tx, store.FolderOpen, c.Team, ms(at), id); err != nil {
			return err
		}
		if c.Assignee == "" {
			return zadd(tx, store.FolderUnassigned, c.Team, ms(at), id)
		}
		return zadd(tx, store.FolderMine, c.Assignee, ms(at), id)
	})
	return c, woke, err
}

// Touch implements store.Inbox.
func (s *Inbox) Touch(ctx context.Context, c *store.Conversation, last store.Last, retention time.Duration) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		cur, rec, err := getConvRec(tx, c.ID)
		if err == store.ErrInboxNotFound {
			return nil // expired: nothing to touch (as a Redis HSET would recreate a stub, it is not wanted)
		}
		if err != nil {
			return err
		}
		l := last
		cur.Last, cur.UpdatedAt = &l, last.At.UTC()
		if err := putConvOver(tx, cur, retention, rec); err != nil {
			return err
		}
		if c.Status == store.StatusOpen && c.Team != "" {
			if err := zaddXX(tx, store.FolderOpen, c.Team, ms(last.At), c.ID); err != nil {
				return err
			}
			if c.Assignee != "" {
				return zaddXX(tx, store.FolderMine, c.Assignee, ms(last.At), c.ID)
			}
		}
		return nil
	})
}

// SetLabels implements store.Inbox.
func (s *Inbox) SetLabels(ctx context.Context, id string, labels []string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		c.Labels = labels
		return putConvOver(tx, c, 0, rec)
	})
}

// Rate implements store.Inbox.
func (s *Inbox) Rate(ctx context.Context, id string, r store.CSAT, amend time.Duration) (*store.Conversation, error) {
	var out *store.Conversation
	err := s.db.Update(ctx, func(tx *Tx) error {
		c, rec, err := getConvRec(tx, id)
		if err != nil {
			return err
		}
		if c.Status != store.StatusResolved {
			return store.ErrNotResolved
		}
		csat, err := store.AmendCSAT(c.CSAT, r, amend)
		if err != nil {
			return err
		}
		c.CSAT, out = csat, c
		return putConvOver(tx, c, 0, rec)
	})
	return out, err
}

// List implements store.Inbox.
func (s *Inbox) List(ctx context.Context, folder string, owners []string, limit int) ([]*store.Conversation, error) {
	if err := checkFolder(folder); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	type item struct {
		id string
		at int64
	}
	var items []item
	var out []*store.Conversation
	var gone []string
	err := s.db.View(ctx, func(tx *Tx) error {
		seen := map[string]bool{}
		for _, o := range owners {
			ids, at, err := zids(tx, folder, o, limit, true)
			if err != nil {
				return err
			}
			for i, id := range ids {
				if !seen[id] {
					seen[id] = true
					items = append(items, item{id, at[i]})
				}
			}
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].at > items[j].at })
		if len(items) > limit {
			items = items[:limit]
		}
		for _, it := range items {
			c, err := getConv(tx, it.id)
			if err == store.ErrInboxNotFound {
				gone = append(gone, it.id)
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil || len(gone) == 0 {
		return out, err
	}
	// Records that expired leave the folder.
	return out, s.db.Update(ctx, func(tx *Tx) error {
		for _, id := range gone {
			for _, o := range owners {
				if err := zrem(tx, folder, o, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Listed implements store.Inbox.
func (s *Inbox) Listed(ctx context.Context, folder, owner string, n int) ([]string, error) {
	if err := checkFolder(folder); err != nil || n <= 0 {
		return nil, err
	}
	var ids []string
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		ids, _, err = zids(tx, folder, owner, n, false)
		return err
	})
	return ids, err
}

// Unlist implements store.Inbox.
func (s *Inbox) Unlist(ctx context.Context, id, team, assignee string) error {
	return s.db.Update(ctx, func(tx *Tx) error { return unindex(tx, id, team, assignee) })
}

// ListedTeams implements store.Inbox.
func (s *Inbox) ListedTeams(ctx context.Context) ([]string, error) {
	var teams []string
	err := s.db.View(ctx, func(tx *Tx) error {
		for _, prefix := range []string{"ht", "hcfg"} {
			err := tx.Scan(K(prefix), func(k, _ []byte) (bool, error) {
				parts, err := SplitKey(k)
				if err != nil || len(parts) != 2 {
					return false, fmt.Errorf("team key %q: %v", k, err)
				}
				if t := parts[1].(string); !slices.Contains(teams, t) {
					teams = append(teams, t)
				}
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(teams)
	return teams, err
}

// OpenCount implements store.Inbox.
func (s *Inbox) OpenCount(ctx context.Context, agents []string) (map[string]int, error) {
	out := make(map[string]int, len(agents))
	err := s.db.View(ctx, func(tx *Tx) error {
		for _, a := range agents {
			n, err := zcard(tx, store.FolderMine, a)
			if err != nil {
				return err
			}
			out[a] = n
		}
		return nil
	})
	return out, err
}

// QueuePosition implements store.Inbox.
func (s *Inbox) QueuePosition(ctx context.Context, id string) (string, int, error) {
	var team string
	var pos int
	err := s.db.View(ctx, func(tx *Tx) error {
		c, err := getConv(tx, id)
		if err == store.ErrInboxNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		team = c.Team
		if c.Status != store.StatusOpen || c.Team == "" || c.Assignee != "" {
			return nil
		}
		pos, err = queuePos(tx, c.Team, id)
		return err
	})
	return team, pos, err
}

func teamConfig(tx *Tx, team string) (store.TeamConfig, error) {
	c := store.TeamConfig{Routing: store.Manual, Reopen: store.ReopenNever}
	v, ok, err := tx.Get(K("hcfg", team))
	if err != nil || !ok {
		return c, err
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("routing of team %s: %w", team, err)
	}
	if c.Routing == "" {
		c.Routing = store.Manual
	}
	if c.Reopen == "" {
		c.Reopen = store.ReopenNever
	}
	return c, nil
}

// SetTeamConfig implements store.Teams.
func (s *Inbox) SetTeamConfig(ctx context.Context, team string, c store.TeamConfig) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("hcfg", team), b) })
}

// TeamConfig implements store.Teams.
func (s *Inbox) TeamConfig(ctx context.Context, team string) (store.TeamConfig, error) {
	var c store.TeamConfig
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		c, err = teamConfig(tx, team)
		return err
	})
	return c, err
}

// AddWait implements store.Teams: the team's waits are one JSON list of
// milliseconds, newest first.
func (s *Inbox) AddWait(ctx context.Context, team string, wait time.Duration, keep int) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		ms, err := waits(tx, team)
		if err != nil {
			return err
		}
		ms = append([]int64{max(wait, 0).Milliseconds()}, ms...)
		b, err := json.Marshal(ms[:min(len(ms), max(keep, 1))])
		if err != nil {
			return err
		}
		return tx.Put(K("hwait", team), b)
	})
}

// Waits implements store.Teams.
func (s *Inbox) Waits(ctx context.Context, team string) ([]time.Duration, error) {
	var ms []int64
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		ms, err = waits(tx, team)
		return err
	})
	out := make([]time.Duration, 0, len(ms))
	for _, m := range ms {
		out = append(out, time.Duration(m)*time.Millisecond)
	}
	return out, err
}

func waits(tx *Tx, team string) ([]int64, error) {
	v, ok, err := tx.Get(K("hwait", team))
	if err != nil || !ok {
		return nil, err
	}
	var ms []int64
	if err := json.Unmarshal(v, &ms); err != nil {
		return nil, fmt.Errorf("waits of team %s: %w", team, err)
	}
	return ms, nil
}

// NextTurn implements store.Teams.
func (s *Inbox) NextTurn(ctx context.Context, team string) (int64, error) {
	var n int64
	err := s.db.Update(ctx, func(tx *Tx) (err error) {
		n, err = tx.Incr(K("hrr", team), 1)
		return err
	})
	return n, err
}
