package engine

import "strconv"

// EdgeKind names a way out of a card, for edge coverage.
type EdgeKind string

// Edge kinds. Index tells the choices, intents and branch arms apart.
const (
	EdgeChoice    EdgeKind = "choice"    // the visitor picked choice Index
	EdgeOther     EdgeKind = "other"     // free text matched no choice and went to `other`
	EdgeIntent    EdgeKind = "intent"    // the message meant intent Index
	EdgeFallback  EdgeKind = "fallback"  // no intent was sure enough: the fallback card
	EdgeSkip      EdgeKind = "skip"      // skip_if was true
	EdgeRetry     EdgeKind = "retry"     // the last allowed invalid answer (retry.max)
	EdgeBranch    EdgeKind = "branch"    // branch arm Index was taken
	EdgeNoBranch  EdgeKind = "no-branch" // no arm held: the card below (or goto) ran
	EdgeHandoff   EdgeKind = "handoff"   // the chat was queued for an agent
	EdgeOffline   EdgeKind = "offline"   // nobody was online or accepted in time
	EdgeCallOK    EdgeKind = "call-ok"   // the call answered 2xx and fit the vars
	EdgeCallError EdgeKind = "call-error"
	EdgeVariant   EdgeKind = "variant" // the session went into variant Index of the card's experiment
)

// Edge is one way out of card Card (an index of Program.Cards).
type Edge struct {
	Card  int
	Kind  EdgeKind
	Index int // choice, intent or branch arm; 0 otherwise
}

// String names the edge for people: "choice 2", "retry".
func (e Edge) String() string {
	switch e.Kind {
	case EdgeChoice, EdgeIntent, EdgeBranch, EdgeVariant:
		return string(e.Kind) + " " + strconv.Itoa(e.Index+1)
	}
	return string(e.Kind)
}

// Edges lists every way out of every card that a conversation can take and
// that a test should go through: each choice, intent and branch arm, the
// `other` and fallback of free text, a skip_if, retry exhaustion, a handoff
// taken and its offline path, a call that works and one that fails, each
// variant of an experiment. The
// plain way on from a card without any of these is not listed (entering
// the card covers it).
func (p *Program) Edges() []Edge {
	var out []Edge
	for i, c := range p.Cards {
		add := func(k EdgeKind, n int) { out = append(out, Edge{Card: i, Kind: k, Index: n}) }
		if a := c.Ask; a != nil {
			if a.SkipIf != nil {
				add(EdgeSkip, 0)
			}
			for n := range a.Choices {
				add(EdgeChoice, n)
			}
			if a.Other != nil {
				add(EdgeOther, 0)
			}
			for n := range a.Intents {
				add(EdgeIntent, n)
			}
			if len(a.Intents) > 0 && a.Fallback >= 0 {
				add(EdgeFallback, 0)
			}
			if a.Retry.Max > 0 {
				add(EdgeRetry, 0)
			}
		}
		if c.Call != nil {
			add(EdgeCallOK, 0)
			add(EdgeCallError, 0)
		}
		if c.Handoff != nil {
			add(EdgeHandoff, 0)
			add(EdgeOffline, 0)
		}
		if x := c.Experiment; x != nil && !c.HasEnd {
			for n := range x.Variants {
				add(EdgeVariant, n)
			}
		}
		if c.HasEnd || len(c.Branch) == 0 {
			continue
		}
		for n := range c.Branch {
			add(EdgeBranch, n)
		}
		if last := c.Branch[len(c.Branch)-1]; last.If != nil {
			add(EdgeNoBranch, 0)
		}
	}
	return out
}

// Trace receives what a Step goes through; either func may be nil.
type Trace struct {
	Card func(card int) // every card entered, in order
	Edge func(e Edge)   // every edge of [Program.Edges] taken
}

// StepTraced is [Step] that reports the cards entered and the edges taken
// to t, for coverage.
func StepTraced(p *Program, s *Session, ev Event, t *Trace) (*Session, []Effect) {
	return step(p, s, ev, t)
}

func (r *runner) edge(c *Card, k EdgeKind, n int) {
	if r.trace != nil && r.trace.Edge != nil && c != nil {
		r.trace.Edge(Edge{Card: c.Index, Kind: k, Index: n})
	}
}
