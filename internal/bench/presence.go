package bench

import (
	"context"
	"strconv"
	"strings"

	"github.com/playbook-dev/playbook/engine"
)

// SimulatedPresence is the bench's world of agents (a server.Presence):
// BENCH.md has agents online for even conversation numbers and offline for
// odd ones. It reads the number from the visitor id the bench starts each
// conversation with ("bench-N"): every team asked has one agent online when
// N is even, nobody when it is odd or the visitor is not a bench visitor.
//
// It is a benchmark aid, used only with `playbook serve --simulate-presence
// bench`; it touches no store.
type SimulatedPresence struct{}

// Online implements server.Presence.
func (SimulatedPresence) Online(_ context.Context, sess *engine.Session, teams []string) (map[string]int, error) {
	out := make(map[string]int, len(teams))
	n, ok := benchNumber(sess)
	for _, t := range teams {
		if ok && n%2 == 0 {
			out[t] = 1
		} else {
			out[t] = 0
		}
	}
	return out, nil
}

func benchNumber(sess *engine.Session) (int, bool) {
	if sess == nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(sess.Visitor.ID, "bench-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
