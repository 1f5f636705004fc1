package redis

import (
	"regexp"
	"strings"
	"testing"
)

// TestTurnScriptReadsGlobalsOnce (issue 13, eleventh round): the turn
// script makes the globals it uses (KEYS, ARGV, redis, the libraries)
// locals in its first line, and reads no global after it. A global read
// in Redis 7's Lua costs far more than a local's: callgrind counted about
// 3 k instructions less a start once the script read each global once.
func TestTurnScriptReadsGlobalsOnce(t *testing.T) {
	// The script without its comments and string literals.
	code := regexp.MustCompile(`--[^\n]*|'[^'\n]*'|"[^"\n]*"`).ReplaceAllString(turnLua, "")
	lines := strings.Split(strings.TrimSpace(code), "\n")
	first := strings.TrimSpace(lines[0])
	names, _, ok := strings.Cut(strings.TrimPrefix(first, "local "), " = ")
	if !strings.HasPrefix(first, "local ") || !ok {
		t.Fatalf("the turn script's first line %q makes no globals locals", first)
	}
	local := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		local[strings.TrimSpace(n)] = true
	}
	global := regexp.MustCompile(`(^|[^.:\w])(KEYS|ARGV|redis|tonumber|tostring|string|table|unpack|ipairs|pairs|type|math|cjson|error|pcall|select|next|bit|struct|cmsgpack)\b`)
	for i, l := range lines[1:] {
		for _, m := range global.FindAllStringSubmatch(l, -1) {
			if !local[m[2]] {
				t.Errorf("line %d of the code reads the global %s: %q", i+2, m[2], strings.TrimSpace(l))
			}
		}
	}
}
