package conversation

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// StatsQuery selects the funnel: conversations started on Since (a UTC
// day, YYYY-MM-DD; "" for every day kept) or after, of Playbook ("" for
// all).
type StatsQuery = store.FunnelQuery

// CheckStatsQuery refuses a day that is not YYYY-MM-DD.
func CheckStatsQuery(q StatsQuery) error {
	if q.Since == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, q.Since); err != nil {
		return refuse(ErrInvalid, "since must be a day as YYYY-MM-DD, e.g. 2026-01-31")
	}
	return nil
}

// Stats is the funnel agent a asks for: admins and marketers only.
func (s *Service) Stats(ctx context.Context, a *Agent, q StatsQuery) (*protocol.Stats, error) {
	if err := access.Stats(a); err != nil {
		return nil, err
	}
	return s.Funnel(ctx, q)
}

// StatsCSV writes the funnel's counters agent a asks for as CSV (see
// WriteFunnelCSV).
func (s *Service) StatsCSV(ctx context.Context, a *Agent, q StatsQuery, w io.Writer) error {
	if err := access.Stats(a); err != nil {
		return err
	}
	rows, err := s.funnelRows(ctx, q)
	if err != nil {
		return err
	}
	return WriteFunnelCSV(w, rows)
}

func (s *Service) funnelRows(ctx context.Context, q StatsQuery) ([]store.FunnelRow, error) {
	// What this process served is in the stats: its queued folds first.
	if err := s.Settle(ctx); err != nil {
		return nil, err
	}
	if err := CheckStatsQuery(q); err != nil {
		return nil, err
	}
	if s.cfg.Funnels == nil {
		return nil, errors.New("conversation: the funnel is off (no Funnels)")
	}
	return s.cfg.Funnels.Funnel(ctx, q)
}

// Funnel is the funnel of every playbook version (and variant) over the
// conversations q selects, for tools (no access check).
func (s *Service) Funnel(ctx context.Context, q StatsQuery) (*protocol.Stats, error) {
	rows, err := s.funnelRows(ctx, q)
	if err != nil {
		return nil, err
	}
	return BuildStats(ctx, q, rows, s.reg), nil
}

// StatsVersions tells BuildStats the playbook versions it draws (a
// Registry does).
type StatsVersions interface {
	// Version returns the program of a version's hash (an error when it
	// is no longer known).
	Version(ctx context.Context, hash string) (*engine.Program, error)
	// Current returns the version of playbook id new conversations start
	// on.
	Current(id string) (*engine.Program, bool)
}

// CounterParts splits a funnel counter ("reached|email", "outcome|lead",
// "time|email|2000", "variant|greeting") into its metric, card and detail
// (an outcome, a record kind, an experiment).
func CounterParts(counter string) (metric, card, detail string) {
	parts := strings.SplitN(counter, "|", 3)
	metric = parts[0]
	switch {
	case metric == "outcome" || metric == "record" || metric == "variant":
		if len(parts) > 1 {
			detail = strings.Join(parts[1:], "|")
		}
	case len(parts) == 3:
		card, detail = parts[1], parts[2]
	case len(parts) == 2:
		card = parts[1]
	}
	return metric, card, detail
}

// WriteFunnelCSV writes funnel counters as CSV, one line per counter and
// day: day, playbook, version, variant, metric, card, detail, count;
// sorted, with a header line.
func WriteFunnelCSV(w io.Writer, rows []store.FunnelRow) error {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b store.FunnelRow) int {
		return strings.Compare(a.Day+"\x00"+a.Playbook+"\x00"+a.Version+"\x00"+a.Variant+"\x00"+a.Counter,
			b.Day+"\x00"+b.Playbook+"\x00"+b.Version+"\x00"+b.Variant+"\x00"+b.Counter)
	})
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"day", "playbook", "version", "variant", "metric", "card", "detail", "count"}); err != nil {
		return err
	}
	for _, r := range rows {
		m, card, detail := CounterParts(r.Counter)
		if err := cw.Write([]string{r.Day, r.Playbook, r.Version, r.Variant, m, card, detail, strconv.FormatInt(r.Count, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cardKind is what a card does, for the funnel screen.
func cardKind(c *engine.Card) string {
	switch {
	case c.Handoff != nil:
		return "handoff"
	case c.Ask != nil && len(c.Ask.Choices) > 0:
		return "choices"
	case c.Ask != nil:
		return "ask"
	case c.HasEnd:
		return "end"
	case len(c.Say) > 0 || c.Image != "" || len(c.Links) > 0:
		return "say"
	}
	return "logic"
}

// BuildStats adds up funnel counters into the funnel of each version, its
// cards in the order of the version's program as known knows it.
func BuildStats(ctx context.Context, q StatsQuery, rows []store.FunnelRow, known StatsVersions) *protocol.Stats {
	type vkey struct{ playbook, version, variant string }
	versions := map[vkey]*protocol.StatsVersion{}
	cards := map[vkey]map[string]*protocol.StatsCard{}
	days := map[vkey]map[string]*protocol.StatsDay{}
	for _, r := range rows {
		k := vkey{r.Playbook, r.Version, r.Variant}
		v := versions[k]
		if v == nil {
			v = &protocol.StatsVersion{Playbook: r.Playbook, Version: r.Version, Short: r.Version[:min(8, len(r.Version))], Variant: r.Variant,
				Outcomes: map[string]int64{}, Records: map[string]int64{}, Cards: []protocol.StatsCard{}, Days: []protocol.StatsDay{}}
			versions[k], cards[k], days[k] = v, map[string]*protocol.StatsCard{}, map[string]*protocol.StatsDay{}
		}
		if v.First == "" || r.Day < v.First {
			v.First = r.Day
		}
		v.Last = max(v.Last, r.Day)
		day := days[k][r.Day]
		if day == nil {
			day = &protocol.StatsDay{Day: r.Day}
			days[k][r.Day] = day
		}
		metric, name, detail := CounterParts(r.Counter)
		card := func() *protocol.StatsCard {
			c := cards[k][name]
			if c == nil {
				c = &protocol.StatsCard{Card: name}
				cards[k][name] = c
			}
			return c
		}
		switch metric {
		case "started":
			v.Started += r.Count
			day.Started += r.Count
		case "missed":
			v.Missed += r.Count
		case "outcome":
			v.Outcomes[detail] += r.Count
			if day.Outcomes == nil {
				day.Outcomes = map[string]int64{}
			}
			day.Outcomes[detail] += r.Count
		case "record":
			v.Records[detail] += r.Count
		case "reached":
			card().Reached += r.Count
		case "asked":
			card().Asked += r.Count
		case "answered":
			card().Answered += r.Count
		case "handoff":
			card().Handoffs += r.Count
			v.Handoffs += r.Count
		case "ended":
			card().Ended += r.Count
		case "error":
			card().Errors += r.Count
		case "time":
			c := card()
			if c.AnswerTimes == nil {
				c.AnswerTimes = map[string]int64{}
			}
			c.AnswerTimes[detail] += r.Count
		}
	}
	out := &protocol.Stats{Since: q.Since, Playbook: q.Playbook, Versions: []protocol.StatsVersion{}, Experiments: StatsExperiments(rows)}
	for k, v := range versions {
		byName := cards[k]
		var order []*engine.Card
		if p, err := known.Version(ctx, k.version); err == nil {
			v.Title = p.Title
			order = p.Cards
		}
		if cur, ok := known.Current(k.playbook); ok && cur.Hash == k.version {
			v.Current = true
		}
		for _, c := range order {
			sc := byName[c.Name]
			if sc == nil {
				sc = &protocol.StatsCard{Card: c.Name}
			}
			sc.Kind = cardKind(c)
			v.Cards = append(v.Cards, *sc)
			delete(byName, c.Name)
		}
		// Cards the version no longer names (its source expired): by reach.
		var rest []protocol.StatsCard
		for _, c := range byName {
			rest = append(rest, *c)
		}
		slices.SortFunc(rest, func(a, b protocol.StatsCard) int {
			if a.Reached != b.Reached {
				return int(b.Reached - a.Reached)
			}
			return strings.Compare(a.Card, b.Card)
		})
		v.Cards = append(v.Cards, rest...)
		for i := range v.Cards {
			c := &v.Cards[i]
			c.Dropped = max(c.Asked-c.Answered, 0)
			c.MedianAnswerMS = MedianBucket(c.AnswerTimes)
		}
		for _, d := range days[k] {
			v.Days = append(v.Days, *d)
		}
		slices.SortFunc(v.Days, func(a, b protocol.StatsDay) int { return strings.Compare(a.Day, b.Day) })
		out.Versions = append(out.Versions, *v)
	}
	slices.SortFunc(out.Versions, func(a, b protocol.StatsVersion) int {
		if c := strings.Compare(a.Playbook, b.Playbook); c != 0 {
			return c
		}
		if c := strings.Compare(b.Last, a.Last); c != 0 { // newest first
			return c
		}
		return strings.Compare(a.Version+a.Variant, b.Version+b.Variant)
	})
	return out
}

// MedianBucket is the upper bound (ms) of the bucket that holds the
// median of times (counts per store.FunnelBuckets bucket): 0 for none,
// -1 for the "inf" bucket.
func MedianBucket(times map[string]int64) int64 {
	var n int64
	for _, c := range times {
		n += c
	}
	if n == 0 {
		return 0
	}
	half := (n + 1) / 2
	var seen int64
	for _, b := range store.FunnelBuckets {
		seen += times[strconv.FormatInt(b, 10)]
		if seen >= half {
			return b
		}
	}
	return -1
}
