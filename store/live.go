package store

import (
	"encoding/json"
	"fmt"
	"strings"
)

// EncodeLive is what a turn publishes on a conversation's channel: one
// line per entry, its id, a space, and its JSON (without the id).
func EncodeLive(entries []Entry) (string, error) {
	var b strings.Builder
	for i := range entries {
		e := entries[i]
		id := e.ID
		e.ID = ""
		data, err := json.Marshal(&e)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(id)
		b.WriteByte(' ')
		b.Write(data)
	}
	return b.String(), nil
}

// DecodeEntry decodes a stored entry, in either form (see EncodeEntry), and
// gives it id.
func DecodeEntry(id string, v any) (Entry, error) {
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		return Entry{}, fmt.Errorf("entry %s: unexpected %T", id, v)
	}
	e, err := decodeStored(data)
	if err != nil {
		return e, err
	}
	e.ID = id
	return e, nil
}

// DecodeLive decodes what a turn published on a conversation's channel
// (EncodeLive).
func DecodeLive(payload string) ([]Entry, error) {
	var out []Entry
	for _, line := range strings.Split(payload, "\n") {
		id, data, ok := strings.Cut(line, " ")
		if !ok {
			return out, fmt.Errorf("bad live line %q", line)
		}
		e, err := DecodeEntry(id, data)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}
