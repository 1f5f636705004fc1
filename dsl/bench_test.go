package dsl_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// generated returns a playbook of n cards mixing every common kind: a
// question with validation, a choice card, a set with a branch, a template
// say and a create, chained so that every card is reachable.
func generated(n int) []byte {
	var b strings.Builder
	b.WriteString("playbook: big\nvars:\n  email: {type: email}\n  budget: {type: number}\n  size: {type: string}\n  score: {type: int, default: 0}\ncards:\n")
	for i := 0; i < n; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "  c%d:\n    ask: What's your email? (%d)\n    input: email\n    save: email\n    retry: {max: 3, say: \"Hmm, {{ email ?? 'that' }} is not an email\"}\n", i, i)
		case 1:
			fmt.Fprintf(&b, "  c%d:\n    say: Pick a size\n    choices: [\"1-10\", \"11-50\", {label: \"51+\", value: big}]\n    save: size\n", i)
		case 2:
			fmt.Fprintf(&b, "  c%d:\n    ask: Budget?\n    input: number\n    save: budget\n    validate: {if: budget > 0, say: Above zero please}\n", i)
		case 3:
			fmt.Fprintf(&b, "  c%d:\n    set: {score: '(size in [\"big\"] ? 2 : 0) + (budget >= 1000 ? 1 : 0)'}\n    branch:\n      - {if: score >= 2, goto: c%d}\n      - {goto: c%d}\n", i, i+1, i+1)
		case 4:
			fmt.Fprintf(&b, "  c%d:\n    say: \"Thanks {{ email }}, score {{ score }}\"\n    create: {task: {subject: \"Call {{ email }}\", due: now() + duration(\"24h\")}}\n", i)
		}
	}
	b.WriteString("  done:\n    end: finished\n")
	return []byte(b.String())
}

func TestGeneratedCompiles(t *testing.T) {
	prog, diags := dsl.Load("big.yaml", generated(1000))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := len(prog.Cards); got != 1001 {
		t.Fatalf("cards = %d, want 1001", got)
	}
}

// BenchmarkLoad1000 compiles a generated 1,000-card playbook: YAML decode,
// checks, ~1,400 expressions and templates, and the flow analysis.
func BenchmarkLoad1000(b *testing.B) {
	src := generated(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := dsl.Load("big.yaml", src); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
