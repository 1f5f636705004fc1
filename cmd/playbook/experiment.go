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

// writeExperiments prints the comparison of the A/B experiments of funnel
// rows (only those named name, when it is not ""); it returns an error
// when name is given and no row counts it.
func writeExperiments(w io.Writer, rows []store.FunnelRow, name string) error {
	n := 0
	for _, st := range conversation.Experiments(rows) {
		if name != "" && st.Experiment != name {
			continue
		}
		if n > 0 {
			fmt.Fprintln(w)
		}
		n++
		writeExperiment(w, st)
	}
	if n == 0 && name != "" {
		return fmt.Errorf("no conversation went into a variant of experiment %q in the days asked for", name)
	}
	return nil
}

// writeExperiment prints the comparison of an A/B experiment's variants:
// for each outcome (and kind of record made), each variant's
// conversations, conversions, rate and 95 % Wilson interval.
func writeExperiment(w io.Writer, st conversation.ExperimentStats) {
	var total int64
	for _, v := range st.Variants {
		total += st.Entered[v]
	}
	fmt.Fprintf(w, "experiment %s of %s: %d conversations in %d variant%s\n", st.Experiment, st.Playbook, total, len(st.Variants), map[bool]string{true: "s"}[len(st.Variants) != 1])
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
		return
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
}
