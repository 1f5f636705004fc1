package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the testscript files' expected output (cmp with a file in the archive)")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"playbook": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// TestScript runs the scenarios in testdata/script: each .txtar file holds
// its own small playbooks and the commands to run against them.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Cmds:          serveCmds,
		Condition: func(cond string) (bool, error) {
			if cond != "cluster" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if os.Getenv("PLAYBOOK_REDIS_CLUSTER") == "" && os.Getenv("CI") == "true" {
				return false, fmt.Errorf("CI=true but PLAYBOOK_REDIS_CLUSTER is not set: the Redis Cluster scenarios must run in CI")
			}
			return os.Getenv("PLAYBOOK_REDIS_CLUSTER") != "", nil
		},
		Setup: func(env *testscript.Env) error {
			// The serve scenarios share one Redis: the real one CI gives,
			// or an in-process miniredis that the serve processes reach
			// over loopback.
			// Under -short the scenarios that need it skip ([short] skip).
			url := os.Getenv("PLAYBOOK_REDIS_URL")
			if url == "" && !testing.Short() {
				if os.Getenv("CI") == "true" {
					return fmt.Errorf("CI=true but PLAYBOOK_REDIS_URL is not set")
				}
				m := miniredis.NewMiniRedis()
				if err := m.StartAddr("127.0.0.1:0"); err != nil {
					return err
				}
				env.Defer(m.Close)
				url = "redis://" + m.Addr()
			}
			env.Setenv("REDIS", url)
			// A real Redis Cluster when scripts/test started one
			// ([cluster] scenarios skip without it, fail under CI).
			env.Setenv("CLUSTER", os.Getenv("PLAYBOOK_REDIS_CLUSTER"))
			seed, _, _ := strings.Cut(os.Getenv("PLAYBOOK_REDIS_CLUSTER"), ",")
			env.Setenv("SEED", seed)
			env.Setenv("PREFIX", fmt.Sprintf("ts%d:", time.Now().UnixNano()))
			return nil
		},
	})
}
