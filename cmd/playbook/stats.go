package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var statsCommand = &command{
	name:    "stats",
	summary: "print the funnel of each playbook version (or its counters as CSV)",
	usage:   "stats [--playbook ID] [--since YYYY-MM-DD] [--csv] [options]",
	help: `Prints the funnel of each playbook version: how many conversations
started, reached each card, were asked its question and answered it (or
dropped there), the median time to answer, handoffs, missed chats,
outcomes and the records they made. Counted per day the conversations
started, so --since compares a version with the one before it over the
same days. See docs/funnels.md.

  playbook stats
  playbook stats --playbook qualify --since 2026-01-01
  playbook stats --csv > funnel.csv     (every counter, one line per day)
  playbook stats --experiment newsletter-opener   (an A/B test's variants compared)

A playbook with A/B experiments has a funnel per variant, and after the
funnels each experiment's variants are compared: for each outcome (and
kind of record made) the share of each variant's conversations that
reached it, with its 95 % Wilson score interval (docs/language.md).

The numbers come from the same store as the conversations: with --redis
(or PLAYBOOK_REDIS_URL) the Redis the servers use, else the embedded store
in --data (default ./data; stop the server first: one process at a time).
`,
	config: storeConfig,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		redisURL := fs.String("redis", "", "Redis URL of the server (or cluster nodes); without it, the embedded store in --data")
		data := fs.String("data", "data", "the data directory of the embedded store (without --redis)")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key")
		playbook := fs.String("playbook", "", "only this playbook (its id)")
		since := fs.String("since", "", "only conversations started on this day (YYYY-MM-DD, UTC) or later")
		asCSV := fs.Bool("csv", false, "print every counter as CSV: day, playbook, version, variant, metric, card, detail, count")
		experiment := fs.String("experiment", "", "only compare the variants of this A/B experiment: conversions to each outcome with 95 % Wilson intervals")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 0 {
				return usageError("stats takes no arguments: %s", strings.Join(args, " "))
			}
			q := conversation.StatsQuery{Playbook: *playbook, Since: *since}
			if err := conversation.CheckStatsQuery(q); err != nil {
				return usageError("--since: %v", err)
			}
			var eng store.Engine
			if *redisURL != "" {
				rdb, closeStore, err := openRedis(*redisURL, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err != nil {
					return err
				}
				defer closeStore()
				eng = redisstore.NewEngine(rdb, *prefix)
			} else {
				db, err := embedded.Open(*data, embedded.Options{})
				if err != nil {
					return err
				}
				defer db.Close()
				eng = embedded.NewEngine(db)
			}
			rows, err := eng.Funnels().Funnel(ctx, q)
			if err != nil {
				return err
			}
			if *asCSV {
				return conversation.WriteFunnelCSV(std.out, rows)
			}
			if *experiment != "" {
				return writeExperiments(std.out, rows, *experiment)
			}
			// The versions' cards come from the store's copies of them.
			reg := conversation.NewRegistry("", eng.Programs(24*time.Hour), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			printStats(std.out, conversation.BuildStats(ctx, q, rows, reg))
			if len(conversation.Experiments(rows)) > 0 {
				fmt.Fprintln(std.out)
				return writeExperiments(std.out, rows, "")
			}
			return nil
		}
	},
}

// printStats prints the funnel of each version as a table of its cards.
func printStats(w io.Writer, st *protocol.Stats) {
	if len(st.Versions) == 0 {
		fmt.Fprintln(w, "no conversations counted yet")
		return
	}
	for i, v := range st.Versions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := v.Playbook
		if v.Variant != "" {
			name += " variant " + v.Variant
		}
		fmt.Fprintf(w, "%s, version %s: %d conversations started %s to %s\n", name, v.Short, v.Started, v.First, v.Last)
		fmt.Fprintf(w, "  outcomes: %s\n", counts(v.Outcomes, v.Started))
		if len(v.Records) > 0 {
			fmt.Fprintf(w, "  records: %s\n", counts(v.Records, v.Started))
		}
		fmt.Fprintf(w, "  handed off: %d, missed: %d\n", v.Handoffs, v.Missed)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CARD\tKIND\tREACHED\tASKED\tANSWERED\tDROPPED\tMEDIAN ANSWER\tHANDOFFS\tENDED")
		for _, c := range v.Cards {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Card, c.Kind, c.Reached,
				blank(c.Asked), blank(c.Answered), blank(c.Dropped), medianText(c.MedianAnswerMS), blank(c.Handoffs), blank(c.Ended))
		}
		tw.Flush()
	}
}

// medianText is a median answer time as the funnel shows it.
func medianText(ms int64) string {
	switch {
	case ms == 0:
		return "-"
	case ms < 0:
		return "> 1 h"
	case ms < 60000:
		return fmt.Sprintf("≤ %g s", float64(ms)/1000)
	}
	return fmt.Sprintf("≤ %g min", float64(ms)/60000)
}

func blank(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// counts prints "lead 300 (30%), nurture 200 (20%)", largest first.
func counts(m map[string]int64, of int64) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, 0, len(names))
	for _, k := range names {
		p := fmt.Sprintf("%s %d", k, m[k])
		if of > 0 {
			p += fmt.Sprintf(" (%d%%)", m[k]*100/of)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}
