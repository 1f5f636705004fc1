package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// configSpec says which flags of a command may also come from the
// environment and from a config file (--config playbook.yaml), and which
// of them are secrets: a secret may also be read from a file, named by the
// flag NAME-file, the variable PLAYBOOK_NAME_FILE or the key NAME-file, so
// that it never needs to be on the command line, where ps shows it.
//
// Precedence, per flag: the command line, then the environment, then the
// config file, then the flag's default.
type configSpec struct {
	flags   []string // nil: every flag of the command
	secrets []string
	// aliases are older environment variable names still read, after
	// the PLAYBOOK_NAME one: flag name -> variable.
	aliases map[string]string
}

// storeConfig is the configuration of the admin commands that open the
// store (agents, webhooks): they read the same variables and file as serve
// for --redis, --prefix and --data.
var storeConfig = &configSpec{
	flags:   []string{"redis", "prefix", "data"},
	secrets: []string{"redis"},
	aliases: map[string]string{"redis": "PLAYBOOK_REDIS_URL"},
}

// envName is the environment variable of a flag: PLAYBOOK_ and the name in
// upper case with - as _ (idle-ttl: PLAYBOOK_IDLE_TTL).
func envName(flagName string) string {
	return "PLAYBOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *configSpec) configurable(fs *flag.FlagSet, name string) bool {
	if name == "config" || fs.Lookup(name) == nil {
		return false
	}
	if s.flags == nil {
		return !s.isSecretFile(name)
	}
	for _, f := range s.flags {
		if f == name {
			return true
		}
	}
	return false
}

func (s *configSpec) isSecret(name string) bool {
	for _, f := range s.secrets {
		if f == name {
			return true
		}
	}
	return false
}

func (s *configSpec) isSecretFile(name string) bool {
	base, ok := strings.CutSuffix(name, "-file")
	return ok && s.isSecret(base)
}

// addFlags declares --config and the NAME-file flag of each secret.
func (s *configSpec) addFlags(fs *flag.FlagSet) {
	fs.String("config", "", "read options from this YAML `FILE` (keys are the option names, such as addr: 0.0.0.0:8080); the command line and the environment win over it (also PLAYBOOK_CONFIG)")
	for _, name := range s.secrets {
		if fs.Lookup(name) != nil {
			fs.String(name+"-file", "", fmt.Sprintf("read --%s from this `FILE` (its first line; also %s_FILE), to keep it off the command line", name, envName(name)))
		}
	}
}

// helpText says how the options may also be given, for playbook help.
func (s *configSpec) helpText(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("\nEnvironment and config file:\n")
	if s.flags == nil {
		b.WriteString("  Every option may also come from an environment variable, PLAYBOOK_ and\n  its name in upper case with - as _ (PLAYBOOK_ADDR, PLAYBOOK_IDLE_TTL),\n")
	} else {
		b.WriteString("  These options may also come from an environment variable:\n")
		for _, f := range s.flags {
			if fs.Lookup(f) != nil {
				fmt.Fprintf(&b, "    --%-8s %s\n", f, envName(f))
			}
		}
	}
	b.WriteString("  or from the YAML file named by --config (or PLAYBOOK_CONFIG), with the\n  option names as keys; one file may serve playbook serve and the admin\n  commands. The command line wins over the environment, which wins over\n  the file, which wins over the default.\n")
	for _, name := range s.secrets {
		if fs.Lookup(name) == nil {
			continue
		}
		if s.flags == nil {
			b.WriteString("  Secrets (--redis with a password, --secret, --admin-token, --smtp,\n  --metrics-token) need never be on the command line, where other\n  users of the machine see them: set PLAYBOOK_SECRET, or write the\n  secret in a file and name the file with --secret-file,\n  PLAYBOOK_SECRET_FILE or secret-file: in the config file (the same\n  -file and _FILE for each secret).\n")
		} else {
			b.WriteString("  A --redis URL with a password need not be on the command line, where\n  other users of the machine see it: set PLAYBOOK_REDIS, or write it in a\n  file and name the file with --redis-file, PLAYBOOK_REDIS_FILE or\n  redis-file: in the config file.\n")
		}
		break
	}
	return b.String()
}

// configError is a problem in the config file, at a line and column.
func configError(file string, n *yaml.Node, format string, args ...any) error {
	return usageError("%s:%d:%d: error: %s", file, n.Line, n.Column, fmt.Sprintf(format, args...))
}

// apply fills the flags that the command line did not set from the
// environment (getenv) and then from the config file. known reports
// whether a key names an option of another command that reads the same
// file (serve's options, for the admin commands): such keys are skipped,
// any other unknown key is an error.
func (s *configSpec) apply(fs *flag.FlagSet, getenv func(string) string, known func(string) bool) error {
	done := map[string]bool{} // flags (secrets: their base name) already set
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil || f.Name == "config" {
			return
		}
		base := strings.TrimSuffix(f.Name, "-file")
		if !s.isSecretFile(f.Name) {
			base = f.Name
		}
		if done[base] {
			err = usageError("give --%s or --%s-file, not both", base, base)
			return
		}
		done[base] = true
		if base != f.Name {
			err = s.setFromFile(fs, base, f.Value.String(), "--"+f.Name)
		}
	})
	if err != nil {
		return err
	}

	// The environment.
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	for _, name := range names {
		if done[name] || !s.configurable(fs, name) {
			continue
		}
		v, ok := lookup(getenv, envName(name))
		if !ok && s.aliases[name] != "" {
			v, ok = lookup(getenv, s.aliases[name])
		}
		if s.isSecret(name) {
			if file, fok := lookup(getenv, envName(name)+"_FILE"); fok {
				if ok {
					return usageError("set %s or %s_FILE, not both", envName(name), envName(name))
				}
				if err := s.setFromFile(fs, name, file, envName(name)+"_FILE"); err != nil {
					return err
				}
				done[name] = true
				continue
			}
		}
		if !ok {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return usageError("%s: %v", envName(name), badValue(fs, name, v, err))
		}
		done[name] = true
	}

	// The config file.
	file := ""
	if f := fs.Lookup("config"); f != nil {
		file = f.Value.String()
	}
	if file == "" {
		file = getenv("PLAYBOOK_CONFIG")
	}
	if file == "" {
		return nil
	}
	data, rerr := os.ReadFile(file)
	if rerr != nil {
		return usageError("--config: %v", rerr)
	}
	return s.applyFile(fs, file, data, done, known)
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// applyFile sets the flags not done yet from a YAML mapping of option
// names to values. A list value is joined with commas.
func (s *configSpec) applyFile(fs *flag.FlagSet, file string, data []byte, done map[string]bool, known func(string) bool) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		var le *yaml.LoadError
		if errors.As(err, &le) && le.Mark.Line > 0 {
			return usageError("%s:%d:%d: error: YAML syntax: %s", file, le.Mark.Line, max(le.Mark.Column, 1), le.Message)
		}
		return usageError("%s:1:1: error: YAML syntax: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return configError(file, root, "the config file is a mapping of option names to values, such as addr: 0.0.0.0:8080")
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := k.Value
		if prev := seen[name]; prev != nil {
			return configError(file, k, "%s is set twice (first at line %d)", name, prev.Line)
		}
		seen[name] = k
		secretFile := s.isSecretFile(name) && fs.Lookup(strings.TrimSuffix(name, "-file")) != nil
		base := name
		if secretFile {
			base = strings.TrimSuffix(name, "-file")
		}
		if name == "config" {
			return configError(file, k, "a config file cannot name another one")
		}
		if !secretFile && !s.configurable(fs, name) {
			if known != nil && known(name) {
				// An option of serve, which shares the file (a
				// webhook's --secret is not serve's --secret).
				continue
			}
			if fs.Lookup(name) != nil {
				return configError(file, k, "--%s of this command is not read from the config file; give it on the command line", name)
			}
			return configError(file, k, "unknown option %q%s", name, suggestOption(fs, name, known))
		}
		value, err := scalarValue(v)
		if err != nil {
			return configError(file, v, "%s: %v", name, err)
		}
		if secretFile {
			if other := seen[base]; other != nil {
				return configError(file, k, "set %s or %s, not both", base, name)
			}
		} else if s.isSecret(name) && seen[name+"-file"] != nil {
			return configError(file, k, "set %s or %s-file, not both", name, name)
		}
		if done[base] {
			continue // the command line or the environment set it
		}
		if secretFile {
			if err := s.setFromFile(fs, base, value, fmt.Sprintf("%s:%d:%d: %s", file, v.Line, v.Column, name)); err != nil {
				return err
			}
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return configError(file, v, "%s: %v", name, badValue(fs, name, value, err))
		}
	}
	return nil
}

// scalarValue is the text of a scalar, or the comma-joined texts of a list
// of scalars.
func scalarValue(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		var parts []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", errors.New("a list holds plain values only")
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ","), nil
	case yaml.AliasNode:
		return scalarValue(n.Alias)
	}
	return "", errors.New("the value is a text, a number, true or false, or a list of them")
}

// setFromFile sets flag name to the first line of the file at path (a
// secret kept out of the command line); where names what named the file.
func (s *configSpec) setFromFile(fs *flag.FlagSet, name, path, where string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("%s: %v", where, err)
	}
	v, _, _ := strings.Cut(string(data), "\n")
	v = strings.TrimRight(v, "\r")
	if v == "" {
		return usageError("%s: %s is empty", where, path)
	}
	if err := fs.Set(name, v); err != nil {
		// Not the value: it is a secret.
		return usageError("%s: the value in %s is not valid for --%s", where, path, name)
	}
	return nil
}

// badValue explains why value is not one of flag name's: the flag
// package's own parse errors say only "parse error".
func badValue(fs *flag.FlagSet, name, value string, err error) error {
	if u := errors.Unwrap(err); u != nil {
		err = u
	}
	if msg := err.Error(); msg != "parse error" && msg != "value out of range" {
		return err
	}
	kind, _ := flag.UnquoteUsage(fs.Lookup(name))
	if b, ok := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		kind = "bool"
	}
	want := map[string]string{
		"duration": "a duration such as 90s, 30m or 12h",
		"int":      "a whole number",
		"uint":     "a whole number",
		"float":    "a number",
		"bool":     "true or false",
	}[kind]
	if want == "" {
		return fmt.Errorf("%q is not valid: %v", value, err)
	}
	return fmt.Errorf("%q is not %s", value, want)
}

// suggestOption names the closest option, for a misspelt key.
func suggestOption(fs *flag.FlagSet, name string, known func(string) bool) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return "; run \"playbook help serve\" for the options"
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// serveConfig is the configuration of playbook serve: every flag.
var serveConfig = &configSpec{
	secrets: []string{"redis", "secret", "admin-token", "smtp", "metrics-token", "s3-secret-key"},
	aliases: map[string]string{"redis": "PLAYBOOK_REDIS_URL", "s3-access-key": "AWS_ACCESS_KEY_ID", "s3-secret-key": "AWS_SECRET_ACCESS_KEY"},
}
