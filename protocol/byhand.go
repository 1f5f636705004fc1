package protocol

import (
	"time"
	"unicode/utf8"
)

// appendByHand appends f as appendEncode writes it through encoding/json,
// byte for byte, for the frames every visitor's turn sends (an entry
// frame or more, the ack, the status), without reflection; ok is false,
// with dst as it was, for a frame left to encoding/json (docs/benchmarks.md,
// "A turn's frames written by hand (issue 13, fifteenth round)").
func appendByHand(dst []byte, f Frame) (_ []byte, ok bool) {
	switch f := f.(type) {
	case *EntryFrame:
		if f != nil {
			return appendEntryFrame(dst, f)
		}
	case *Ack:
		if f != nil {
			b := appendJSONString(append(dst, `{"type":"ack","id":`...), f.ID)
			b = appendField(b, `,"entry":`, f.Entry)
			if f.Duplicate {
				return append(b, `,"duplicate":true}`...), true
			}
			return append(b, `,"duplicate":false}`...), true
		}
	case *Status:
		if f != nil {
			b := appendJSONString(append(dst, `{"type":"status","status":`...), f.Status)
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
		b = appendJSONString(append(b, `"id":`...), e.ID)
		b = append(b, ',')
	}
	b = appendJSONString(append(b, `"from":`...), e.From)
	b = appendJSONString(append(b, `,"kind":`...), e.Kind)
	b = appendField(b, `,"text":`, e.Text)
	if len(e.Buttons) > 0 {
		b = append(b, `,"buttons":[`...)
		for i, x := range e.Buttons {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"label":`...), x.Label)
			b = appendJSONString(append(b, `,"value":`...), x.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, `,"input":`, e.Input)
	b = appendField(b, `,"image":`, e.Image)
	if len(e.Links) > 0 {
		b = append(b, `,"links":[`...)
		for i, x := range e.Links {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"label":`...), x.Label)
			b = appendJSONString(append(b, `,"url":`...), x.URL)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
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

// appendField appends name and s as a JSON string, unless s is empty
// (omitempty).
func appendField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
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

// appendJSONString appends s as encoding/json writes a string, HTML
// escaped: <, > and & as \u003c, \u003e and \u0026, the other control
// characters as \n, \r, \t, \b, \f or \u00XX, invalid UTF-8 as \ufffd,
// and U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
