package conversation

import (
	"maps"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/internal/abstats"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// A/B experiments in the funnel. A conversation's variants (engine.Session
// Variants) go into the variant dimension of its funnel rollup key as
// VariantKey says; the turn that puts it in a variant stores a "variant"
// entry, counted as the fact "variant|EXPERIMENT" under the key that
// already names the variant. An experiment's comparison sums, per variant,
// the conversations that went into it and their outcomes.

// VariantKey is the funnel's variant of a conversation in these variants
// (experiment name to variant name): "experiment=variant" pairs sorted by
// experiment and joined by ",", "" for none. Names are letters, digits, _
// and - (the compiler checks), so the separators never occur in them.
func VariantKey(variants map[string]string) string {
	if len(variants) == 0 {
		return ""
	}
	var b strings.Builder
	for i, x := range slices.Sorted(maps.Keys(variants)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x + "=" + variants[x])
	}
	return b.String()
}

// VariantIn returns the variant of experiment in a VariantKey.
func VariantIn(key, experiment string) (string, bool) {
	for pair := range strings.SplitSeq(key, ",") {
		if x, v, ok := strings.Cut(pair, "="); ok && x == experiment {
			return v, true
		}
	}
	return "", false
}

// ExperimentStats is what the variants of one experiment did.
type ExperimentStats struct {
	Playbook   string
	Experiment string
	// Variants are the variant names seen, sorted.
	Variants []string
	// Entered counts, per variant, the conversations that went into it.
	Entered map[string]int64
	// Outcomes counts, per variant and outcome, those that ended with it
	// ("" for an end without a label).
	Outcomes map[string]map[string]int64
	// Records counts, per variant and kind, the conversations that made
	// a record of that kind (lead, deal, ...).
	Records map[string]map[string]int64
}

// Experiments finds the experiments funnel rows count conversations of
// and sums each (ExperimentFromRows), sorted by playbook and name.
func Experiments(rows []store.FunnelRow) []ExperimentStats {
	type key struct{ playbook, experiment string }
	seen := map[key]bool{}
	for _, r := range rows {
		if x, ok := strings.CutPrefix(r.Counter, "variant|"); ok {
			seen[key{r.Playbook, x}] = true
		}
	}
	keys := slices.SortedFunc(maps.Keys(seen), func(a, b key) int {
		return strings.Compare(a.playbook+"\x00"+a.experiment, b.playbook+"\x00"+b.experiment)
	})
	out := make([]ExperimentStats, len(keys))
	for i, k := range keys {
		out[i] = ExperimentFromRows(rows, k.playbook, k.experiment)
	}
	return out
}

// ExperimentFromRows sums the funnel rows of playbook ("" for any) into
// experiment's stats, over every day and version: the counter
// variant|experiment gives each variant's conversations, outcome|X and
// record|kind of rows whose variant names the experiment their outcomes.
func ExperimentFromRows(rows []store.FunnelRow, playbook, experiment string) ExperimentStats {
	st := ExperimentStats{Playbook: playbook, Experiment: experiment, Entered: map[string]int64{}, Outcomes: map[string]map[string]int64{}, Records: map[string]map[string]int64{}}
	add := func(m map[string]map[string]int64, v, k string, n int64) {
		if m[v] == nil {
			m[v] = map[string]int64{}
		}
		m[v][k] += n
	}
	for _, r := range rows {
		if playbook != "" && r.Playbook != playbook {
			continue
		}
		v, ok := VariantIn(r.Variant, experiment)
		if !ok {
			continue
		}
		switch kind, rest, _ := strings.Cut(r.Counter, "|"); kind {
		case "variant":
			if rest == experiment {
				st.Entered[v] += r.Count
			}
		case "outcome":
			add(st.Outcomes, v, rest, r.Count)
		case "record":
			add(st.Records, v, rest, r.Count)
		}
	}
	seen := map[string]bool{}
	for _, m := range []map[string]int64{st.Entered} {
		for v := range m {
			seen[v] = true
		}
	}
	for _, m := range []map[string]map[string]int64{st.Outcomes, st.Records} {
		for v := range m {
			seen[v] = true
		}
	}
	st.Variants = slices.Sorted(maps.Keys(seen))
	return st
}

// Goals lists the outcomes and records ("record:lead") any variant
// reached, sorted: what can be compared.
func (st ExperimentStats) Goals() []string {
	seen := map[string]bool{}
	for _, m := range st.Outcomes {
		for o := range m {
			seen[o] = true
		}
	}
	for _, m := range st.Records {
		for k := range m {
			seen["record:"+k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Compare is the comparison of the variants' conversion to goal (an
// outcome, or "record:KIND"): per variant, conversations, conversions,
// the rate and its Wilson interval at z (abstats.Z95 for 95 %).
func (st ExperimentStats) Compare(goal string, z float64) []abstats.Row {
	counts := make([]abstats.Count, len(st.Variants))
	for i, v := range st.Variants {
		k := st.Outcomes[v][goal]
		if kind, ok := strings.CutPrefix(goal, "record:"); ok {
			k = st.Records[v][kind]
		}
		counts[i] = abstats.Count{Variant: v, N: st.Entered[v], K: k}
	}
	return abstats.Compare(counts, z)
}

// StatsExperiments are the experiments of funnel rows for the stats API:
// per goal (outcome or record kind) each variant's conversions, rate and
// 95 % Wilson interval.
func StatsExperiments(rows []store.FunnelRow) []protocol.StatsExperiment {
	out := []protocol.StatsExperiment{}
	for _, st := range Experiments(rows) {
		x := protocol.StatsExperiment{Playbook: st.Playbook, Experiment: st.Experiment, Variants: []protocol.StatsVariant{}, Goals: []protocol.StatsGoal{}}
		for _, v := range st.Variants {
			x.Variants = append(x.Variants, protocol.StatsVariant{Variant: v, Conversations: st.Entered[v]})
		}
		for _, g := range st.Goals() {
			goal := protocol.StatsGoal{Goal: g, Variants: []protocol.StatsRate{}}
			for _, r := range st.Compare(g, abstats.Z95) {
				goal.Variants = append(goal.Variants, protocol.StatsRate{Variant: r.Variant, Conversations: r.N, Reached: r.K, Rate: r.Rate, Low: r.Lo, High: r.Hi, Best: r.Best})
			}
			x.Goals = append(x.Goals, goal)
		}
		out = append(out, x)
	}
	return out
}
