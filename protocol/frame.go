package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Frame is one websocket frame. FrameType is its "type" on the wire.
type Frame interface {
	FrameType() string
}

// Encode returns f as one JSON object whose first member is
// "type": f.FrameType(), followed by f's own fields.
//
// f is encoded once, after the type, in a buffer kept from call to call,
// and the frame copied out of it: a frame goes out on every turn, several
// times (ack, entries, status).
func Encode(f Frame) ([]byte, error) { return appendEncode(nil, f, true) }

// AppendEncode appends f, encoded as Encode does, to dst and returns the
// extended slice; on an error it returns dst as it was.
func AppendEncode(dst []byte, f Frame) ([]byte, error) { return appendEncode(dst, f, false) }

// appendEncode is Encode (exact: a new slice of the frame's length) and
// AppendEncode.
func appendEncode(dst []byte, f Frame, exact bool) ([]byte, error) {
	if f == nil {
		return dst, errors.New("protocol: Encode of a nil frame")
	}
	if u, ok := f.(*Unknown); ok {
		return append(dst, u.Raw...), nil // as received
	}
	if !exact {
		if b, ok := appendByHand(dst, f); ok {
			return b, nil
		}
	}
	e := encoders.Get().(*encoder)
	defer func() {
		if e.buf.Cap() <= 64<<10 { // a large frame's buffer is not kept
			encoders.Put(e)
		}
	}()
	e.buf.Reset()
	e.buf.WriteString(`{"type":`)
	typ := f.FrameType()
	if plainType(typ) {
		e.buf.WriteByte('"')
		e.buf.WriteString(typ)
		e.buf.WriteByte('"')
	} else {
		q, _ := json.Marshal(typ)
		e.buf.Write(q)
	}
	mark := e.buf.Len()
	if err := e.enc.Encode(f); err != nil {
		return dst, fmt.Errorf("protocol: encoding a %s frame: %w", typ, err)
	}
	b := e.buf.Bytes()
	b = b[:len(b)-1] // Encode's newline
	body := b[mark:]
	if len(body) < 2 || body[0] != '{' {
		return dst, fmt.Errorf("protocol: a %s frame is not a JSON object", typ)
	}
	if len(body) == 2 { // "{}"
		b[mark] = '}'
		b = b[:mark+1]
	} else {
		b[mark] = ','
	}
	if exact {
		return append(make([]byte, 0, len(b)), b...), nil
	}
	return append(dst, b...), nil
}

// encoder is Encode's buffer and the json.Encoder that writes into it.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf) // HTML escaped, as json.Marshal does
	return e
}}

// plainType reports whether a frame type needs no escaping in JSON.
func plainType(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
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
