package server

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFrame feeds arbitrary bytes to the visitor frame decoder: it
// never panics, refuses with a documented code or returns a frame whose
// texts are valid UTF-8 without control characters.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"message","id":"m1","text":"hi"}`,
		`{"type":"start","playbook":"website-sales","page":"/pricing","locale":"es-MX","visitor":{"name":"Ana"}}`,
		`{"type":"resume","token":"a.b.c","after":"1-0"}`,
		`{"type":"button","id":"x","value":"201+","label":"201+"}`,
		`{"type":"rating","score":5,"comment":"great"}`,
		`[[[[[[[[[[]]]]]]]]]]`, `{"type":`, `"\u0000"`, "{\"text\":\"\xff\xfe\"}", `{"text":"a\u0007b\u202e"}`,
	} {
		f.Add([]byte(seed), true)
	}
	f.Add([]byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, data []byte, isText bool) {
		fr, fe := decodeFrame(isText, data)
		if fe != nil {
			switch fe.code {
			case "bad_json", "too_large":
			default:
				t.Fatalf("undocumented error code %q", fe.code)
			}
			if fr != nil {
				t.Fatal("a frame and an error")
			}
			return
		}
		for _, s := range []string{fr.Text, fr.Label, fr.Value, fr.Comment} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 passed: %q", s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' }) {
				t.Fatalf("control character passed: %q", s)
			}
		}
	})
}
