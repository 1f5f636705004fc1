package dsl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v4"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(Schema())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("playbook.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("playbook.json")
	if err != nil {
		t.Fatalf("the schema is not a valid JSON Schema: %v", err)
	}
	return s
}

// yamlDoc decodes a playbook the way a YAML editor hands it to a schema.
func yamlDoc(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every example playbook, which the compiler accepts, passes the schema; a
// typo in a card key, which the compiler rejects, fails it.
func TestSchemaAcceptsWhatTheCompilerAccepts(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("../playbooks/*/*.yaml")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".test.yaml") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if p, diags := Load(f, src, WithResolver(func(string) (string, []byte, bool) { return "", nil, false })); p == nil && !strings.Contains(diags.Error(), "include") {
			continue // not a playbook the compiler accepts on its own
		}
		n++
		if err := s.Validate(yamlDoc(t, src)); err != nil {
			t.Errorf("%s: the compiler accepts it but the schema does not: %v", f, err)
		}
	}
	if n < 4 {
		t.Fatalf("only %d example playbooks checked", n)
	}
	bad := []byte("playbook: x\ncards:\n  a:\n    sya: hi\n")
	if _, diags := Load("bad.yaml", bad); !diags.HasErrors() {
		t.Fatal("the compiler accepts a typo")
	}
	if err := s.Validate(yamlDoc(t, bad)); err == nil {
		t.Error("the schema accepts `sya:` in a card")
	}
}

// A key added to the compiler's tables shows in the schema with no change
// to the schema code.
func TestSchemaFollowsTheTables(t *testing.T) {
	saved := slices.Clone(cardKeys)
	savedCh := slices.Clone(choiceKeys)
	defer func() { cardKeys, choiceKeys = saved, savedCh }()
	cardKeys = append(cardKeys, "brand_new_key")
	choiceKeys = append(choiceKeys, "emoji")
	b, _ := json.Marshal(Schema())
	var got struct {
		Definitions struct {
			Card struct {
				Properties map[string]any `json:"properties"`
			} `json:"card"`
			Choice struct {
				AnyOf []struct {
					Properties map[string]any `json:"properties"`
				} `json:"anyOf"`
			} `json:"choice"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Definitions.Card.Properties["brand_new_key"]; !ok {
		t.Error("a new card key is missing from the schema")
	}
	if _, ok := got.Definitions.Card.Properties["say"]; !ok {
		t.Error("say is missing from the schema")
	}
	if _, ok := got.Definitions.Choice.AnyOf[1].Properties["emoji"]; !ok {
		t.Error("a new choice key is missing from the schema")
	}
	// and a document using it validates
	s := compileSchema(t)
	doc := yamlDoc(t, []byte("playbook: x\ncards:\n  a:\n    say: hi\n    brand_new_key: 1\n"))
	if err := s.Validate(doc); err != nil {
		t.Errorf("the new key does not validate: %v", err)
	}
}
