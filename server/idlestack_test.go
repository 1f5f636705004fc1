package server_test

import (
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/playbook-dev/playbook/internal/servertest"
)

// stackInUse is the bytes of goroutine stacks in use, after n forced
// collections (each halves a goroutine's stack that uses under a quarter
// of it).
func stackInUse(n int) int64 {
	for range n {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestIdleAfterChatKeepsASmallStack: a widget whose visitor chatted and
// then went quiet costs no more stack than one that only started. A turn
// (the engine's step, the store, JSON) grows the stack of the goroutine
// it runs on to 8 KB or more; the read loop an idle widget keeps waiting
// in Read must not be that goroutine, or 100,000 widgets that chatted
// would keep hundreds of MB of stacks until the collector shrinks them
// (one halving a cycle; an idle process forces one every 2 minutes).
//
// The count is the stack in use per connection, the same connections
// measured after the start and again after two turns each: the test's
// own client goroutines do the same before and after.
func TestIdleAfterChatKeepsASmallStack(t *testing.T) {
	const n = 200
	ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) { c.ConnectsPerMinute = -1 })
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = dial(t, ts)
		cs[i].start("qualify")
		cs[i].bot("Hi! What brings you here?")
	}
	started := stackInUse(2)
	for _, c := range cs {
		twoTurns(t, c)
	}
	chatted0 := stackInUse(0)
	chatted1 := stackInUse(1)
	chatted := stackInUse(1)
	t.Logf("stack a widget that chatted keeps (B, against the start): %+d at once, %+d after a collection, %+d after two",
		(chatted0-started)/n, (chatted1-started)/n, (chatted-started)/n)
	if per := (chatted - started) / n; per > 1024 {
		t.Fatalf("a widget that chatted keeps %d B more stack than one that only started (after two collections), want <= 1024", per)
	}
}
