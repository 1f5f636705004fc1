package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/abstats"
	"github.com/playbook-dev/playbook/store"
)

// writeExperiment prints the comparison of an A/B experiment's variants
// from funnel rows: for each outcome (and kind of record made), each
// variant's conversations, conversions, rate and 95 % Wilson interval.
// It returns an error when no row names the experiment.
func writeExperiment(w io.Writer, rows []store.FunnelRow, experiment string) error {
	st := conversation.ExperimentFromRows(rows, experiment)
	if len(st.Variants) == 0 {
		return fmt.Errorf("no conversation went into a variant of experiment %q in the days asked for", experiment)
	}
	var total int64
	for _, v := range st.Variants {
		total += st.Entered[v]
	}
	fmt.Fprintf(w, "experiment %s: %d conversations in %d variants\n", experiment, total, len(st.Variants))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range st.Variants {
		share := 0.0
		if total > 0 {
			share = 100 * float64(st.Entered[v]) / float64(total)
		}
		fmt.Fprintf(tw, "  %s\t%d conversations\t%.1f %%\n", v, st.Entered[v], share)
	}
	tw.Flush()
	goals := st.Goals()
	if len(goals) == 0 {
		fmt.Fprintln(w, "no conversation of the experiment has ended or made a record yet")
		return nil
	}
	for _, g := range goals {
		label := "outcome " + g
		if kind, ok := strings.CutPrefix(g, "record:"); ok {
			label = "made a " + kind
		} else if g == "" {
			label = "ended without an outcome"
		}
		fmt.Fprintf(w, "\n%s:\n", label)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range st.Compare(g, abstats.Z95) {
			best := ""
			if r.Best {
				best = "\tbest"
			}
			fmt.Fprintf(tw, "  %s\t%d of %d\t%.1f %%\t95 %% CI %.1f–%.1f %%%s\n", r.Variant, r.K, r.N, 100*r.Rate, 100*r.Lo, 100*r.Hi, best)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nCI: Wilson score interval; \"best\" only when a variant's interval lies above every other's.")
	return nil
}
