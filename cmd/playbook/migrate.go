package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var migrateCommand = &command{
	name:    "migrate",
	summary: "move the data of an older version's Redis key layout to this version's",
	usage:   "migrate --redis URL [--prefix P] [--wait D]",
	help: `Moves what an older version kept in Redis to the keys this version reads.

Before this version the CRM (people, organizations, leads, deals, tasks,
notes, their indexes and activity feeds, conversation memory, archived
transcripts) and the webhook outbox (subscriptions, events not yet sent,
deliveries under way, dead letters) were all kept under one hash tag,
PREFIX{crm}:..., on one Redis Cluster slot. This version spreads them over
the cluster and never reads the old keys. "playbook migrate" moves each old
key to its new name, then deletes it; each pending webhook event is moved
once to its outbox shard.

"playbook serve --redis" runs the same migration when it starts, so running
this command first is optional: it lets you move the data (and see what
moved) before the servers of the new version start. Once done, a key
(PREFIX schema:crm) records it and later runs, and every serve start, read
nothing else. One process migrates at a time; the others wait for it. A run
that is killed can be run again: it goes on where it stopped and ends with
the same data as one uninterrupted run. It works on one node and on a
Redis Cluster.

Stop the servers of the old version first: a server of the old version
still writes the old keys.
`,
	config: storeConfig,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		redisURL := fs.String("redis", "", "Redis URL (or cluster nodes, comma-separated, or redis+cluster://SEED)")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key (the servers' --prefix)")
		wait := fs.Duration("wait", 10*time.Minute, "how long to wait for another process that is migrating")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageError("migrate takes options only: --redis, --prefix, --wait")
			}
			if *redisURL == "" {
				return usageError("give the Redis to migrate with --redis (or PLAYBOOK_REDIS_URL)")
			}
			rdb, closeRedis, err := openRedis(*redisURL, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return err
			}
			defer closeRedis()
			log := slog.New(slog.NewTextHandler(std.err, nil))
			rep, err := redisstore.NewCRM(rdb, *prefix).MigrateLegacy(ctx, redisstore.MigrateOptions{Wait: *wait, Logger: log})
			if errors.Is(err, redisstore.ErrMigrationBusy) {
				return failf("another process is still migrating after %s: run again later", *wait)
			}
			if err != nil {
				return failf("%v", err)
			}
			printMigration(std.out, rep)
			return nil
		}
	},
}

// printMigration says what a migration did.
func printMigration(w io.Writer, rep redisstore.MigrateReport) {
	if rep.Done {
		fmt.Fprintln(w, "the CRM is in this version's key layout already: nothing to move")
		return
	}
	fmt.Fprintf(w, "moved %d keys and %d webhook events of the CRM to this version's key layout\n", rep.Keys, rep.Events)
	if rep.Dropped > 0 {
		fmt.Fprintf(w, "dropped %d outbox entries without an event id (the old version dropped them too)\n", rep.Dropped)
	}
	if rep.Kept > 0 {
		fmt.Fprintf(w, "kept %d values this version had written already under the same name (the old ones are gone)\n", rep.Kept)
	}
	if len(rep.Unknown) > 0 {
		fmt.Fprintf(w, "left %d keys of no known kind where they are:\n", len(rep.Unknown))
		for _, k := range rep.Unknown {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
}
