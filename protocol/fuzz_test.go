package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeVisitor feeds arbitrary bytes to the visitor frame decoder: it
// never panics, refuses with a documented code or returns a frame whose
// texts are valid UTF-8 without control characters, and a frame it
// returns encodes to one it decodes again to the same frame.
func FuzzDecodeVisitor(f *testing.F) {
	for _, seed := range []string{
		`{"type":"message","id":"m1","text":"hi"}`,
		`{"type":"start","playbook":"website-sales","page":"/pricing","locale":"es-MX","visitor":{"name":"Ana"}}`,
		`{"type":"resume","token":"a.b.c","after":"1-0"}`,
		`{"type":"button","id":"x","value":"201+","label":"201+"}`,
		`{"type":"rating","score":5,"comment":"great"}`,
		`{"type":"transcript","email":"a@b.co","id":"t1"}`,
		`{"type":"leave_message","label":"Leave it","id":"l1"}`,
		`{"type":"typing","on":true}`, `{"type":"ping"}`, `{"type":"nope","id":"q"}`, `{}`,
		`[[[[[[[[[[]]]]]]]]]]`, `{"type":`, `"\u0000"`, "{\"text\":\"\xff\xfe\"}", `{"text":"a\u0007b\u202e"}`,
		`{"type":"message","id":"m","text":"a\u0085b\u009f"}`,
	} {
		f.Add([]byte(seed), true)
	}
	f.Add([]byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, data []byte, isText bool) {
		fr, fe := DecodeVisitor(isText, data)
		if fe != nil {
			switch fe.Code {
			case CodeBadJSON, CodeTooLarge, CodeUnknownType:
			default:
				t.Fatalf("undocumented error code %q", fe.Code)
			}
			if fr != nil {
				t.Fatal("a frame and an error")
			}
			return
		}
		var texts []string
		switch x := fr.(type) {
		case *Message:
			texts = []string{x.Text}
		case *Click:
			texts = []string{x.Value, x.Label}
		case *Rating:
			texts = []string{x.Comment}
		case *LeaveMessage:
			texts = []string{x.Label}
		case *Start:
			if x.Visitor != nil {
				texts = []string{x.Visitor.Name, x.Visitor.Email}
			}
		}
		for _, s := range texts {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 passed: %q", s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 }) {
				t.Fatalf("control character passed: %q", s)
			}
		}
		b, err := Encode(fr)
		if err != nil {
			t.Fatalf("encoding the decoded %T: %v", fr, err)
		}
		if len(b) > MaxFrame {
			return // escaping grew it past the limit
		}
		again, fe := DecodeVisitor(true, b)
		if fe != nil {
			t.Fatalf("re-decoding %s: %v", b, fe)
		}
		b1, _ := json.Marshal(fr)
		b2, _ := json.Marshal(again)
		if string(b1) != string(b2) {
			t.Fatalf("round trip changed the frame: %s, then %s", b1, b2)
		}
	})
}

// FuzzDecodeAgent: the agent frame decoder never panics and refuses only
// with bad_json or unknown_type.
func FuzzDecodeAgent(f *testing.F) {
	for _, seed := range []string{`{"type":"heartbeat"}`, `{"type":"follow","conversation":"c","after":"1-0"}`, `{"type":"typing","conversation":"c","on":true}`, `{"type":"x"}`, `nul`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, fe := DecodeAgent(data)
		if fe != nil {
			if fe.Code != CodeBadJSON && fe.Code != CodeUnknownType || fr != nil {
				t.Fatalf("DecodeAgent(%q) = %v, %v", data, fr, fe)
			}
			return
		}
		if fr == nil {
			t.Fatal("no frame and no error")
		}
	})
}

// FuzzDecodeServer: the client side's decoders never panic, and a frame
// they decode encodes back to the same type.
func FuzzDecodeServer(f *testing.F) {
	for _, seed := range []string{
		`{"type":"welcome","token":"t","conversation":"c","playbook":"p","bot":{"name":"Ava"},"locale":"en","status":"waiting","mail":false}`,
		`{"type":"entry","entry":{"id":"1-0","from":"bot","kind":"message","text":"hi","buttons":[{"label":"a","value":"b"}],"at":"2026-01-01T00:00:00Z"}}`,
		`{"type":"ack","id":"m1","entry":"1-1","duplicate":true}`, `{"type":"error","code":"invalid","message":"x","id":""}`,
		`{"type":"entry","conversation":"c","entry":{"from":"agent","kind":"note","at":"2026-01-01T00:00:00Z"}}`,
		`{"type":"notify","kind":"sales_note","conversation":null,"record":{"id":"n","kind":"note"}}`, `{"type":"zz"}`, `{"type":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if typ, ok := leadingType(data); ok && bytes.Count(data, []byte(`"type"`)) == 1 {
			var slow typeOnly
			if json.Unmarshal(data, &slow) == nil && slow.Type != typ {
				t.Fatalf("leadingType(%q) = %q, the JSON decoder reads %q", data, typ, slow.Type)
			}
		}
		for _, dec := range []func([]byte) (Frame, error){DecodeServer, DecodeAgentFeed} {
			fr, err := dec(data)
			if err != nil {
				continue
			}
			b, err := Encode(fr)
			if err != nil {
				t.Fatalf("encoding %T: %v", fr, err)
			}
			if got := FrameTypeOf(b); got != fr.FrameType() {
				t.Fatalf("encoded %T has type %q, want %q", fr, got, fr.FrameType())
			}
		}
	})
}

func BenchmarkDecodeServerEntry(b *testing.B) {
	data := []byte(`{"type":"entry","entry":{"id":"1796283330751-2","from":"bot","kind":"message","text":"Hi! What brings you here?","buttons":[{"label":"Talk to sales","value":"Talk to sales"},{"label":"Just browsing","value":"Just browsing"}],"input":"choice","at":"2026-12-03T07:35:30.745615131Z"}}`)
	for b.Loop() {
		if _, err := DecodeServer(data); err != nil {
			b.Fatal(err)
		}
	}
}
