package protocol

import "fmt"

// Code is the code of an error frame (docs/protocol.md, "Error codes").
type Code string

// Error codes of the visitor websocket.
const (
	CodeBadJSON        Code = "bad_json"        // the frame is not a JSON object
	CodeUnknownType    Code = "unknown_type"    // type is missing or unknown
	CodeInvalid        Code = "invalid"         // a field is missing or wrong
	CodeTooLarge       Code = "too_large"       // the frame is over MaxFrame
	CodeNoConversation Code = "no_conversation" // a frame that needs start or resume first
	CodeBadToken       Code = "bad_token"       // malformed token or wrong signature
	CodeExpiredToken   Code = "expired_token"   // the token is past its lifetime
	CodeNotFound       Code = "not_found"       // the conversation expired or never existed
	CodeNoPlaybook     Code = "no_playbook"     // no playbook with that id is loaded
	CodeRateLimited    Code = "rate_limited"    // too many messages or connections
	CodeUnavailable    Code = "unavailable"     // the store did not answer; send again
	CodeNotResolved    Code = "not_resolved"    // a rating before an agent resolved the chat
	CodeAlreadyRated   Code = "already_rated"   // a second rating
	CodeInvalidPrechat Code = "invalid_prechat" // a pre-chat form value is missing or malformed (Field names it)
	CodeFileTooLarge   Code = "file_too_large"  // an attachment over the server's size limit
	CodeFileType       Code = "file_type"       // an attachment of a type the server does not take
	CodeFilesOff       Code = "files_off"       // the server keeps no attachments
	// Transcript by email (the transcript frame).
	CodeMailUnavailable Code = "mail_unavailable" // the server has no mail
	CodeNotEnded        Code = "not_ended"        // the conversation is not over yet
	CodeWrongAddress    Code = "wrong_address"    // another address than the conversation's
	CodeLimitReached    Code = "limit_reached"    // sent 3 times already
	CodeBusy            Code = "busy"             // the global cap is reached
	CodeMailFailed      Code = "mail_failed"      // the mail server refused or did not answer
	// The agent feed.
	CodeForbidden Code = "forbidden" // follow of a conversation the agent may not see
)

// Codes lists every documented error code.
var Codes = []Code{
	CodeBadJSON, CodeUnknownType, CodeInvalid, CodeTooLarge, CodeNoConversation,
	CodeBadToken, CodeExpiredToken, CodeNotFound, CodeNoPlaybook, CodeRateLimited,
	CodeUnavailable, CodeNotResolved, CodeAlreadyRated, CodeMailUnavailable,
	CodeNotEnded, CodeWrongAddress, CodeLimitReached, CodeBusy, CodeMailFailed,
	CodeForbidden, CodeInvalidPrechat,
}

// Error is the visitor websocket's error frame. It is also the error
// type of this package's decoding and validation, and of package client
// when the server refuses a frame.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"` // for people
	// ID is the client message id the error is about; always on the wire,
	// "" when the error is about no message.
	ID string `json:"id"`
	// Field, on invalid_prechat, is the pre-chat form's field that was
	// refused (name, email, phone or consent).
	Field string `json:"field,omitempty"`
}

func (*Error) FrameType() string { return TypeError }

func (e *Error) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("%s: %s (message %s)", e.Code, e.Message, e.ID)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an error frame with code and a message for people.
func Errorf(code Code, id, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), ID: id}
}

// AgentError is the agent feed's error frame (it has no id).
type AgentError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (*AgentError) FrameType() string { return TypeError }

func (e *AgentError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }
