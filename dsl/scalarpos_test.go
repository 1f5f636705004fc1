package dsl

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
)

func TestValuePos(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// find is a substring of the decoded value; want is where its first
		// rune stands in the file.
		find string
		want source.Pos
	}{
		{"plain", "x: budget > \"many\"\n", ">", source.Pos{Line: 1, Column: 11}},
		{"single quoted", "x: 'it''s budget > 1'\n", "budget", source.Pos{Line: 1, Column: 11}},
		{"double quoted", "x: \"a \\\"q\\\" budget\"\n", "budget", source.Pos{Line: 1, Column: 13}},
		{"double quoted escape n", "x: \"a\\nb budget\"\n", "budget", source.Pos{Line: 1, Column: 10}},
		{"literal block", "x: |\n  first line\n  second budget\n", "budget", source.Pos{Line: 3, Column: 10}},
		{"folded block", "x: >-\n  first\n  second budget\n", "budget", source.Pos{Line: 3, Column: 10}},
		{"plain multi-line", "x: first\n  second budget\n", "budget", source.Pos{Line: 2, Column: 10}},
		{"unicode before", "x: \"héllo {{ bad }}\"\n", "bad", source.Pos{Line: 1, Column: 14}},
		{"nested", "cards:\n  a:\n    if: score >= 2\n", "2", source.Pos{Line: 3, Column: 18}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
				t.Fatal(err)
			}
			n := lastScalar(&doc)
			off := strings.Index(n.Value, tt.find)
			if off < 0 {
				t.Fatalf("%q not in value %q", tt.find, n.Value)
			}
			runeOff := len([]rune(n.Value[:off]))
			got := newLineIndex([]byte(tt.src)).valuePos(n, runeOff)
			if got != tt.want {
				t.Errorf("valuePos = %d:%d, want %d:%d", got.Line, got.Column, tt.want.Line, tt.want.Column)
			}
		})
	}
}

func lastScalar(n *yaml.Node) *yaml.Node {
	if len(n.Content) == 0 {
		return n
	}
	return lastScalar(n.Content[len(n.Content)-1])
}
