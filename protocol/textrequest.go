package protocol

import (
	"strings"
	"unicode/utf8"
)

// Check trims r's text and checks it and its client id (the agent API's
// messages and notes): text of 1 to MaxText characters of valid UTF-8, a
// client id of at most MaxClientID bytes. Its error's Message is for
// people (the API answers 400 with it).
func (r *TextRequest) Check() *Error {
	r.Text = strings.TrimSpace(r.Text)
	if r.Text == "" || utf8.RuneCountInString(r.Text) > MaxText || !utf8.ValidString(r.Text) {
		return &Error{Code: CodeInvalid, Message: "text must be 1 to 4000 characters"}
	}
	if len(r.ClientID) > MaxClientID {
		return &Error{Code: CodeInvalid, Message: "client_id is at most 100 characters"}
	}
	return nil
}
