package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var webhooksCommand = &command{
	name:    "webhooks",
	summary: "send CRM records and conversation events to your own CRM",
	usage:   "webhooks add|list|remove|dead|replay [options]",
	help: `Manages the webhooks that carry events to another system (Pipedrive, HubSpot,
Zendesk Sell, your own CRM): every record a playbook or an agent creates,
and conversations starting, handed off, assigned and resolved.

  playbook webhooks add --url https://crm.example.com/hooks/playbook \
      --events record.created,conversation.handed_off,conversation.resolved [--secret S]
  playbook webhooks list
  playbook webhooks remove ID
  playbook webhooks dead                 (deliveries that failed for 24 hours)
  playbook webhooks replay ID | --all    (send dead deliveries again)

Events are delivered at least once, signed with the secret (HMAC-SHA256,
header X-Playbook-Signature), each with an Idempotency-Key header; failed
deliveries are retried with exponential backoff for at least 24 hours.
docs/webhooks.md describes every payload and how to verify a signature.

Events: ` + strings.Join(crm.EventTypes, ", ") + `, or * for all.
Without --secret one is generated and printed once.

Webhooks live in the same store as the conversations. With --redis (or
PLAYBOOK_REDIS_URL) that is the Redis the servers use (one node, or a Redis
Cluster given as comma-separated nodes or redis+cluster://SEED); the running
servers see a new webhook within seconds. Without it, it is the embedded
store in --data (default ./data), the directory "playbook serve" keeps its
data in. Only one process may open a data directory at a time: stop the
server, run the command, start it again.
`,
	config: storeConfig,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		redisURL := fs.String("redis", "", "Redis URL of the server (or cluster nodes); without it, the embedded store in --data")
		data := fs.String("data", "data", "the data directory of the embedded store (without --redis)")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key")
		url := fs.String("url", "", "where events are POSTed (add)")
		events := fs.String("events", "", "comma-separated event types, or * (add)")
		secret := fs.String("secret", "", "signing secret, 16 characters or more (add; default: generated)")
		all := fs.Bool("all", false, "replay every dead delivery (replay)")
		limit := fs.Int("limit", 100, "how many dead deliveries to show (dead)")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) == 0 {
				return usageError("say what to do: add, list, remove, dead or replay")
			}
			ce, closeStore, err := openCRM(*redisURL, *prefix, *data)
			if err != nil {
				return err
			}
			defer closeStore()
			st := crm.New(ce, ce, crm.Options{})
			switch args[0] {
			case "add":
				if len(args) != 1 {
					return usageError("add takes options only: --url, --events, --secret")
				}
				sub, err := st.AddSubscription(ctx, *url, splitList(*events), *secret)
				if err != nil {
					return failf("%v", err)
				}
				fmt.Fprintf(std.out, "added %s: %s for %s\n", sub.ID, sub.URL, strings.Join(sub.Events, ", "))
				if *secret == "" {
					fmt.Fprintf(std.out, "secret: %s  (shown once; verify X-Playbook-Signature with it)\n", sub.Secret)
				}
			case "list":
				subs, err := st.Subscriptions(ctx)
				if err != nil {
					return err
				}
				pending, err := st.Pending(ctx)
				if err != nil {
					return err
				}
				dead, err := st.DeadLetters(ctx, 10000)
				if err != nil {
					return err
				}
				deadBy := map[string]int{}
				for _, d := range dead {
					deadBy[d.Subscription]++
				}
				if len(subs) == 0 {
					fmt.Fprintln(std.out, "no webhooks; add one with: playbook webhooks add --url URL --events record.created")
					return nil
				}
				tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tURL\tEVENTS\tPENDING\tDEAD\tSECRET")
				for _, s := range subs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, s.URL, strings.Join(s.Events, ","), pending[s.ID], deadBy[s.ID], mask(s.Secret))
				}
				tw.Flush()
			case "remove":
				if len(args) != 2 {
					return usageError("remove takes one webhook id (see playbook webhooks list)")
				}
				if err := st.RemoveSubscription(ctx, args[1]); errors.Is(err, crm.ErrNotFound) {
					return failf("no webhook %s", args[1])
				} else if err != nil {
					return err
				}
				fmt.Fprintf(std.out, "removed %s\n", args[1])
			case "dead":
				dead, err := st.DeadLetters(ctx, *limit)
				if err != nil {
					return err
				}
				if len(dead) == 0 {
					fmt.Fprintln(std.out, "no dead deliveries")
					return nil
				}
				tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEVENT\tURL\tATTEMPTS\tFIRST\tLAST\tLAST ERROR")
				for _, d := range dead {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Type, d.URL, d.Attempts,
						d.FirstAt.Format(time.RFC3339), d.LastAt.Format(time.RFC3339), oneLine(d.LastError))
				}
				tw.Flush()
			case "replay":
				switch {
				case *all && len(args) == 1:
					n, err := st.ReplayAll(ctx)
					if err != nil {
						return err
					}
					fmt.Fprintf(std.out, "replaying %d deliveries\n", n)
				case !*all && len(args) == 2:
					if err := st.Replay(ctx, args[1]); errors.Is(err, crm.ErrNotFound) {
						return failf("no dead delivery %s (see playbook webhooks dead)", args[1])
					} else if err != nil {
						return err
					}
					fmt.Fprintf(std.out, "replaying %s\n", args[1])
				default:
					return usageError("replay takes one delivery id, or --all")
				}
			default:
				return usageError("unknown webhooks action %s: use add, list, remove, dead or replay", args[0])
			}
			return nil
		}
	},
}

// mask shows the start of a secret only.
func mask(s string) string {
	if len(s) <= 10 {
		return "…"
	}
	return s[:10] + "…"
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// openCRM opens the CRM and webhook outbox of the server's store: Redis (one
// node or a cluster) when url is set, else the embedded store in dir.
func openCRM(url, prefix, dir string) (store.CRMEngine, func(), error) {
	if url != "" {
		rdb, closeStore, err := openRedis(url, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, nil, err
		}
		return redisstore.NewCRM(rdb, prefix), closeStore, nil
	}
	db, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		return nil, nil, err
	}
	return embedded.NewCRM(db), func() { db.Close() }, nil
}
