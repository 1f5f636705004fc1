package redis

import (
	"regexp"
	"strings"
	"testing"
)

// numberArgs returns the arguments of the redis.call and redis.pcall calls
// in a Lua script's src that are Lua numbers: a number literal (0, -1) or
// a tonumber(...) given as it is, not a string ('0', ARGV[2]).
func numberArgs(src string) []string {
	var found []string
	literal := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	for _, open := range []string{"redis.call(", "redis.pcall("} {
		for rest := src; ; {
			i := strings.Index(rest, open)
			if i < 0 {
				break
			}
			rest = rest[i+len(open):]
			// The top-level arguments, up to the closing parenthesis.
			depth, start, call := 0, 0, ""
			var args []string
		scan:
			for j, c := range rest {
				switch c {
				case '(', '{':
					depth++
				case ')', '}':
					if depth == 0 {
						args = append(args, strings.TrimSpace(rest[start:j]))
						call = open + rest[:j+1]
						break scan
					}
					depth--
				case ',':
					if depth == 0 {
						args = append(args, strings.TrimSpace(rest[start:j]))
						start = j + 1
					}
				}
			}
			for _, a := range args {
				if literal.MatchString(a) || strings.HasPrefix(a, "tonumber(") {
					found = append(found, call)
					break
				}
			}
		}
	}
	return found
}

// leftWithNumbers are the calls that keep a number: foldLua's HINCRBY by
// 1 (the fold by names, not the turn script's counted fold).
var leftWithNumbers = []string{
	`redis.call('HINCRBY', counters, ARGV[i + 1], 1)`,
	`redis.call('HINCRBY', counters, ARGV[i + 4] .. '|' .. b, 1)`,
}

// TestScriptsPassNoNumbers: Redis 7.0 turns a Lua number given to
// redis.call into the command's argument with snprintf("%.17g"), about
// 2,100 instructions each under callgrind (a script's HINCRBY by 1 costs
// 7,600, by '1' 5,500), where a string goes as it is. GETRANGE 0 20 and
// LINDEX -1 were in every turn, LRANGE 0 -1 in every handoff's queue step,
// LIMIT 0 N in every claim of timers and pending marks (docs/benchmarks.md,
// "Redis after the turn").
func TestScriptsPassNoNumbers(t *testing.T) {
	scripts.mu.Lock()
	src := scripts.src
	scripts.mu.Unlock()
	if n := len(numberArgs(`redis.call('GET', KEYS[1]) redis.pcall('GETRANGE', KEYS[1], 0, string.sub(x, 1, 2)) redis.call('SET', k, tonumber(ARGV[1]))`)); n != 2 {
		t.Fatalf("numberArgs found %d calls with numbers in the sample, want 2", n)
	}
	for _, s := range src {
	calls:
		for _, call := range numberArgs(s) {
			for _, left := range leftWithNumbers {
				if call == left {
					continue calls
				}
			}
			t.Errorf("a Lua number given to Redis (converted by snprintf at each call; give a string): %s", call)
		}
	}
}
