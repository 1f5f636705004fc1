package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// EncodeEntry is the compact stored form of an entry (without its id), as
// a Redis transcript keeps it: JSON with one-letter names, who it is from
// as one letter, kind "message" and empty fields left out, a button whose
// value is its label as the label alone, and the time as Unix milliseconds.
// The bot's greeting of the reference conversation takes 122 bytes instead
// of 247. DecodeEntry reads it, and the entry's JSON (Entry's own field
// names) that older versions stored.
func EncodeEntry(e *Entry) ([]byte, error) {
	c := compactEntry{
		From:   fromCode[e.From],
		Text:   e.Text,
		Input:  e.Input,
		Image:  e.Image,
		Author: e.Author,
		Client: e.ClientID,
		Card:   e.Card,
		Data:   e.Data,
	}
	if c.From == "" {
		c.From = e.From
	}
	if e.Kind != "message" {
		c.Kind = e.Kind
		if c.Kind == "" {
			c.Kind = "-" // an empty kind, kept as it was
		}
	}
	if !e.At.IsZero() {
		c.At = e.At.UnixMilli()
	}
	if len(e.Buttons) > 0 {
		// A label goes by pointer (encoded as the string): not boxed.
		c.Buttons = make([]any, 0, len(e.Buttons))
	}
	for i, b := range e.Buttons {
		if b.Value == b.Label {
			c.Buttons = append(c.Buttons, &e.Buttons[i].Label)
		} else {
			c.Buttons = append(c.Buttons, []string{b.Label, b.Value})
		}
	}
	for _, l := range e.Links {
		c.Links = append(c.Links, [2]string{l.Label, l.URL})
	}
	return json.Marshal(&c)
}

// compactEntry is EncodeEntry's form; its names never meet Entry's, so one
// decode reads either (storedEntry).
type compactEntry struct {
	From    string           `json:"f,omitempty"`
	Kind    string           `json:"k,omitempty"`
	Text    string           `json:"t,omitempty"`
	Buttons []any            `json:"b,omitempty"` // "label" (a *string) or ["label", "value"]
	Input   engine.InputType `json:"i,omitempty"`
	Image   string           `json:"m,omitempty"`
	Links   [][2]string      `json:"l,omitempty"` // [label, url]
	Author  string           `json:"u,omitempty"`
	Client  string           `json:"c,omitempty"`
	Card    string           `json:"d,omitempty"`
	Data    map[string]any   `json:"x,omitempty"`
	At      int64            `json:"a,omitempty"` // Unix milliseconds
}

var (
	fromCode = map[string]string{"visitor": "v", "bot": "b", "agent": "a", "system": "s"}
	fromName = map[string]string{"v": "visitor", "b": "bot", "a": "agent", "s": "system"}
)

// storedEntry reads an entry in either stored form.
type storedEntry struct {
	Entry
	compactEntry
}

func decodeStored(data []byte) (Entry, error) {
	var s storedEntry
	if err := json.Unmarshal(data, &s); err != nil {
		return Entry{}, err
	}
	e, c := s.Entry, &s.compactEntry
	if e.From != "" || e.Kind != "" || !e.At.IsZero() {
		return e, nil // the older form: Entry's JSON, "from", "kind" and "at" always there
	}
	if e.From = fromName[c.From]; e.From == "" {
		e.From = c.From
	}
	switch c.Kind {
	case "":
		e.Kind = "message"
	case "-":
		e.Kind = ""
	default:
		e.Kind = c.Kind
	}
	e.Text, e.Input, e.Image, e.Author, e.ClientID, e.Card, e.Data = c.Text, c.Input, c.Image, c.Author, c.Client, c.Card, c.Data
	if c.At != 0 {
		e.At = time.UnixMilli(c.At).UTC()
	}
	for _, b := range c.Buttons {
		switch b := b.(type) {
		case string:
			e.Buttons = append(e.Buttons, engine.Button{Label: b, Value: b})
		case []any:
			if len(b) == 2 {
				l, _ := b[0].(string)
				v, _ := b[1].(string)
				e.Buttons = append(e.Buttons, engine.Button{Label: l, Value: v})
				continue
			}
			return Entry{}, fmt.Errorf("bad button %v", b)
		default:
			return Entry{}, fmt.Errorf("bad button %v", b)
		}
	}
	for _, l := range c.Links {
		e.Links = append(e.Links, engine.LinkOut{Label: l[0], URL: l[1]})
	}
	return e, nil
}

// EncodeEntries is the compact form of a whole transcript (the CRM's
// archive of a conversation): one line per entry, its id, a space and
// EncodeEntry's form. DecodeEntries reads it, and the JSON array of entries
// older versions archived.
func EncodeEntries(entries []Entry) ([]byte, error) {
	var b []byte
	for i := range entries {
		data, err := EncodeEntry(&entries[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, entries[i].ID...)
		b = append(b, ' ')
		b = append(b, data...)
	}
	return b, nil
}

// DecodeEntries decodes what EncodeEntries made, or a JSON array of
// entries.
func DecodeEntries(b []byte) ([]Entry, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] == '[' {
		var entries []Entry
		err := json.Unmarshal(b, &entries)
		return entries, err
	}
	return DecodeLive(string(b))
}
