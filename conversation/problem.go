package conversation

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// The service's own refusals. Each one is a plain error; Problem says how
// the protocols answer it. Errors made with refuse carry a message for
// people and match their kind with errors.Is.
var (
	// ErrInvalid: a field of the request is missing or wrong.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the request does not fit what is stored.
	ErrConflict = errors.New("conflict")
	// ErrNoMail: the server has no mail (Config.Mail is nil).
	ErrNoMail = transcript.ErrNoMail
	// ErrMailFailed: the mail server refused or did not answer; the cause
	// is logged, never shown.
	ErrMailFailed = errors.New("the email could not be sent; try again later")
)

// refusal is a refusal with a message for people that errors.Is matches
// with its kind.
type refusal struct {
	msg  string
	kind error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

// refuse returns an error of kind (ErrInvalid, ErrConflict,
// crm.ErrNotFound, access.ErrForbidden ...) whose message is msg.
func refuse(kind error, msg string) error { return &refusal{msg: msg, kind: kind} }

// Problem is how the protocols answer an error: the agent API's HTTP
// status, the websocket error frame's code, and a message for people that
// never holds a cause (a store's or a mail server's error).
type Problem struct {
	Status  int
	Code    protocol.Code
	Message string
}

func (p *Problem) Error() string { return p.Message }

// ProblemOf maps a domain error of the services (conversation, access,
// handoff, crm, transcript, store) to its Problem. It returns nil for any
// other error: an internal one, whose cause the transport logs and answers
// as 500 (or the code unavailable).
//
// The message is the error's own when the service made it with a message
// for people (it names the request's field, or the record's kind), else
// the one of its kind.
func ProblemOf(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	p = problemOf(err)
	var r *refusal
	if p != nil && errors.As(err, &r) {
		p.Message = r.msg
	}
	return p
}

func problemOf(err error) *Problem {
	switch {
	case err == nil:
		return nil
	// The service's own.
	case errors.Is(err, ErrInvalid):
		return &Problem{http.StatusBadRequest, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, ErrConflict):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, ErrPlaybookInvalid):
		return &Problem{http.StatusUnprocessableEntity, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, ErrPlaybookConflict):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, ErrMailFailed):
		return &Problem{http.StatusBadGateway, protocol.CodeMailFailed, err.Error()}
	// Attachments.
	case errors.Is(err, ErrFilesOff):
		return &Problem{http.StatusNotImplemented, protocol.CodeFilesOff, err.Error()}
	case errors.Is(err, ErrFileTooLarge):
		return &Problem{http.StatusRequestEntityTooLarge, protocol.CodeFileTooLarge, err.Error()}
	case errors.Is(err, ErrFileType):
		return &Problem{http.StatusUnsupportedMediaType, protocol.CodeFileType, err.Error()}
	// Transcript mail.
	case errors.Is(err, transcript.ErrNoMail):
		return &Problem{http.StatusNotImplemented, protocol.CodeMailUnavailable, "email is not set up on this server (start it with --smtp)"}
	case errors.Is(err, transcript.ErrBadAddress):
		return &Problem{http.StatusBadRequest, protocol.CodeInvalid, "\"to\" must be one email address, like name@example.com"}
	case errors.Is(err, transcript.ErrNotAgent):
		return &Problem{http.StatusForbidden, protocol.CodeForbidden, err.Error()}
	case errors.Is(err, transcript.ErrNotEnded):
		return &Problem{http.StatusConflict, protocol.CodeNotEnded, err.Error()}
	case errors.Is(err, transcript.ErrOtherAddress):
		return &Problem{http.StatusForbidden, protocol.CodeWrongAddress, err.Error()}
	case errors.Is(err, transcript.ErrTooMany):
		return &Problem{http.StatusTooManyRequests, protocol.CodeLimitReached, err.Error()}
	case errors.Is(err, transcript.ErrBusy):
		return &Problem{http.StatusTooManyRequests, protocol.CodeBusy, err.Error()}
	// The visitor side.
	case errors.Is(err, ErrNoConversation):
		return &Problem{http.StatusConflict, protocol.CodeNoConversation, err.Error()}
	case errors.Is(err, ErrTooFast):
		return &Problem{http.StatusTooManyRequests, protocol.CodeRateLimited, err.Error()}
	case errors.Is(err, ErrPlaybookGone):
		return &Problem{http.StatusNotFound, protocol.CodeNoPlaybook, err.Error()}
	case errors.As(err, new(*NoPlaybookError)):
		return &Problem{http.StatusNotFound, protocol.CodeNoPlaybook, err.Error()}
	case errors.Is(err, ErrBadToken):
		return &Problem{http.StatusUnauthorized, protocol.CodeBadToken, "the session token is not valid; start a new conversation"}
	case errors.Is(err, ErrExpiredToken):
		return &Problem{http.StatusUnauthorized, protocol.CodeExpiredToken, "the session token has expired; start a new conversation"}
	case errors.Is(err, ErrNotWaiting):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, ErrNotClosed):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, handoff.ErrNotResolved):
		return &Problem{http.StatusConflict, protocol.CodeNotResolved, "you can rate the conversation once it has ended"}
	case errors.Is(err, handoff.ErrRated):
		return &Problem{http.StatusConflict, protocol.CodeAlreadyRated, "this conversation has already been rated"}
	// The access policy.
	case errors.Is(err, access.ErrSignedOut):
		return &Problem{http.StatusUnauthorized, protocol.CodeForbidden, err.Error()}
	case errors.Is(err, access.ErrForbidden):
		return &Problem{http.StatusForbidden, protocol.CodeForbidden, err.Error()}
	// The CRM.
	case errors.Is(err, crm.ErrNotFound):
		return &Problem{http.StatusNotFound, protocol.CodeNotFound, "not found"}
	case errors.Is(err, crm.ErrInvalid):
		return &Problem{http.StatusBadRequest, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, crm.ErrConflict):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, crm.ErrForbidden):
		return &Problem{http.StatusForbidden, protocol.CodeForbidden, err.Error()}
	// The inbox.
	case errors.Is(err, handoff.ErrNotFound):
		return &Problem{http.StatusNotFound, protocol.CodeNotFound, "not found"}
	case errors.Is(err, handoff.ErrTaken), errors.Is(err, handoff.ErrExists),
		errors.Is(err, handoff.ErrUnavailable), errors.Is(err, handoff.ErrClosed):
		return &Problem{http.StatusConflict, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, handoff.ErrForbidden):
		return &Problem{http.StatusForbidden, protocol.CodeForbidden, err.Error()}
	case errors.Is(err, handoff.ErrInvalid):
		return &Problem{http.StatusBadRequest, protocol.CodeInvalid, err.Error()}
	case errors.Is(err, handoff.ErrTooMany):
		return &Problem{http.StatusTooManyRequests, protocol.CodeRateLimited, err.Error()}
	case errors.Is(err, handoff.ErrDisabled):
		return &Problem{http.StatusForbidden, protocol.CodeForbidden, err.Error()}
	case errors.Is(err, handoff.ErrBadPassword):
		return &Problem{http.StatusUnauthorized, protocol.CodeForbidden, err.Error()}
	// The store.
	case errors.Is(err, store.ErrNotFound):
		return &Problem{http.StatusNotFound, protocol.CodeNotFound, "this conversation has expired"}
	}
	return nil
}

// The visitor side's refusals (Widget) that no other package defines.
var (
	// ErrNoConversation: a frame that needs a conversation before start
	// or resume.
	ErrNoConversation = errors.New("send start or resume first")
	// ErrTooFast: a visitor's frames come faster than the transport's
	// limits (Allow) let through.
	ErrTooFast = errors.New("slow down")
	// ErrPlaybookGone: the playbook of a conversation to start again is
	// no longer served.
	ErrPlaybookGone = errors.New("the playbook of this conversation is no longer served")
)

// NoPlaybookError: a start frame names a playbook that is not loaded (and
// no trigger or default applies).
type NoPlaybookError struct{ Name string }

func (e *NoPlaybookError) Error() string {
	return "no playbook " + strconv.Quote(truncate(e.Name, 60)) + " is loaded"
}

// unavailableError: the store (or the playbook versions) did not answer;
// msg tells the visitor what to do, err is the cause for the log.
type unavailableError struct {
	msg string
	err error
}

func (e *unavailableError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// ErrorFrame is the visitor websocket's error frame for err, about the
// client message id id ("" for none): ProblemOf's code and message; a
// *protocol.Error (a refused field, a rate limit) is its own frame; any
// other error is unavailable, its cause never shown.
func ErrorFrame(err error, id string) *protocol.Error {
	if err == nil {
		return nil
	}
	var fe *protocol.Error
	if errors.As(err, &fe) {
		return fe
	}
	if p := ProblemOf(err); p != nil {
		return &protocol.Error{Code: p.Code, Message: p.Message, ID: id}
	}
	msg := "the store did not answer; try again"
	var un *unavailableError
	if errors.As(err, &un) {
		msg = un.msg
	}
	return &protocol.Error{Code: protocol.CodeUnavailable, Message: msg, ID: id}
}
