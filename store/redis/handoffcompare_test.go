package redis

import (
	"strings"
	"testing"
)

// TestHandOffScriptSortsNothing (issue 13, twelfth round): the handOff
// script checks that the record is as the caller read it (a new-chat
// notice goes out in the step only then) without sorting the record's
// names and joining them with their values into a text: it walks the
// caller's joined fields against the record's table. The sort (Lua's
// table.sort, strcoll) and the join cost about 7.5 k of a handoff's
// ~267 k Redis instructions (callgrind, 200 bench-shaped handoffs).
// TestHandOffPublishesItsNoticeInItsStep checks what the walk decides.
func TestHandOffScriptSortsNothing(t *testing.T) {
	scripts.mu.Lock()
	all := scripts.src
	scripts.mu.Unlock()
	found := false
	for _, src := range all {
		if !strings.Contains(src, "'queued_at'") || !strings.Contains(src, "local rec = redis.call('HGETALL', KEYS[1])") {
			continue
		}
		found = true
		code := luaCode(src)
		if strings.Contains(code, "table.sort") {
			t.Error("the handOff script sorts the record's names")
		}
		if strings.Contains(code, "names[") {
			t.Error("the handOff script makes a table of the record's names")
		}
	}
	if !found {
		t.Fatal("no handOff script found")
	}
}
