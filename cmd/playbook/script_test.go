package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
		Setup: func(env *testscript.Env) error {
			// The serve scenarios share one Redis: the real one CI gives,
			// or an in-process miniredis that the serve processes reach
			// over loopback.
			url := os.Getenv("PLAYBOOK_REDIS_URL")
			if url == "" {
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
			env.Setenv("PREFIX", fmt.Sprintf("ts%d:", time.Now().UnixNano()))
			return nil
		},
	})
}
