package server_test

import (
	"context"
	"github.com/playbook-dev/playbook/internal/servertest"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// resumes reports whether a resume with token is welcomed by ts (false:
// it is refused with an error frame), and the error code.
func resumes(t *testing.T, ts *testServer, token string) (bool, string) {
	t.Helper()
	c := dial(t, ts)
	defer c.conn.CloseNow()
	c.send(map[string]any{"type": "resume", "token": token})
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatal("connection closed before an answer to resume")
			}
			switch f["type"] {
			case "welcome":
				return true, ""
			case "error":
				code, _ := f["code"].(string)
				return false, code
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no answer to resume within 30s")
		}
	}
}

// forget deletes every key of the test's prefix: Redis lost its data
// (FLUSHALL, a failover to an empty replica), for this deployment only.
func forget(t *testing.T, rds *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	iter := rds.Client.Scan(ctx, 0, rds.Prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		if err := rds.Client.Del(ctx, iter.Val()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestTokenSecretSurvivesRedisLosingIt: two serve processes share the
// token secret through Redis (no --secret). Redis loses its data and one
// process restarts: the other still has the old secret in memory. Tokens
// each process hands out from then on must verify on the other, or a
// visitor moved by the load balancer loses the conversation (bad_token).
func TestTokenSecretSurvivesRedisLosingIt(t *testing.T) {
	rds := redistest.New(t)
	fast := func(c *servertest.Config) {
		c.RecoverAfter = time.Second // sweeps every 500ms
		c.ConnectsPerMinute = -1     // the test polls with new connections
	}
	a := startServer(t, rds, "../playbooks/bench", fast)
	b := startServer(t, rds, "../playbooks/bench", fast)
	forget(t, rds)
	b.stop()
	b = startServer(t, rds, "../playbooks/bench", fast)

	ca := dial(t, a)
	tokA, _ := ca.start("qualify")
	ca.bot("Hi! What brings you here?")
	cb := dial(t, b)
	tokB, _ := cb.start("qualify")
	cb.bot("Hi! What brings you here?")

	// The processes may take a sweep (500ms here, a few seconds by
	// default) to learn of each other's secret; until then a token may be
	// refused. 30 s only guards against a hang.
	for _, c := range []struct {
		name  string
		ts    *testServer
		token string
	}{{"A's token on B", b, tokA}, {"B's token on A", a, tokB}, {"A's token on A", a, tokA}, {"B's token on B", b, tokB}} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, code := resumes(t, c.ts, c.token)
			if ok {
				break
			}
			if code != "bad_token" || time.Now().After(deadline) {
				t.Fatalf("%s: refused with %q", c.name, code)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Both processes sign with the same secret again.
	ca2 := dial(t, a)
	tokA2, _ := ca2.start("qualify")
	if ok, code := resumes(t, b, tokA2); !ok {
		t.Fatalf("a token A made after the sweep is refused on B: %s", code)
	}
}
