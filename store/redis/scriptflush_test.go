package redis_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
)

// TestTurnsAfterAScriptFlushGoByHashAgain: a node that lost its scripts
// (restarted, or a replica promoted) answers the next turn's EVALSHA
// with NOSCRIPT; the turn is sent whole once, and the turns after it go
// by hash again, not whole every turn.
func TestTurnsAfterAScriptFlushGoByHashAgain(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "SCRIPT FLUSH")
	st, rec := processStore(t, srv, 0)
	ctx := context.Background()
	id := "01JDQ4ZC8N8W2V3T5K7Y9A1B3D"
	if _, err := st.Create(ctx, benchSession(id), benchEntries("")[1:]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rec.take()
	const turns = 10
	for i := range turns {
		cid := "m" + strconv.Itoa(i)
		if _, err := st.Turn(ctx, id, cid, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			sess.Turn++
			return sess, benchEntries(cid), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Once; twice at most when another package's test flushes the
	// scripts of the Redis the tests share meanwhile.
	if n := evalsIn(rec.take()); n < 1 || n > 2 {
		t.Fatalf("%d turns after SCRIPT FLUSH sent the turn script whole %d times, want once (then by hash)", turns, n)
	}
}

// evalsIn is how many of cmds sent a script whole (EVAL).
func evalsIn(cmds []string) int {
	n := 0
	for _, c := range cmds {
		if c == "eval" {
			n++
		}
	}
	return n
}
