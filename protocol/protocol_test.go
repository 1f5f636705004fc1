package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEncodeWire pins the bytes of frames: the type first, then the fields
// as docs/protocol.md has them, the always-present ones even when empty.
func TestEncodeWire(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f    Frame
		want string
	}{
		{&Pong{}, `{"type":"pong"}`},
		{&Ping{}, `{"type":"ping"}`},
		{&Resync{}, `{"type":"resync"}`},
		{&Heartbeat{}, `{"type":"heartbeat"}`},
		{&Error{Code: CodeInvalid, Message: "the message is empty"}, `{"type":"error","code":"invalid","message":"the message is empty","id":""}`},
		{&AgentError{Code: CodeForbidden, Message: "no"}, `{"type":"error","code":"forbidden","message":"no"}`},
		{&Ack{ID: "m1"}, `{"type":"ack","id":"m1","duplicate":false}`},
		{&Ack{ID: "m1", Entry: "1-0", Duplicate: true}, `{"type":"ack","id":"m1","entry":"1-0","duplicate":true}`},
		{&Status{Status: StatusWaiting}, `{"type":"status","status":"waiting"}`},
		{&Status{Status: StatusEnded, Outcome: "lead"}, `{"type":"status","status":"ended","outcome":"lead"}`},
		{&Welcome{Token: "t", Conversation: "c", Playbook: "p", Locale: "en", Status: "waiting"},
			`{"type":"welcome","token":"t","conversation":"c","playbook":"p","bot":{},"locale":"en","status":"waiting","mail":false}`},
		{&Typing{From: "agent", On: true}, `{"type":"typing","from":"agent","on":true}`},
		{&Rated{Score: 4}, `{"type":"rated","score":4}`},
		{&Sent{}, `{"type":"sent","id":""}`},
		{&Queue{Team: "sales", Position: 1}, `{"type":"queue","team":"sales","position":1}`},
		{&EntryFrame{Entry: Entry{ID: "1-0", From: "bot", Kind: "message", Text: "Hi", Buttons: []Button{{"A", "a"}}, Input: "choice", At: at}},
			`{"type":"entry","entry":{"id":"1-0","from":"bot","kind":"message","text":"Hi","buttons":[{"label":"A","value":"a"}],"input":"choice","at":"2026-11-22T08:00:00Z"}}`},
		{&Message{ID: "m1", Text: "hi"}, `{"type":"message","id":"m1","text":"hi"}`},
		{&Message{ID: "m1", Text: "<b>&</b>"}, `{"type":"message","id":"m1","text":"\u003cb\u003e\u0026\u003c/b\u003e"}`},
		{&Click{ID: "b1", Value: "201+"}, `{"type":"button","id":"b1","value":"201+"}`},
		{&Resume{Token: "t"}, `{"type":"resume","token":"t","after":""}`},
		{&Start{Playbook: "qualify"}, `{"type":"start","playbook":"qualify"}`},
		{&Follow{Conversation: "c"}, `{"type":"follow","conversation":"c","after":""}`},
		{&Revoked{Conversation: "c", Message: "m"}, `{"type":"revoked","conversation":"c","message":"m"}`},
		{&AgentTyping{Conversation: "c", From: "visitor"}, `{"type":"typing","conversation":"c","from":"visitor","author":"","on":false}`},
		{&Notify{Kind: NotifyMissed, Text: "t"}, `{"type":"notify","kind":"missed","text":"t","conversation":null}`},
		{&ConversationChanged{}, `{"type":"conversation","conversation":null}`},
	} {
		b, err := Encode(c.f)
		if err != nil {
			t.Fatalf("%T: %v", c.f, err)
		}
		if string(b) != c.want {
			t.Errorf("Encode(%T)\n got %s\nwant %s", c.f, b, c.want)
		}
	}
}

func TestDecodeVisitorRefuses(t *testing.T) {
	for _, c := range []struct {
		in       string
		text     bool
		code     Code
		id, part string
	}{
		{`{"type":"message"}`, false, CodeBadJSON, "", "JSON text"},
		{`{"type":"message","id":"x","text":"` + strings.Repeat("a", MaxFrame) + `"}`, true, CodeTooLarge, "", "16 KiB"},
		{`{"type":`, true, CodeBadJSON, "", "syntax error"},
		{`{"type":"message","id":7}`, true, CodeBadJSON, "", "field id has the wrong type"},
		{`{"type":"start","visitor":{"visits":"many"}}`, true, CodeBadJSON, "", "visitor.visits"},
		{`[1]`, true, CodeBadJSON, "", "wrong type"},
		{`{"id":"m9"}`, true, CodeUnknownType, "m9", "no type"},
		{`{"type":"shout","id":"m9"}`, true, CodeUnknownType, "m9", `"shout"`},
	} {
		f, fe := DecodeVisitor(c.text, []byte(c.in))
		if fe == nil || f != nil {
			t.Errorf("DecodeVisitor(%.40s) = %v, %v; want error %s", c.in, f, fe, c.code)
			continue
		}
		if fe.Code != c.code || fe.ID != c.id || !strings.Contains(fe.Message, c.part) {
			t.Errorf("DecodeVisitor(%.40s) = %+v; want code %s id %q message with %q", c.in, fe, c.code, c.id, c.part)
		}
	}
}

func TestDecodeVisitorCleans(t *testing.T) {
	f, fe := DecodeVisitor(true, []byte("{\"type\":\"message\",\"id\":\"m\",\"text\":\"a\\u0007b\\u0000\\n\\tc\xff\"}"))
	if fe != nil {
		t.Fatal(fe)
	}
	if m := f.(*Message); m.Text != "ab\n\tc\uFFFD" {
		t.Fatalf("text = %q", m.Text)
	}
}

func TestChecks(t *testing.T) {
	long := strings.Repeat("é", MaxText+1)
	for _, c := range []struct {
		name string
		f    interface{ Check() (string, *Error) }
		text string
		code Code
		id   string
	}{
		{"message", &Message{ID: "m", Text: "  hi "}, "hi", "", ""},
		{"no id", &Message{Text: "hi"}, "", CodeInvalid, ""},
		{"long id", &Message{ID: strings.Repeat("x", 101), Text: "hi"}, "", CodeInvalid, ""},
		{"blank", &Message{ID: "m", Text: " \n "}, "", CodeInvalid, "m"},
		{"too long", &Message{ID: "m", Text: long}, "", CodeInvalid, "m"},
		{"exactly 4000", &Message{ID: "m", Text: long[2:]}, long[2:], "", ""},
		{"button label", &Click{ID: "b", Value: "v", Label: " Yes "}, "Yes", "", ""},
		{"button value", &Click{ID: "b", Value: "v"}, "v", "", ""},
		{"button no value", &Click{ID: "b", Label: "Yes"}, "", CodeInvalid, "b"},
		{"leave default", &LeaveMessage{}, DefaultLeaveMsg, "", ""},
		{"leave long id", &LeaveMessage{ID: strings.Repeat("x", 101)}, "", CodeInvalid, ""},
	} {
		text, err := c.f.Check()
		if c.code == "" {
			if err != nil || text != c.text {
				t.Errorf("%s: Check() = %q, %v; want %q", c.name, text, err, c.text)
			}
			continue
		}
		if err == nil || err.Code != c.code || err.ID != c.id {
			t.Errorf("%s: Check() = %q, %+v; want %s with id %q", c.name, text, err, c.code, c.id)
		}
	}
	if (&Rating{Score: 0}).Check() == nil || (&Rating{Score: 6}).Check() == nil || (&Rating{Score: 3, Comment: strings.Repeat("x", 1001)}).Check() == nil {
		t.Error("a bad rating passed")
	}
	if err := (&Rating{Score: 5, Comment: strings.Repeat("x", 1000)}).Check(); err != nil {
		t.Error(err)
	}
}

func TestDecodeServerUnknownType(t *testing.T) {
	f, err := DecodeServer([]byte(`{"type":"confetti","n":3}`))
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.(*Unknown)
	if !ok || u.Type != "confetti" {
		t.Fatalf("got %#v", f)
	}
	if b, _ := Encode(f); string(b) != `{"type":"confetti","n":3}` {
		t.Fatalf("Encode(unknown) = %s", b)
	}
	if _, err := DecodeServer([]byte(`{"type":"ack","duplicate":"yes"}`)); err == nil {
		t.Fatal("an ack with a string duplicate decoded")
	}
}

func ExampleEncode() {
	b, _ := Encode(&Message{ID: "m1", Text: "Talk to sales"})
	fmt.Println(string(b))
	f, _ := DecodeServer([]byte(`{"type":"ack","id":"m1","entry":"1732262400000-1","duplicate":false}`))
	ack := f.(*Ack)
	fmt.Println(ack.ID, ack.Entry)
	// Output:
	// {"type":"message","id":"m1","text":"Talk to sales"}
	// m1 1732262400000-1
}

func TestEntryFile(t *testing.T) {
	var e Entry
	if err := json.Unmarshal([]byte(`{"kind":"file","text":"a.pdf","data":{"file":"f1","name":"a.pdf","type":"application/pdf","size":9000,"url":"/api/widget/files/c/f1?exp=1&sig=x"}}`), &e); err != nil {
		t.Fatal(err)
	}
	f, ok := e.File()
	if !ok || f != (FileInfo{ID: "f1", Name: "a.pdf", Type: "application/pdf", Size: 9000, URL: "/api/widget/files/c/f1?exp=1&sig=x"}) {
		t.Fatalf("File() = %+v, %v", f, ok)
	}
	if _, ok := (&Entry{Kind: "message", Data: map[string]any{"file": "f1"}}).File(); ok {
		t.Fatal("a message is a file")
	}
}

// BenchmarkEncode: the frames of an ordinary turn (ack, the visitor's
// entry, the bot's question, status).
func BenchmarkEncode(b *testing.B) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	frames := []Frame{
		&Ack{ID: "m1", Entry: "1732262400000-0"},
		&EntryFrame{Entry: Entry{ID: "1732262400000-0", From: "visitor", Kind: "message", Text: "visitor7@acme7.com", At: at}},
		&EntryFrame{Entry: Entry{ID: "1732262400000-1", From: "bot", Kind: "message", Text: "How many employees?",
			Buttons: []Button{{"1-10", "1-10"}, {"11-50", "11-50"}, {"51-200", "51-200"}, {"201+", "201+"}}, Input: "choice", At: at}},
		&Status{Status: StatusWaiting},
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, f := range frames {
			if _, err := Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
