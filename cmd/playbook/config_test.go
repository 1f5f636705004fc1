package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseServe parses serve's flags as run does, with env as the
// environment, and returns the flag values by name.
func parseServe(t *testing.T, args []string, env map[string]string) (map[string]string, error) {
	t.Helper()
	fs, _ := newFlagSet(serveCommand)
	if _, err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := serveCommand.config.apply(fs, func(k string) string { return env[k] }, serveOption); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range []string{"addr", "redis", "prefix", "data", "secret", "admin-token", "idle-ttl", "retention", "fsync", "allowed-origins", "smtp"} {
		out[n] = fs.Lookup(n).Value.String()
	}
	return out, nil
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "playbook.yaml", "addr: 127.0.0.1:1001\nprefix: \"file:\"\ndata: /srv/file\nidle-ttl: 3h\nfsync: true\nallowed-origins: [a.example.com, b.example.com]\n")
	env := map[string]string{"PLAYBOOK_ADDR": "127.0.0.1:1002", "PLAYBOOK_PREFIX": "env:"}
	got, err := parseServe(t, []string{"--config", file, "--addr", "127.0.0.1:1003"}, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"addr":            "127.0.0.1:1003",              // flag > env > file
		"prefix":          "env:",                        // env > file
		"data":            "/srv/file",                   // file > default
		"idle-ttl":        "3h0m0s",                      // file, parsed as a duration
		"fsync":           "true",                        // file, a bool
		"allowed-origins": "a.example.com,b.example.com", // a YAML list joins with commas
		"retention":       "90d",                         // the default
		"redis":           "",                            // the default
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// PLAYBOOK_CONFIG names the file when --config does not.
	got, err = parseServe(t, nil, map[string]string{"PLAYBOOK_CONFIG": file})
	if err != nil {
		t.Fatal(err)
	}
	if got["addr"] != "127.0.0.1:1001" {
		t.Errorf("addr from PLAYBOOK_CONFIG's file = %q", got["addr"])
	}
}

func TestConfigEnv(t *testing.T) {
	got, err := parseServe(t, nil, map[string]string{"PLAYBOOK_IDLE_TTL": "90m", "PLAYBOOK_REDIS_URL": "redis://old:6379", "PLAYBOOK_ADMIN_TOKEN": "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if got["idle-ttl"] != "1h30m0s" || got["redis"] != "redis://old:6379" || got["admin-token"] != "tok" {
		t.Errorf("from the environment: %v", got)
	}
	// PLAYBOOK_REDIS wins over the older PLAYBOOK_REDIS_URL.
	got, err = parseServe(t, nil, map[string]string{"PLAYBOOK_REDIS": "redis://new:6379", "PLAYBOOK_REDIS_URL": "redis://old:6379"})
	if err != nil {
		t.Fatal(err)
	}
	if got["redis"] != "redis://new:6379" {
		t.Errorf("redis = %q, want PLAYBOOK_REDIS's", got["redis"])
	}
	_, err = parseServe(t, nil, map[string]string{"PLAYBOOK_IDLE_TTL": "soon"})
	if err == nil || !strings.Contains(err.Error(), "PLAYBOOK_IDLE_TTL: ") || exitCodeOf(err) != 2 {
		t.Errorf("a bad PLAYBOOK_IDLE_TTL: %v", err)
	}
}

func exitCodeOf(err error) int {
	if ec, ok := err.(exitCoder); ok {
		return ec.ExitCode()
	}
	return 1
}

func TestConfigSecretFiles(t *testing.T) {
	secret := writeFile(t, "secret", "s3cret-from-file\n")
	redisURL := writeFile(t, "redis", "redis://:pw@127.0.0.1:6379/0\r\n")
	smtp := writeFile(t, "smtp", "smtp://u:p@mail.example.com:587?from=a@example.com\n")
	file := writeFile(t, "playbook.yaml", "smtp-file: "+smtp+"\nsecret: from-yaml\n")
	got, err := parseServe(t, []string{"--secret-file", secret, "--config", file}, map[string]string{"PLAYBOOK_REDIS_FILE": redisURL})
	if err != nil {
		t.Fatal(err)
	}
	if got["secret"] != "s3cret-from-file" || got["redis"] != "redis://:pw@127.0.0.1:6379/0" || got["smtp"] != "smtp://u:p@mail.example.com:587?from=a@example.com" {
		t.Errorf("secrets from files: %v", got)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--secret", "x", "--secret-file", secret}, nil, "give --secret or --secret-file, not both"},
		{nil, map[string]string{"PLAYBOOK_SECRET": "x", "PLAYBOOK_SECRET_FILE": secret}, "set PLAYBOOK_SECRET or PLAYBOOK_SECRET_FILE, not both"},
		{[]string{"--secret-file", filepath.Join(t.TempDir(), "none")}, nil, "--secret-file: open "},
		{[]string{"--admin-token-file", writeFile(t, "empty", "\n")}, nil, "is empty"},
	} {
		_, err := parseServe(t, c.args, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCodeOf(err) != 2 {
			t.Errorf("%v %v: %v, want an error with %q", c.args, c.env, err, c.want)
		}
	}
	// The command line's secret wins over the environment's file.
	got, err = parseServe(t, []string{"--secret", "flag"}, map[string]string{"PLAYBOOK_SECRET_FILE": secret})
	if err != nil || got["secret"] != "flag" {
		t.Errorf("--secret over PLAYBOOK_SECRET_FILE: %v %v", got["secret"], err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"addr: 127.0.0.1:1\nidle_ttl: 1h\n", ":2:1: error: unknown option \"idle_ttl\"; did you mean \"idle-ttl\"?"},
		{"colour: blue\n", ":1:1: error: unknown option \"colour\"; run \"playbook help serve\" for the options"},
		{"idle-ttl: soon\n", ":1:11: error: idle-ttl: \"soon\" is not a duration such as 90s, 30m or 12h"},
		{"fsync: maybe\n", ":1:8: error: fsync: \"maybe\" is not true or false"},
		{"connects-per-minute: many\n", ":1:22: error: connects-per-minute: \"many\" is not a whole number"},
		{"retention: 10m\n", ":1:12: error: retention: \"10m\" is less than an hour"},
		{"- addr\n", ":1:1: error: the config file is a mapping"},
		{"addr: {a: 1}\n", ":1:7: error: addr: the value is"},
		{"prefix: a\nprefix: b\n", ":2:1: error: prefix is set twice (first at line 1)"},
		{"secret: a\nsecret-file: /x\n", ":2:1: error: set secret or secret-file, not both"},
		{"config: other.yaml\n", ":1:1: error: a config file cannot name another one"},
		{"addr: [\n", ":2:1: error: YAML syntax: "},
	} {
		file := writeFile(t, "playbook.yaml", c.text)
		_, err := parseServe(t, []string{"--config", file}, nil)
		if err == nil || !strings.Contains(err.Error(), file+c.want) || exitCodeOf(err) != 2 {
			t.Errorf("%q: %v, want %q", c.text, err, file+c.want)
		}
	}
	// An empty file is no option.
	if _, err := parseServe(t, []string{"--config", writeFile(t, "empty.yaml", "")}, nil); err != nil {
		t.Errorf("an empty config file: %v", err)
	}
}

// The admin commands read --redis, --prefix and --data from the same
// environment and file as serve, skip serve's other options, and take
// nothing else from the environment.
func TestConfigAdminCommands(t *testing.T) {
	file := writeFile(t, "playbook.yaml", "addr: 127.0.0.1:1001\nsecret: s\nprefix: \"file:\"\ndata: /srv/pb\n")
	fs, _ := newFlagSet(webhooksCommand)
	if _, err := parseFlags(fs, []string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PLAYBOOK_REDIS": "redis://127.0.0.1:1", "PLAYBOOK_SECRET": "token-secret", "PLAYBOOK_URL": "http://x"}
	if err := webhooksCommand.config.apply(fs, func(k string) string { return env[k] }, serveOption); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"redis": "redis://127.0.0.1:1", "prefix": "file:", "data": "/srv/pb", "secret": "", "url": ""} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("webhooks --%s = %q, want %q", name, got, want)
		}
	}
	bad := writeFile(t, "playbook.yaml", "prefx: a\n")
	fs, _ = newFlagSet(agentsCommand)
	if _, err := parseFlags(fs, []string{"--config", bad}); err != nil {
		t.Fatal(err)
	}
	if err := agentsCommand.config.apply(fs, func(string) string { return "" }, serveOption); err == nil || !strings.Contains(err.Error(), bad+":1:1: error: unknown option \"prefx\"") {
		t.Errorf("agents, unknown key: %v", err)
	}
}
