package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Unknown is a frame of a type this package does not know (a newer
// server's): clients skip it. Raw is the frame as received.
type Unknown struct {
	Type string
	Raw  json.RawMessage
}

func (u *Unknown) FrameType() string { return u.Type }

// MarshalJSON returns the frame as received.
func (u *Unknown) MarshalJSON() ([]byte, error) { return u.Raw, nil }

// DecodeServer decodes one frame the server sent on /ws/visitor: *Welcome,
// *EntryFrame, *Ack, *Typing, *Status, *Error, *Pong, *Rated, *Sent,
// *Queue, *PrechatForm, or *Unknown for a type it does not know.
func DecodeServer(data []byte) (Frame, error) {
	return decodeInto(data, func(typ string) Frame {
		switch typ {
		case TypeWelcome:
			return &Welcome{}
		case TypeEntry:
			return &EntryFrame{}
		case TypeAck:
			return &Ack{}
		case TypeTyping:
			return &Typing{}
		case TypeStatus:
			return &Status{}
		case TypeError:
			return &Error{}
		case TypePong:
			return &Pong{}
		case TypeRated:
			return &Rated{}
		case TypeSent:
			return &Sent{}
		case TypeQueue:
			return &Queue{}
		case TypePrechat:
			return &PrechatForm{}
		}
		return nil
	})
}

// DecodeAgentFeed decodes one frame the server sent on /ws/agent: *Hello,
// *ConversationChanged, *Notify, *AgentEntry, *AgentTyping, *Revoked,
// *Resync, *AgentError, *Pong, or *Unknown for a type it does not know.
func DecodeAgentFeed(data []byte) (Frame, error) {
	return decodeInto(data, func(typ string) Frame {
		switch typ {
		case TypeHello:
			return &Hello{}
		case TypeConversation:
			return &ConversationChanged{}
		case TypeNotify:
			return &Notify{}
		case TypeRecord:
			return &RecordChanged{}
		case TypeEntry:
			return &AgentEntry{}
		case TypeTyping:
			return &AgentTyping{}
		case TypeRevoked:
			return &Revoked{}
		case TypeResync:
			return &Resync{}
		case TypeError:
			return &AgentError{}
		case TypePong:
			return &Pong{}
		}
		return nil
	})
}

func decodeInto(data []byte, make func(string) Frame) (Frame, error) {
	typ, ok := leadingType(data)
	if !ok {
		var t typeOnly
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, fmt.Errorf("protocol: a frame that is not a JSON object: %s", jsonProblem(err))
		}
		typ = t.Type
	}
	f := make(typ)
	if f == nil {
		if ok && !json.Valid(data) {
			return nil, errors.New("protocol: a frame that is not a JSON object")
		}
		return &Unknown{Type: typ, Raw: append(json.RawMessage(nil), data...)}, nil
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("protocol: a %s frame: %s", typ, jsonProblem(err))
	}
	return f, nil
}

// leadingType reads the type of a frame that begins {"type":"NAME", as
// Encode writes them, without parsing the rest: a frame is then parsed
// once. Anything else (spaces, escapes, another first member) reports
// false and is read the slow way. A later duplicate "type" member cannot
// change the struct chosen: its fields do not include type.
func leadingType(data []byte) (string, bool) {
	const prefix = `{"type":"`
	if len(data) < len(prefix) || string(data[:len(prefix)]) != prefix {
		return "", false
	}
	rest := data[len(prefix):]
	for i, c := range rest {
		switch {
		case c == '"':
			if i+1 < len(rest) && (rest[i+1] == ',' || rest[i+1] == '}') {
				return string(rest[:i]), true
			}
			return "", false
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
	}
	return "", false
}
