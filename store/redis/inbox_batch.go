package redis

import (
	"context"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// hashTag is the part of key Redis Cluster hashes to pick its slot: the
// text between the first '{' and the next '}' when not empty, else the
// whole key. Keys with the same tag are in the same slot.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// indexBatch collects the list updates that follow a change of a
// conversation's record (its own key, changed first and atomically by a
// script): removals from the lists it leaves and additions to the lists it
// enters. Every command is put in the group of its key's slot; each group
// runs as one MULTI/EXEC, so no transaction ever spans slots (Redis
// Cluster refuses those with CROSSSLOT).
//
// On one Redis node all groups still go in a single MULTI/EXEC (one round
// trip, all or nothing). On a cluster the groups run one after the other:
// groups that add the conversation to a list first, then groups that only
// remove it. A crash (or a lost node) between groups so leaves the chat in
// one list too many (a new list and an old one), never in none: it stays
// visible to the team, and the next change of the chat, or the lists'
// clean-up of gone chats, takes it out of the stale list. The record, not
// the lists, says where the chat is.
type indexBatch struct {
	order  []string // group tags, in order of first use
	groups map[string]*indexGroup
}

type indexGroup struct {
	adds    bool
	removes []func(goredis.Pipeliner)
	then    []func(goredis.Pipeliner) // after the removals: additions, trims, reads
}

func (b *indexBatch) group(key string) *indexGroup {
	tag := hashTag(key)
	if b.groups == nil {
		b.groups = map[string]*indexGroup{}
	}
	g, ok := b.groups[tag]
	if !ok {
		g = &indexGroup{}
		b.groups[tag] = g
		b.order = append(b.order, tag)
	}
	return g
}

// remove queues a removal touching key (run before the group's other
// commands).
func (b *indexBatch) remove(key string, f func(goredis.Pipeliner)) {
	g := b.group(key)
	g.removes = append(g.removes, f)
}

// add queues an addition (or another command) touching key.
func (b *indexBatch) add(key string, f func(goredis.Pipeliner)) {
	g := b.group(key)
	g.adds = true
	g.then = append(g.then, f)
}

// exec runs the batch on rdb as described on indexBatch.
func (b *indexBatch) exec(ctx context.Context, rdb goredis.UniversalClient) error {
	var groups []*indexGroup
	for _, adds := range []bool{true, false} {
		for _, tag := range b.order {
			if g := b.groups[tag]; g.adds == adds {
				groups = append(groups, g)
			}
		}
	}
	fill := func(pipe goredis.Pipeliner, g *indexGroup) {
		for _, f := range g.removes {
			f(pipe)
		}
		for _, f := range g.then {
			f(pipe)
		}
	}
	if _, cluster := rdb.(*goredis.ClusterClient); !cluster {
		if len(groups) == 0 {
			return nil
		}
		pipe := rdb.TxPipeline()
		for _, g := range groups {
			fill(pipe, g)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	for _, g := range groups {
		pipe := rdb.TxPipeline()
		fill(pipe, g)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
