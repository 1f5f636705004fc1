package protocol

import (
	"time"

	"github.com/playbook-dev/playbook/internal/jsonstr"
)

// appendByHand appends f as appendEncode writes it through encoding/json,
// byte for byte, for the frames every visitor's turn sends (an entry
// frame or more, the ack, the status), without reflection; ok is false,
// with dst as it was, for a frame left to encoding/json (docs/benchmarks.md,
// "A turn's frames written by hand; the hub's followers counted, not
// walked").
func appendByHand(dst []byte, f Frame) (_ []byte, ok bool) {
	switch f := f.(type) {
	case *EntryFrame:
		if f != nil {
			return appendEntryFrame(dst, f)
		}
	case *Ack:
		if f != nil {
			b := jsonstr.Append(append(dst, `{"type":"ack","id":`...), f.ID)
			b = appendField(b, `,"entry":`, f.Entry)
			if f.Duplicate {
				return append(b, `,"duplicate":true}`...), true
			}
			return append(b, `,"duplicate":false}`...), true
		}
	case *Status:
		if f != nil {
			b := jsonstr.Append(append(dst, `{"type":"status","status":`...), f.Status)
			b = appendField(b, `,"outcome":`, f.Outcome)
			return append(b, '}'), true
		}
	}
	return dst, false
}

// appendEntryFrame appends f as appendEncode writes it through
// encoding/json, byte for byte, without reflection and without the
// allocation of its time's text (Time.MarshalJSON's); ok is false, with
// dst as it was, for an entry it leaves to encoding/json: one with data,
// or whose time has no strict RFC 3339 form.
func appendEntryFrame(dst []byte, f *EntryFrame) (_ []byte, ok bool) {
	e := &f.Entry
	if len(e.Data) > 0 {
		return dst, false
	}
	n0 := len(dst)
	b := append(dst, `{"type":"entry","entry":{`...)
	if e.ID != "" {
		b = jsonstr.Append(append(b, `"id":`...), e.ID)
		b = append(b, ',')
	}
	b = jsonstr.Append(append(b, `"from":`...), e.From)
	b = jsonstr.Append(append(b, `,"kind":`...), e.Kind)
	b = appendField(b, `,"text":`, e.Text)
	b = appendLabelled(b, `,"buttons":[`, `,"value":`, e.Buttons, func(x *Button) (string, string) { return x.Label, x.Value })
	b = appendField(b, `,"input":`, e.Input)
	b = appendField(b, `,"image":`, e.Image)
	b = appendLabelled(b, `,"links":[`, `,"url":`, e.Links, func(x *Link) (string, string) { return x.Label, x.URL })
	b = appendField(b, `,"author":`, e.Author)
	b = appendField(b, `,"client_id":`, e.ClientID)
	b = appendField(b, `,"card":`, e.Card)
	b = append(b, `,"at":"`...)
	t0 := len(b)
	b = e.At.AppendFormat(b, time.RFC3339Nano)
	if !strictRFC3339(b[t0:]) {
		return dst[:n0], false
	}
	return append(b, `"}}`...), true
}

// appendLabelled appends name (the array's opening) and items as objects
// {"label": …, second: …} (second the other member's name and colon), with
// the closing bracket; nothing when items is empty (omitempty). pair
// gives an item's label and other member.
func appendLabelled[T any](b []byte, name, second string, items []T, pair func(*T) (string, string)) []byte {
	if len(items) == 0 {
		return b
	}
	b = append(b, name...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		label, other := pair(&items[i])
		b = jsonstr.Append(append(b, `{"label":`...), label)
		b = jsonstr.Append(append(b, second...), other)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendField appends name and s as a JSON string, unless s is empty
// (omitempty).
func appendField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return jsonstr.Append(append(b, name...), s)
}

// strictRFC3339 reports whether t, a time in RFC 3339 form, is one that
// Time.MarshalJSON writes (it refuses a year outside [0,9999] and a zone
// of 24 hours or more).
func strictRFC3339(t []byte) bool {
	if len(t) < len("2006-01-02T15:04:05Z") || t[4] != '-' {
		return false
	}
	if t[len(t)-1] == 'Z' {
		return true
	}
	c := t[len(t)-len("Z07:00")]
	h := t[len(t)-len("07:00"):]
	return !('0' <= c && c <= '9') && 10*(h[0]-'0')+(h[1]-'0') < 24
}
