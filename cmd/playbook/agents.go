package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var agentsCommand = &command{
	name:    "agents",
	summary: "add and list the agents who answer chats in the inbox",
	usage:   "agents add|list|token|tokens|revoke|disable|enable|remove|password|teams [options]",
	help: `Manages the agents who sign in to the inbox (/inbox) and take chats.

  playbook agents add --email sam@example.com --name "Sam Lee" --team sales,support [--role admin] [--password ...]
  playbook agents list
  playbook agents token --email sam@example.com [--name export] [--expires 720h]   (an API token for scripts)
  playbook agents tokens                            (every API token: its id, agent, name, expiry)
  playbook agents revoke --id TOKEN-ID              (the token stops working at once)
  playbook agents disable|enable|remove --email sam@example.com
  playbook agents password --email sam@example.com [--password ...]   (a new password; sessions end)
  playbook agents teams --team sales --routing round_robin --capacity 3 [--reopen reopen] [--hours "mon-fri 09:00-18:00 Europe/Berlin"]

Without --password a password is generated and printed once. A disabled
agent cannot sign in, and their sessions, sockets and API tokens end at
once; enable lets them sign in again. The inbox's Settings screen does the
same for admins (see docs/administration.md). Passwords are
stored as bcrypt hashes. Routing is manual (agents take chats), round_robin
or least_busy; capacity caps the open chats per agent under automatic
routing (0 = no cap). Reopen is what a resolved chat of the team may become:
never (the default: closed for good; the visitor's next message starts a
new conversation) or reopen (the visitor's next message, or an agent's
Reopen, opens it again with the agent who had it).

Agents live in the same store as the conversations. With --redis (or
PLAYBOOK_REDIS_URL) that is the Redis the servers use: one node, or a Redis
Cluster given as comma-separated nodes or redis+cluster://SEED. Without it,
it is the embedded store in --data (default ./data), the directory
"playbook serve" keeps its data in. Only one process may open a data
directory at a time: stop the server, run the command, start it again.
`,
	config: storeConfig,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		redisURL := fs.String("redis", "", "Redis URL of the server (or cluster nodes); without it, the embedded store in --data")
		data := fs.String("data", "data", "the data directory of the embedded store (without --redis)")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key")
		email := fs.String("email", "", "the agent's email (add, token)")
		name := fs.String("name", "", "the agent's name, shown to visitors (add); the API token's name (token)")
		teams := fs.String("team", "", "comma-separated teams (add), or the team to configure (teams)")
		role := fs.String("role", "agent", "agent, admin or marketer (add; a marketer sees the statistics, no chat, and has no team)")
		password := fs.String("password", "", "the password (add; default: generated)")
		routing := fs.String("routing", "manual", "manual, round_robin or least_busy (teams)")
		capacity := fs.Int("capacity", 0, "open chats per agent under automatic routing; 0 = no cap (teams)")
		reopen := fs.String("reopen", "never", "never or reopen: may a resolved chat open again (teams)")
		expires := fs.Duration("expires", 0, "the API token stops working after this long, e.g. 720h; 0 = until revoked (token)")
		hours := fs.String("hours", "-", "the team's opening hours for open_hours(), e.g. \"mon-fri 09:00-18:00 Europe/Berlin\"; \"\" clears them; default: kept (teams)")
		tokenID := fs.String("id", "", "the id of the API token to revoke, as tokens lists it (revoke)")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 1 {
				return usageError("say what to do: add, list, token, tokens, revoke, disable, enable, remove, password or teams")
			}
			engine, bus, closeStore, err := openInbox(*redisURL, *prefix, *data)
			if err != nil {
				return err
			}
			defer closeStore()
			st := handoff.NewStore(engine, handoff.Options{Prefix: *prefix})
			// announce tells running servers (on Redis) what changed.
			announce := func(agent string, teams bool) error {
				if bus == nil {
					return nil
				}
				return conversation.AnnounceAdminChange(ctx, bus, st, agent, teams)
			}
			switch args[0] {
			case "add":
				pw := *password
				generated := pw == ""
				if generated {
					pw = generatePassword()
				}
				a, err := st.AddAgent(ctx, handoff.NewAgent{Email: *email, Name: *name, Teams: splitList(*teams), Role: handoff.Role(*role), Password: pw})
				if err != nil {
					return err
				}
				fmt.Fprintf(std.out, "added %s <%s>, %s of %s\n", a.Name, a.Email, a.Role, strings.Join(a.Teams, ", "))
				if generated {
					fmt.Fprintf(std.out, "password: %s  (shown once; sign in at /inbox)\n", pw)
				}
			case "list":
				all, err := st.Agents(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tEMAIL\tROLE\tTEAMS\tPRESENCE")
				for _, a := range all {
					p, err := st.PresenceOf(ctx, a)
					if err != nil {
						return err
					}
					state := ""
					if a.Disabled {
						state = "\tdisabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\n", a.Name, a.Email, a.Role, strings.Join(a.Teams, ","), p, state)
				}
				tw.Flush()
			case "token":
				a, err := st.AgentByEmail(ctx, *email)
				if errors.Is(err, handoff.ErrNotFound) {
					return fmt.Errorf("no agent with email %q", *email)
				}
				if err != nil {
					return err
				}
				tok, _, err := st.NewAPIToken(ctx, a.ID, *name, *expires)
				if err != nil {
					return err
				}
				fmt.Fprintf(std.out, "%s\n", tok)
			case "tokens":
				all, err := st.APITokens(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tAGENT\tNAME\tCREATED\tEXPIRES")
				for _, t := range all {
					who := t.Agent
					if a, err := st.Agent(ctx, t.Agent); err == nil {
						who = a.Email
					}
					exp := "never"
					if !t.Expires.IsZero() {
						exp = t.Expires.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, who, t.Name, t.Created.Format(time.RFC3339), exp)
				}
				tw.Flush()
			case "revoke":
				t, err := st.APITokenInfo(ctx, *tokenID)
				if err == nil {
					err = st.RevokeAPIToken(ctx, *tokenID)
				}
				if err == nil {
					err = announce(t.Agent, false)
				}
				if errors.Is(err, handoff.ErrNotFound) {
					return fmt.Errorf("no API token with id %q (see playbook agents tokens)", *tokenID)
				} else if err != nil {
					return err
				}
				fmt.Fprintf(std.out, "revoked API token %s\n", *tokenID)
			case "disable", "enable", "remove", "password":
				a, err := st.AgentByEmail(ctx, *email)
				if errors.Is(err, handoff.ErrNotFound) {
					return fmt.Errorf("no agent with email %q", *email)
				}
				if err != nil {
					return err
				}
				switch args[0] {
				case "disable", "enable":
					if _, err := st.SetDisabled(ctx, a.ID, args[0] == "disable"); err != nil {
						return err
					}
					if err := announce(a.ID, false); err != nil {
						return err
					}
					fmt.Fprintf(std.out, "%sd %s <%s>\n", args[0], a.Name, a.Email)
				case "remove":
					if err := st.RemoveAgent(ctx, a.ID); err != nil {
						return err
					}
					if err := announce(a.ID, false); err != nil {
						return err
					}
					fmt.Fprintf(std.out, "removed %s <%s>\n", a.Name, a.Email)
				case "password":
					pw := *password
					if pw == "" {
						pw = generatePassword()
					}
					if _, err := st.ResetPassword(ctx, a.ID, pw); err != nil {
						return err
					}
					if err := announce(a.ID, false); err != nil {
						return err
					}
					fmt.Fprintf(std.out, "new password for %s <%s>; their sessions ended\n", a.Name, a.Email)
					if *password == "" {
						fmt.Fprintf(std.out, "password: %s  (shown once)\n", pw)
					}
				}
			case "teams":
				// The opening hours stay as they are unless --hours is given.
				cur, err := st.TeamConfigOf(ctx, *teams)
				if err != nil {
					return err
				}
				h := cur.Hours
				if *hours != "-" {
					h = strings.TrimSpace(*hours)
					if h != "" {
						if _, err := conversation.ParseTeamHours(h); err != nil {
							return usageError("--hours: %v", err)
						}
					}
				}
				if err := st.SetTeamConfig(ctx, *teams, handoff.TeamConfig{Routing: handoff.Routing(*routing), Capacity: *capacity, Reopen: handoff.ReopenPolicy(*reopen), Hours: h}); err != nil {
					return err
				}
				if err := announce("", true); err != nil {
					return err
				}
				shown := h
				if shown == "" {
					shown = "as hours.yaml or serve --hours say"
				}
				fmt.Fprintf(std.out, "team %s: %s routing, capacity %d, reopen %s, hours %s\n", *teams, *routing, *capacity, *reopen, shown)
			default:
				return usageError("unknown agents action %s: use add, list, token, tokens, revoke, disable, enable, remove, password or teams", args[0])
			}
			return nil
		}
	},
}

// openInbox opens the inbox of the server's store: Redis (one node or a
// cluster) when url is set, else the embedded store in dir.
//
// On Redis it also returns the bus, to tell the running servers what
// changed (an agent disabled: their sockets close); nil for the embedded
// store, which no server holds while this runs.
func openInbox(url, prefix, dir string) (store.InboxEngine, conversation.Publisher, func(), error) {
	if url != "" {
		rdb, closeStore, err := openRedis(url, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, nil, nil, err
		}
		return redisstore.NewInbox(rdb, prefix), redisstore.NewBus(rdb), closeStore, nil
	}
	db, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	return embedded.NewInbox(db), nil, func() { db.Close() }, nil
}

func generatePassword() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
