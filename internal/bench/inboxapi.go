package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// InboxAgent is an agent the bench signs in as, after the visitors, to
// check the handoffs through the server's own API (CheckQueuedAPI): it
// must be in the teams the reference conversation hands off to.
type InboxAgent struct {
	URL             string // a server's base URL
	Email, Password string
}

// AddInboxAgent adds the agent CheckQueuedAPI signs in as to the inbox of
// a store (the servers' prefix with Redis), an admin of team, with a new
// random password; url is the server it will sign in at.
func AddInboxAgent(ctx context.Context, inbox store.InboxEngine, prefix, team, url string) (InboxAgent, error) {
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	a := InboxAgent{URL: url, Email: "bench-inbox-check@example.com", Password: hex.EncodeToString(pw)}
	_, err := handoff.NewStore(inbox, handoff.Options{Prefix: prefix}).AddAgent(ctx, handoff.NewAgent{
		Email: a.Email, Name: "Bench inbox check", Teams: []string{team}, Role: handoff.RoleAdmin, Password: a.Password,
	})
	if err != nil {
		return InboxAgent{}, fmt.Errorf("adding the inbox check's agent: %w", err)
	}
	return a, nil
}

// apiWorkers bounds the inbox API requests the check sends at once.
const apiWorkers = 4

// CheckQueuedAPI checks that every conversation of ids, each handed off
// to a team by the bot, reached the inbox. A reply is not enough: on a
// Redis Cluster the handoff once answered the visitor and set the record
// open while the team's lists stayed empty, so no agent ever saw the
// chat. It goes through the inbox API, so it runs the same on every
// storage engine: signed in as agent, it reads every handed-off
// conversation (GET /api/conversations/ID) and wants it open in a team;
// then it walks its teams' Unassigned queue (GET
// /api/conversations?folder=unassigned, which lists a bounded head of
// the queue) taking every chat it lists (POST .../assign), so that the
// next read lists the next ones, until the queue is empty. A conversation
// unassigned after the handoff must have been listed in the queue; one
// assigned already (a team's automatic routing) is queued too.
//
// It changes the inbox (the agent ends up with every chat that waited):
// run it only on servers the bench started. The queueing may follow the
// turn (a failed step is redone by the recovery sweep), so it checks
// again the conversations that are not queued yet until wait has passed.
// It returns how many are queued and one error per conversation that is
// not (naming it and what is wrong).
func CheckQueuedAPI(ctx context.Context, agent InboxAgent, ids []string, wait time.Duration) (int, []error) {
	in, err := client.SignIn(ctx, agent.URL, agent.Email, agent.Password, client.Options{})
	if err != nil {
		return 0, []error{fmt.Errorf("inbox check: signing in as %s: %w", agent.Email, err)}
	}
	seen := map[string]bool{} // listed in the Unassigned queue
	deadline := time.Now().Add(wait)
	todo := slices.Clone(ids)
	for {
		if err := drainUnassigned(ctx, in, seen); err != nil {
			return len(ids) - len(todo), []error{fmt.Errorf("inbox check: %w", err)}
		}
		problems := readHandoffs(ctx, in, todo, seen)
		var missing []string
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

// drainUnassigned lists the Unassigned queue and takes every chat listed,
// until the list is empty; seen gets every id listed.
func drainUnassigned(ctx context.Context, in *client.Inbox, seen map[string]bool) error {
	for {
		list, err := in.Conversations(ctx, protocol.FolderUnassigned)
		if err != nil {
			return fmt.Errorf("listing the Unassigned queue: %w", err)
		}
		var fresh []string
		for _, c := range list {
			if !seen[c.ID] {
				seen[c.ID] = true
				fresh = append(fresh, c.ID)
			}
		}
		if len(fresh) == 0 {
			// Empty, or only chats that could not be taken: the rest of
			// the check says what is wrong with them.
			return nil
		}
		errs := parallel(ctx, len(fresh), func(ctx context.Context, i int) error {
			_, err := in.Assign(ctx, fresh[i], "")
			return err
		})
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("taking chat %s from the queue: %w", fresh[i], err)
			}
		}
	}
}

// readHandoffs reads each conversation and returns what is wrong with the
// ones that are not queued, by id.
func readHandoffs(ctx context.Context, in *client.Inbox, ids []string, seen map[string]bool) map[string]string {
	details := make([]*protocol.ConversationDetails, len(ids))
	errs := parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		d, err := in.Conversation(ctx, ids[i])
		details[i] = d
		return err
	})
	problems := map[string]string{}
	for i, id := range ids {
		var c *protocol.Conversation
		if details[i] != nil {
			c = details[i].Conversation
		}
		switch {
		case client.StatusOf(errs[i]) == 404:
			problems[id] = "no inbox record"
		case errs[i] != nil:
			problems[id] = "reading its inbox record: " + errs[i].Error()
		case c == nil:
			problems[id] = "no inbox record"
		case c.Status != "open":
			problems[id] = fmt.Sprintf("inbox status %q, want open", c.Status)
		case c.Team == "":
			problems[id] = "open in no team"
		case c.Assignee == "":
			problems[id] = fmt.Sprintf("open and unassigned in team %s, but not in its Unassigned queue", c.Team)
		}
		// Assigned: listed in the queue and taken by the check, or taken
		// by the team's routing; either way it was queued.
	}
	return problems
}

// parallel runs fn(0) .. fn(n-1), apiWorkers at once, and returns their
// errors in order.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) []error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(apiWorkers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(ctx, i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}
