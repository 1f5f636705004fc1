package handoff

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Retention. A conversation's inbox record ({c:ID}:meta) and the visitor's
// index of conversations expire Options.Retention after the last activity
// (each write that matters renews them); CRM records are kept. Its session
// and transcript expire earlier, after the conversation store's idle time:
// a chat whose session is gone can no longer be answered, so it leaves the
// team queues and agents' lists (unassigned, open, snoozed, mine): when a
// list shows it, when an agent takes it, and in the sweep (PurgeGone). The
// Closed and Missed folders keep it until its record expires.

// liveFolder reports whether a folder holds chats an agent can still
// answer (so those whose session is gone leave it).
func liveFolder(folder string) bool {
	switch folder {
	case FolderUnassigned, FolderOpen, FolderSnoozed, FolderMine:
		return true
	}
	return false
}

// withoutGone drops from a folder's list the conversations whose record
// expired (ids without one in convs) and, in live folders, those whose
// session did; it removes them from the folder's keys (and, for those
// whose session is gone, from every list they are in).
func (s *Store) withoutGone(ctx context.Context, folder string, keys, ids []string, convs []*Conversation) ([]*Conversation, error) {
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	for _, c := range convs {
		delete(gone, c.ID)
	}
	var dead []*Conversation
	if liveFolder(folder) && s.alive != nil && len(convs) > 0 {
		live, err := s.alive(ctx, idsOf(convs))
		if err != nil {
			return nil, err
		}
		for _, c := range convs {
			if !live[c.ID] {
				gone[c.ID] = true
				dead = append(dead, c)
			}
		}
	}
	if len(gone) == 0 {
		return convs, nil
	}
	pipe := s.rdb.Pipeline()
	for id := range gone {
		for _, k := range keys {
			pipe.ZRem(ctx, k, id)
		}
	}
	for _, c := range dead {
		s.unindex(ctx, pipe, c.ID, before{assignee: c.Assignee, team: c.Team})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(convs, func(c *Conversation) bool { return gone[c.ID] }), nil
}

func idsOf(convs []*Conversation) []string {
	out := make([]string, len(convs))
	for i, c := range convs {
		out[i] = c.ID
	}
	return out
}

// mustBeAlive returns ErrNotFound for a conversation whose session is
// gone, after taking it out of the lists it is in.
func (s *Store) mustBeAlive(ctx context.Context, c *Conversation) error {
	if s.alive == nil {
		return nil
	}
	live, err := s.alive(ctx, []string{c.ID})
	if err != nil {
		return err
	}
	if live[c.ID] {
		return nil
	}
	pipe := s.rdb.Pipeline()
	s.unindex(ctx, pipe, c.ID, before{assignee: c.Assignee, team: c.Team})
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	return fmt.Errorf("%w: the conversation has expired", ErrNotFound)
}

// PurgeGone takes the chats whose session is gone (or whose record
// expired) out of every team's queue, open and snoozed lists and their
// agents' lists, at most batch of each list per call. It returns how many
// it removed.
func (s *Store) PurgeGone(ctx context.Context, batch int) (int, error) {
	if s.alive == nil {
		return 0, nil
	}
	teams, err := s.rdb.SMembers(ctx, s.p+"teams").Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range teams {
		for _, key := range []string{s.queueKey(t), s.openKey(t), s.snoozedKey(t)} {
			ids, err := s.rdb.ZRange(ctx, key, 0, int64(batch-1)).Result()
			if err != nil && err != redis.Nil {
				return n, err
			}
			if len(ids) == 0 {
				continue
			}
			convs, err := s.conversations(ctx, ids)
			if err != nil {
				return n, err
			}
			kept, err := s.withoutGone(ctx, FolderOpen, []string{key}, ids, convs)
			if err != nil {
				return n, err
			}
			n += len(ids) - len(kept)
		}
	}
	return n, nil
}
