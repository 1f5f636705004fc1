package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/handoff"
	storeredis "github.com/playbook-dev/playbook/store/redis"
)

// CheckQueued checks that every conversation of ids, each handed off to a
// team by the bot, reached the inbox: its record is open in a team, and
// it is assigned to an agent or in its team's Unassigned queue. A reply
// is not enough: on a Redis Cluster the handoff once answered the visitor
// and set the record open while the team's lists stayed empty, so no
// agent ever saw the chat.
//
// The queueing may follow the turn (a failed step is redone by the
// recovery sweep), so the conversations not queued yet are checked again
// until wait has passed. It returns how many are queued and one error
// per conversation that is not (naming it and what is wrong), or the
// storage error that kept it from checking.
func CheckQueued(ctx context.Context, rdb redis.UniversalClient, prefix string, ids []string, wait time.Duration) (int, []error) {
	st := handoff.NewStore(storeredis.NewInbox(rdb, prefix), handoff.Options{Prefix: prefix})
	deadline := time.Now().Add(wait)
	todo := slices.Clone(ids)
	for {
		var missing []string
		problems := map[string]string{}
		byTeam := map[string][]string{}
		for _, id := range todo {
			c, err := st.Conversation(ctx, id)
			switch {
			case errors.Is(err, handoff.ErrNotFound):
				problems[id] = "no inbox record"
			case err != nil:
				problems[id] = "reading its inbox record: " + err.Error()
			case c.Status != handoff.StatusOpen:
				problems[id] = fmt.Sprintf("inbox status %q, want open", c.Status)
			case c.Team == "":
				problems[id] = "open in no team"
			case c.Assignee != "":
				// Taken by an agent: it left the queue for their list.
			default:
				byTeam[c.Team] = append(byTeam[c.Team], id)
			}
		}
		for team, want := range byTeam {
			queued, err := unassigned(ctx, st, team, len(ids)+1000)
			for _, id := range want {
				switch {
				case err != nil:
					problems[id] = fmt.Sprintf("reading team %s's Unassigned queue: %v", team, err)
				case !queued[id]:
					problems[id] = fmt.Sprintf("open and unassigned in team %s, but not in its Unassigned queue", team)
				}
			}
		}
		for _, id := range todo {
			if _, bad := problems[id]; bad {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			var errs []error
			for _, id := range missing {
				errs = append(errs, fmt.Errorf("handoff of conversation %s not queued: %s", id, problems[id]))
			}
			return len(ids) - len(missing), errs
		}
		todo = missing
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return len(ids) - len(missing), []error{err}
		}
	}
}

// unassigned returns the ids in team's Unassigned queue (at most limit),
// as the team's agents see them.
func unassigned(ctx context.Context, st *handoff.Store, team string, limit int) (map[string]bool, error) {
	list, err := st.List(ctx, &handoff.Agent{ID: "bench-inbox-check", Teams: []string{team}, Role: handoff.RoleAgent}, handoff.FolderUnassigned, limit)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(list))
	for _, c := range list {
		out[c.ID] = true
	}
	return out, nil
}

// MasterKeys is what one master of a Redis Cluster holds.
type MasterKeys struct {
	Addr string `json:"addr"`
	// Slots is how many of the 16,384 hash slots the master serves.
	Slots int `json:"slots"`
	// Keys are the run's keys on the master (its prefix); All is every
	// key it holds (DBSIZE), other users' included.
	Keys int64 `json:"keys"`
	All  int64 `json:"all_keys"`
}

// KeysPerMaster counts, on each master of a Redis Cluster, the keys that
// start with prefix (SCAN) and all its keys (DBSIZE), with the slots it
// serves (CLUSTER NODES), sorted by address. A nil client (one Redis, not a
// cluster) gives nil.
func KeysPerMaster(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]MasterKeys, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return nil, nil
	}
	var (
		mu  sync.Mutex
		out []MasterKeys
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		m := MasterKeys{Addr: n.Options().Addr}
		nodes, err := n.ClusterNodes(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER NODES: %w", m.Addr, err)
		}
		m.Slots = slotsOfMyself(nodes)
		if m.All, err = n.DBSize(ctx).Result(); err != nil {
			return fmt.Errorf("%s: DBSIZE: %w", m.Addr, err)
		}
		iter := n.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			m.Keys++
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("%s: SCAN: %w", m.Addr, err)
		}
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out, err
}

// slotsOfMyself counts the slots of the "myself" line of a CLUSTER NODES
// reply: fields 9 and on are slots ("5461") or ranges ("0-5460"); importing
// and migrating slots ("[...]") are left out.
func slotsOfMyself(nodes string) int {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "myself") {
			continue
		}
		n := 0
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil && b >= a {
				n += b - a + 1
			}
		}
		return n
	}
	return 0
}

// escapeGlob escapes the characters SCAN's MATCH pattern gives a meaning.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
