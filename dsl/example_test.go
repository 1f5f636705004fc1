package dsl_test

import (
	"fmt"
	"os"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
)

func ExampleLoad() {
	src := []byte(`playbook: hello
vars:
  name: {type: string}
cards:
  ask-name:
    ask: What's your name?
    save: name
  greet:
    say: "Nice to meet you, {{ name }}!"
    end: greeted
`)
	prog, diags := dsl.Load("hello.yaml", src)
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	fmt.Println(prog.ID, len(prog.Cards), "cards, starts at", prog.Cards[0].Name)
	// Output: hello 2 cards, starts at ask-name
}

func ExampleLoad_diagnostics() {
	src := []byte(`playbook: hello
vars:
  budget: {type: number}
cards:
  ask-budget:
    ask: Budget?
    input: number
    save: budget
    branch:
      - {if: budget > "many", goto: ask-budget}
`)
	_, diags := dsl.Load("hello.yaml", src)
	source.Render(os.Stdout, source.Files{"hello.yaml": src}, diags)
	// Output:
	// hello.yaml:10:21: error: in expression: invalid operation: > (mismatched types number and string)
	//    10 |       - {if: budget > "many", goto: ask-budget}
	//       |                     ^
}
