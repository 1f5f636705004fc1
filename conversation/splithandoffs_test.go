package conversation

import (
	"testing"

	"github.com/playbook-dev/playbook/engine"
)

// Most turns hand nothing off: their effects are split without a copy.
func TestSplitHandoffsWithoutAHandoffAllocatesNothing(t *testing.T) {
	effs := []engine.Effect{{Kind: engine.EffectSay}, {Kind: engine.EffectSay}}
	if n := testing.AllocsPerRun(100, func() {
		if h, rest := splitHandoffs(effs); len(h) != 0 || len(rest) != 2 {
			t.Fatalf("split %v into %v and %v", effs, h, rest)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per split without a handoff, want 0", n)
	}
	h, rest := splitHandoffs([]engine.Effect{{Kind: engine.EffectSay}, {Kind: engine.EffectHandoff}, {Kind: engine.EffectSay}})
	if len(h) != 1 || h[0].Kind != engine.EffectHandoff || len(rest) != 2 || rest[0].Kind != engine.EffectSay || rest[1].Kind != engine.EffectSay {
		t.Fatalf("split into %v and %v", h, rest)
	}
}
