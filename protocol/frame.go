package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Frame is one websocket frame. FrameType is its "type" on the wire.
type Frame interface {
	FrameType() string
}

// Encode returns f as one JSON object whose first member is
// "type": f.FrameType(), followed by f's own fields.
func Encode(f Frame) ([]byte, error) {
	if f == nil {
		return nil, errors.New("protocol: Encode of a nil frame")
	}
	if u, ok := f.(*Unknown); ok {
		return append([]byte(nil), u.Raw...), nil // as received
	}
	body, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("protocol: encoding a %s frame: %w", f.FrameType(), err)
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("protocol: a %s frame is not a JSON object", f.FrameType())
	}
	typ, _ := json.Marshal(f.FrameType())
	out := make([]byte, 0, len(body)+len(typ)+9)
	out = append(out, `{"type":`...)
	out = append(out, typ...)
	if len(body) > 2 { // not "{}"
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// typeOnly reads a frame's "type" (and a client message id, echoed in
// errors) without the rest.
type typeOnly struct {
	Type string `json:"type"`
}

// FrameTypeOf returns the "type" of an encoded frame, "" when it has none
// or is not a JSON object.
func FrameTypeOf(data []byte) string {
	var t typeOnly
	if json.Unmarshal(data, &t) != nil {
		return ""
	}
	return t.Type
}
