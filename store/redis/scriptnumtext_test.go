package redis

import (
	"regexp"
	"strings"
	"testing"
)

// TestTurnScriptFormatsNoNumbers (issue 13, twelfth round): the turn
// script makes its texts (the entries' ids, the session's version) from
// texts, not from Lua numbers. Redis 7.0's Lua turns a number into text
// with sprintf: string.format('%.0f-%d') for each entry's id cost Redis
// about 5.5 k instructions an entry, and the version's two conversions
// (tostring(v), v .. ' ') 2 k each (callgrind on a private redis-server:
// 21.3 M of sprintf in the 444.7 M of a 1,500-turn bench). Only numText may
// still call tostring, for a sequence number of 10 or more or a version
// whose last digit is 9. Nor does it read the stored version as a number
// (tonumber runs strtod twice, about 1.1 k instructions): it compares the
// texts.
func TestTurnScriptFormatsNoNumbers(t *testing.T) {
	code := luaCode(turnLua)
	if strings.Contains(code, "string.format") {
		t.Error("the turn script calls string.format")
	}
	body := regexp.MustCompile(`(?s)local function numText\(.*?\nend\n`)
	if !body.MatchString(code) {
		t.Fatal("the turn script has no numText function")
	}
	rest := body.ReplaceAllString(code, "")
	if strings.Contains(rest, "tostring(") {
		t.Error("the turn script calls tostring outside numText")
	}
	if strings.Contains(code, "tonumber(string.sub(head") {
		t.Error("the turn script reads the stored version as a number")
	}
	// The version was a number joined to text (v .. ' ').
	if regexp.MustCompile(`\bv \.\.`).MatchString(rest) {
		t.Error("the turn script joins the version number to text")
	}
}
