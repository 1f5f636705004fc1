package redis

import (
	"strings"
	"testing"
)

// TestScriptsReadGlobalsOnce (issue 13, eleventh round): every script of
// the store (scripts: the turn script and all newScript's) makes the
// globals it uses (KEYS, ARGV, redis, the libraries) locals in its first
// line, and reads no global after it. A global read in Redis 7's Lua
// costs far more than a local's: callgrind counted about 5.5 k
// instructions less a turn once the turn script read each global once.
func TestScriptsReadGlobalsOnce(t *testing.T) {
	scripts.mu.Lock()
	all := scripts.src
	scripts.mu.Unlock()
	if len(all) < 30 {
		t.Fatalf("%d scripts found, want every script of the store", len(all))
	}
	for _, src := range all {
		lines := strings.Split(luaCode(src), "\n")
		first := strings.TrimSpace(lines[0])
		names, _, ok := strings.Cut(strings.TrimPrefix(first, "local "), " = ")
		if !strings.HasPrefix(first, "local ") || !ok {
			t.Errorf("a script's first line %q makes no globals locals:\n%s", first, src)
			continue
		}
		local := map[string]bool{}
		for _, n := range strings.Split(names, ",") {
			local[strings.TrimSpace(n)] = true
		}
		for i, l := range lines[1:] {
			for _, m := range luaGlobals.FindAllStringSubmatch(l, -1) {
				if !local[m[2]] {
					t.Errorf("line %d of a script reads the global %s: %q\n%s", i+2, m[2], strings.TrimSpace(l), src)
				}
			}
		}
	}
}
