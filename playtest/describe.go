package playtest

import (
	"fmt"
	"strings"

	"github.com/playbook-dev/playbook/engine"
)

// Describe returns a one-line description of an effect that is not a bot
// message, as `playbook chat` and `playbook test -v` show it: "handoff to
// sales (wait 2m)", "would create lead {title: ...}". It returns "" for
// say and wait effects, which are shown as messages.
func Describe(e engine.Effect) string {
	switch e.Kind {
	case engine.EffectHandoff:
		if e.Handoff == nil {
			return "handoff"
		}
		s := "handoff to " + e.Handoff.Team
		var extra []string
		if e.Handoff.Wait > 0 {
			extra = append(extra, "wait "+FormatDuration(e.Handoff.Wait))
		}
		if e.Handoff.Priority != "" {
			extra = append(extra, "priority "+e.Handoff.Priority)
		}
		if len(extra) > 0 {
			s += " (" + strings.Join(extra, ", ") + ")"
		}
		return s
	case engine.EffectVariant:
		if e.Variant == nil {
			return "variant"
		}
		return "variant " + e.Variant.Variant + " of experiment " + e.Variant.Experiment
	case engine.EffectAway:
		if e.Handoff == nil {
			return "team away: offline path"
		}
		return "team " + e.Handoff.Team + " is away: offline path"
	case engine.EffectCreate:
		if e.Record == nil {
			return "would create a record"
		}
		return fmt.Sprintf("would create %s %s", e.Record.Kind, Format(e.Record.Fields))
	case engine.EffectCall:
		if e.Call == nil {
			return "call"
		}
		s := fmt.Sprintf("call %s %s", strings.ToUpper(e.Call.Method), e.Call.URL)
		if len(e.Call.Body) > 0 {
			s += " " + Format(e.Call.Body)
		}
		return s
	case engine.EffectTimer:
		if e.Timer == nil {
			return "timer set"
		}
		return "timer set for " + e.Timer.At.UTC().Format("15:04:05")
	case engine.EffectCancel:
		return "timer cancelled"
	case engine.EffectEnd:
		if e.Outcome == "" {
			return "end"
		}
		return "end: " + e.Outcome
	case engine.EffectError:
		if e.Error == nil {
			return "runtime error"
		}
		return "runtime error in card " + e.Error.Card + " (" + e.Error.Pos.String() + "): " + e.Error.Msg
	}
	return ""
}

// DescribeResult returns a one-line description of a dry-run call answer:
// "→ 200 {plan: \"pro\"}" or "→ error: ...".
func DescribeResult(r *engine.CallResult) string {
	if r == nil {
		return "→ no answer"
	}
	if r.Error != "" {
		return "→ error: " + r.Error
	}
	s := fmt.Sprintf("→ %d", r.Status)
	if r.Body != nil {
		s += " " + Format(r.Body)
	}
	return s
}
