package handoff

import (
	"context"
	"fmt"
	"slices"
)

// Retention. A conversation's inbox record and the visitor's index of
// conversations expire Options.Retention after the last activity (each
// write that matters renews them); CRM records are kept. Its session and
// transcript expire earlier, after the conversation store's idle time: a
// chat whose session is gone can no longer be answered, so it leaves the
// team queues and agents' lists (unassigned, open, snoozed, mine): when a
// list shows it, when an agent takes it, and in the sweep (PurgeGone). The
// Closed and Missed folders keep it until its record expires (the engine
// drops ids whose record is gone from a folder when it lists it).

// liveFolder reports whether a folder holds chats an agent can still
// answer (so those whose session is gone leave it).
func liveFolder(folder string) bool {
	switch folder {
	case FolderUnassigned, FolderOpen, FolderSnoozed, FolderMine:
		return true
	}
	return false
}

// withoutGone drops from a live folder's list the conversations whose
// session is gone, and takes them out of every list they are in.
func (s *Store) withoutGone(ctx context.Context, folder string, convs []*Conversation) ([]*Conversation, error) {
	if !liveFolder(folder) || s.alive == nil || len(convs) == 0 {
		return convs, nil
	}
	live, err := s.alive(ctx, idsOf(convs))
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, c := range convs {
		if !live[c.ID] {
			gone[c.ID] = true
			if err := s.st.Unlist(ctx, c.ID, c.Team, c.Assignee); err != nil {
				return nil, err
			}
		}
	}
	if len(gone) == 0 {
		return convs, nil
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
	if err := s.st.Unlist(ctx, c.ID, c.Team, c.Assignee); err != nil {
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
	teams, err := s.st.ListedTeams(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range teams {
		for _, folder := range []string{FolderUnassigned, FolderOpen, FolderSnoozed} {
			ids, err := s.st.Listed(ctx, folder, t, batch)
			if err != nil {
				return n, err
			}
			if len(ids) == 0 {
				continue
			}
			convs, err := s.st.Conversations(ctx, ids)
			if err != nil {
				return n, err
			}
			have := map[string]bool{}
			for _, c := range convs {
				have[c.ID] = true
			}
			for _, id := range ids {
				if !have[id] { // the record expired
					if err := s.st.Unlist(ctx, id, t, ""); err != nil {
						return n, err
					}
					n++
				}
			}
			kept, err := s.withoutGone(ctx, folder, convs)
			if err != nil {
				return n, err
			}
			n += len(convs) - len(kept)
		}
	}
	return n, nil
}
