package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/engine"
)

var graphCommand = &command{
	name:    "graph",
	summary: "draw a playbook as a flowchart (Mermaid)",
	usage:   "graph [--direction TD|LR] FILE",
	help: `Prints the playbook's cards as a Mermaid flowchart: one box per card with
its name and kind, and arrows for where the conversation can go next.
Arrows are labelled with the button that leads there, the condition of a
branch, "too many tries", "offline" (nobody from the team is online) or
"error" (a web call failed). Each way the conversation can end is a rounded
box.

Paste the output into any Mermaid viewer (GitHub and many wikis show a
` + "```mermaid" + ` block as a picture), or save it:

  playbook graph playbooks/website-sales.yaml > website-sales.mmd
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		dir := fs.String("direction", "TD", "which way the chart flows: `TD|LR` (TD top to bottom, LR left to right)")
		return func(ctx context.Context, std *stdio, args []string) error {
			d := strings.ToUpper(*dir)
			if d != "TD" && d != "LR" {
				return usageError("--direction must be TD or LR, not %q", *dir)
			}
			if len(args) != 1 {
				return usageError("give exactly one playbook file")
			}
			p, err := loadOne(std.err, args[0])
			if err != nil {
				return err
			}
			writeGraph(std.out, p, d)
			return nil
		}
	},
}

// cardKind names what a card mainly does.
func cardKind(c *engine.Card) string {
	switch {
	case c.Include != "":
		return "include"
	case c.Experiment != nil:
		return "a/b test " + c.Experiment.Name
	case c.Handoff != nil:
		return "handoff"
	case c.Call != nil:
		return "call"
	case c.Ask != nil && len(c.Ask.Intents) > 0:
		return "intents"
	case c.Ask != nil && len(c.Ask.Choices) > 0:
		return "choices"
	case c.Ask != nil:
		return "ask"
	case len(c.Create) > 0:
		return "create"
	case c.HasEnd:
		return "end"
	case len(c.Say) > 0:
		return "say"
	case len(c.Branch) > 0:
		return "branch"
	case len(c.Set) > 0:
		return "set"
	}
	return "goto"
}

// mermaidEscape makes s safe inside a quoted Mermaid label: quotes, angle
// brackets, ampersands, pipes, backticks and # become entity codes, and
// line breaks become spaces.
var mermaidEscape = strings.NewReplacer(
	`"`, "#quot;",
	"#", "#35;",
	"&", "#amp;",
	"<", "#lt;",
	">", "#gt;",
	"|", "#124;",
	"`", "#96;",
	"\r\n", " ",
	"\n", " ",
	"\r", " ",
)

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// graph collects nodes and edges, dropping repeated edges.
type graph struct {
	lines []string
	seen  map[string]bool
	ends  map[string]string // outcome -> node id
	teams map[string]string // team -> live chat node id
	order []string          // terminal node lines, in first-use order
}

func (g *graph) edge(from, to, label string) {
	var line string
	if label == "" {
		line = fmt.Sprintf("    %s --> %s", from, to)
	} else {
		line = fmt.Sprintf("    %s -->|\"%s\"| %s", from, mermaidEscape.Replace(truncate(label, 40)), to)
	}
	if !g.seen[line] {
		g.seen[line] = true
		g.lines = append(g.lines, line)
	}
}

// end returns the terminal node for an outcome ("" for an end without one).
func (g *graph) end(outcome string) string {
	if id, ok := g.ends[outcome]; ok {
		return id
	}
	id := fmt.Sprintf("result%d", len(g.ends))
	g.ends[outcome] = id
	label := "end"
	if outcome != "" {
		label = "end: " + outcome
	}
	g.order = append(g.order, fmt.Sprintf("    %s([\"%s\"]):::terminal", id, mermaidEscape.Replace(label)))
	return id
}

func (g *graph) liveChat(team string) string {
	if id, ok := g.teams[team]; ok {
		return id
	}
	id := fmt.Sprintf("agent%d", len(g.teams))
	g.teams[team] = id
	g.order = append(g.order, fmt.Sprintf("    %s([\"live chat: %s\"]):::terminal", id, mermaidEscape.Replace(team)))
	return id
}

func nodeID(i int) string { return fmt.Sprintf("c%d", i) }

// writeGraph writes p as a Mermaid flowchart.
func writeGraph(w io.Writer, p *engine.Program, dir string) {
	g := &graph{seen: map[string]bool{}, ends: map[string]string{}, teams: map[string]string{}}
	valid := func(i int) bool { return i >= 0 && i < len(p.Cards) }
	for i, c := range p.Cards {
		from := nodeID(i)
		own := true // whether the card can go on to its end, branch or next card
		if c.Ask != nil {
			if len(c.Ask.Choices) > 0 {
				allGoto := true
				for _, ch := range c.Ask.Choices {
					if valid(ch.Goto) {
						g.edge(from, nodeID(ch.Goto), choiceLabel(p, ch))
					} else {
						allGoto = false
					}
				}
				giveUp := c.Ask.Retry.Max > 0 && !valid(c.Ask.Retry.Then)
				own = !allGoto || giveUp
			}
			if o := c.Ask.Other; o != nil && valid(o.Goto) && len(c.Ask.Choices) > 0 {
				g.edge(from, nodeID(o.Goto), "anything else")
			} else if o != nil {
				own = true
			}
			if len(c.Ask.Intents) > 0 {
				allGoto := true
				for _, in := range c.Ask.Intents {
					if valid(in.Goto) {
						g.edge(from, nodeID(in.Goto), "means "+in.Name)
					} else {
						allGoto = false
					}
				}
				if valid(c.Ask.Fallback) {
					g.edge(from, nodeID(c.Ask.Fallback), "not understood")
				}
				own = !allGoto || c.Ask.Retry.Max > 0 && !valid(c.Ask.Retry.Then)
			}
			if c.Ask.Retry.Max > 0 && valid(c.Ask.Retry.Then) {
				g.edge(from, nodeID(c.Ask.Retry.Then), "too many tries")
			}
		}
		if c.Call != nil && valid(c.Call.OnError) {
			g.edge(from, nodeID(c.Call.OnError), "error")
		}
		if c.Handoff != nil {
			g.edge(from, g.liveChat(c.Handoff.Team), "agent")
			if valid(c.Handoff.Offline) {
				g.edge(from, nodeID(c.Handoff.Offline), "offline")
			}
			own = false // the bot goes on only when an agent hands back
		}
		if !own {
			continue
		}
		if c.HasEnd {
			g.edge(from, g.end(c.End), "")
			continue
		}
		if x := c.Experiment; x != nil {
			for i, v := range x.Variants {
				if valid(v.Goto) {
					g.edge(from, nodeID(v.Goto), fmt.Sprintf("variant %s %.0f%%", v.Name, 100*x.VariantShares()[i]))
				}
			}
			continue
		}
		always := false
		for _, b := range c.Branch {
			if b.If == nil {
				always = true
			}
			if !valid(b.Goto) {
				continue
			}
			label := "otherwise"
			if b.If != nil {
				label = b.If.Src
			}
			g.edge(from, nodeID(b.Goto), label)
			if always {
				break
			}
		}
		if always {
			continue
		}
		if valid(c.Next) {
			g.edge(from, nodeID(c.Next), "")
		} else {
			g.edge(from, g.end(""), "")
		}
	}

	fmt.Fprintf(w, "flowchart %s\n", dir)
	if p.Title != "" {
		fmt.Fprintf(w, "    %%%% %s\n", strings.Join(strings.Fields(p.Title), " "))
	}
	fmt.Fprintln(w, "    start((start))")
	for i, c := range p.Cards {
		fmt.Fprintf(w, "    %s[\"%s<br/><i>%s</i>\"]\n", nodeID(i), mermaidEscape.Replace(c.Name), cardKind(c))
	}
	for _, line := range g.order {
		fmt.Fprintln(w, line)
	}
	if len(p.Cards) > 0 {
		fmt.Fprintf(w, "    start --> %s\n", nodeID(0))
	}
	for _, line := range g.lines {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "    classDef terminal fill:#eee,stroke:#888")
}

// choiceLabel is a choice's label in the default locale (else its value).
func choiceLabel(p *engine.Program, ch *engine.Choice) string {
	if ch.Label != nil {
		if t := ch.Label.ByLocale[p.Locale]; t != nil {
			if t.IsStatic {
				return t.Static
			}
			var b strings.Builder
			for _, part := range t.Parts {
				if part.Expr != nil {
					b.WriteString("{{ " + part.Expr.Src + " }}")
				} else {
					b.WriteString(part.Lit)
				}
			}
			return b.String()
		}
	}
	return ch.Value
}
