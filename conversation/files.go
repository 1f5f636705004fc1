package conversation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// Attachments. A file, from the visitor (Widgets.AttachByVisitor, with
// their session token) or an agent (Service.AttachByAgent, the access
// policy's conversation rule), is checked (FileLimits: its size, and its
// type as its first bytes say, never as the client says), stored in
// Config.Files under CONVERSATION/FILE, and becomes a transcript entry of
// kind "file" (Data: file, name, type, size) that both sides get like a
// message. Agents download through the conversation rule
// (Service.OpenFile); visitors through a signed URL, short-lived and bound
// to the conversation and the file (Widgets.FileURL, Widgets.OpenFile).

// FileLimits bound what may be attached. Zero values take the defaults.
type FileLimits struct {
	// MaxSize is the largest file in bytes; default 10 MiB.
	MaxSize int64
	// Types are the media types a file may have, as sniffed from its
	// first 512 bytes (http.DetectContentType, parameters left out);
	// default DefaultFileTypes.
	Types []string
	// URLTTL is how long a visitor's download URL stays valid; default
	// 15 minutes. The widget gets fresh ones whenever it (re)loads the
	// transcript.
	URLTTL time.Duration
}

// DefaultFileTypes are the types attachments may have by default: images
// a browser shows (PNG, JPEG, GIF, WebP; no SVG, which may hold script),
// PDF, plain text and ZIP (which office documents are).
var DefaultFileTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "application/zip"}

func (l FileLimits) withDefaults() FileLimits {
	if l.MaxSize <= 0 {
		l.MaxSize = 10 << 20
	}
	if len(l.Types) == 0 {
		l.Types = DefaultFileTypes
	}
	if l.URLTTL <= 0 {
		l.URLTTL = 15 * time.Minute
	}
	return l
}

// The attachments' refusals (ProblemOf maps them).
var (
	// ErrFilesOff: the server keeps no files (Config.Files is nil).
	ErrFilesOff = errors.New("attachments are off on this server")
	// ErrFileTooLarge: a file over FileLimits.MaxSize.
	ErrFileTooLarge = errors.New("file_too_large")
	// ErrFileType: a file whose sniffed type is not in FileLimits.Types.
	ErrFileType = errors.New("file_type")
)

// FileLimits returns the limits in force.
func (s *Service) FileLimits() FileLimits { return s.cfg.FileLimits }

// FilesOn reports whether attachments are on (Config.Files is set).
func (s *Service) FilesOn() bool { return s.cfg.Files != nil }

// IsImage reports whether a file of type typ is shown as an image (inline,
// previewed), not offered as a download.
func IsImage(typ string) bool {
	mt, _, _ := mime.ParseMediaType(typ)
	return slices.Contains([]string{"image/png", "image/jpeg", "image/gif", "image/webp"}, mt)
}

// SafeFileName is name as it may be stored and shown: its last path
// element (either slash), without control characters (CR, LF, NUL ...),
// quotes or backslashes, valid UTF-8, at most 120 characters (the
// extension kept), "file" when nothing is left.
func SafeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r == '"', r == '\\', r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.Trim(name, ". "))
	if utf8.RuneCountInString(name) > 120 {
		ext := path.Ext(name)
		if utf8.RuneCountInString(ext) > 20 {
			ext = ""
		}
		r := []rune(strings.TrimSuffix(name, ext))
		name = string(r[:120-utf8.RuneCountInString(ext)]) + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// readFile reads a file of at most lim.MaxSize bytes from r and sniffs its
// type: ErrFileTooLarge, ErrFileType (naming what was found and what is
// allowed), or its bytes and type.
func readFile(r io.Reader, lim FileLimits) ([]byte, string, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: the file could not be read: %w", ErrInvalid, err)
	}
	if int64(len(data)) > lim.MaxSize {
		return nil, "", refuse(ErrFileTooLarge, "this file is larger than "+FormatSize(lim.MaxSize)+", the most a file may be")
	}
	if len(data) == 0 {
		return nil, "", refuse(ErrInvalid, "this file is empty")
	}
	typ := http.DetectContentType(data)
	mt, _, _ := mime.ParseMediaType(typ)
	if !slices.Contains(lim.Types, mt) {
		return nil, "", refuse(ErrFileType, "files of this type ("+mt+") are not allowed; allowed: "+typeNames(lim.Types))
	}
	return data, typ, nil
}

func typeNames(types []string) string {
	names := map[string]string{"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP",
		"application/pdf": "PDF", "text/plain": "text", "application/zip": "ZIP (and Office documents)"}
	out := make([]string, 0, len(types))
	for _, t := range types {
		if n, ok := names[t]; ok {
			out = append(out, n)
		} else {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// FormatSize is n bytes for people: "812 bytes", "4.2 KB", "10 MB".
func FormatSize(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " bytes"
	case n < 1<<20:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64), ".0") + " KB"
	}
	return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".0") + " MB"
}

// fileKey is where file id of conversation conv is stored.
func fileKey(conv, id string) string { return conv + "/" + id }

// storeFile checks and stores a file of conversation conv and returns the
// entry that announces it (from, author and the rest for the caller).
func (s *Service) storeFile(ctx context.Context, conv, name string, r io.Reader) (store.Entry, error) {
	if s.cfg.Files == nil {
		return store.Entry{}, ErrFilesOff
	}
	data, typ, err := readFile(r, s.cfg.FileLimits)
	if err != nil {
		return store.Entry{}, err
	}
	name = SafeFileName(name)
	id := NewID()
	if !store.ValidBlobKey(fileKey(conv, id)) {
		return store.Entry{}, fmt.Errorf("%w: conversation id %q", ErrInvalid, truncate(conv, 60))
	}
	if err := s.cfg.Files.Put(ctx, store.Blob{Key: fileKey(conv, id), Name: name, Type: typ, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		return store.Entry{}, err
	}
	return store.Entry{Kind: "file", Text: name, At: s.now().UTC(),
		Data: map[string]any{"file": id, "name": name, "type": typ, "size": int64(len(data))}}, nil
}

// AttachByAgent stores agent a's file in conversation id and sends it to
// the visitor, as Reply sends a message: a chat nobody has taken is taken,
// one another agent has is refused, a resolved one too. The file is
// checked first (FileLimits), so a refused file takes nothing.
func (s *Service) AttachByAgent(ctx context.Context, a *handoff.Agent, id, name, clientID string, r io.Reader) (store.Entry, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return store.Entry{}, err
	}
	if c.Status == handoff.StatusResolved {
		return store.Entry{}, handoff.ErrClosed
	}
	if c.Assignee != a.ID && c.Assignee != "" {
		return store.Entry{}, assignedError{c.AssigneeName}
	}
	e, err := s.storeFile(ctx, c.ID, name, r)
	if err != nil {
		return store.Entry{}, err
	}
	if c.Assignee != a.ID {
		if c, err = s.Assign(ctx, c.ID, a, a, true); err != nil {
			return store.Entry{}, err
		}
	}
	e.From, e.Author, e.ClientID = "agent", a.Name, clientID
	e.Data[AuthorIDKey] = a.ID
	return s.appendEntry(ctx, a, c, clientID, e)
}

// OpenFile returns file fileID of conversation id, for agent a, who must
// be allowed on the conversation (the access policy's conversation rule).
func (s *Service) OpenFile(ctx context.Context, a *handoff.Agent, id, fileID string) (io.ReadCloser, store.Blob, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, store.Blob{}, err
	}
	return s.openFile(ctx, c.ID, fileID)
}

func (s *Service) openFile(ctx context.Context, conv, fileID string) (io.ReadCloser, store.Blob, error) {
	if s.cfg.Files == nil {
		return nil, store.Blob{}, ErrFilesOff
	}
	r, b, err := s.cfg.Files.Open(ctx, fileKey(conv, fileID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Blob{}, refuse(handoff.ErrNotFound, "no such file")
	}
	return r, b, err
}

// AttachByVisitor stores the visitor's file in the conversation their
// session token names and sends it to the agents (and the visitor's other
// tabs). The bot does not read it: it is not a turn of the playbook.
func (ws *Widgets) AttachByVisitor(ctx context.Context, token, name, clientID string, r io.Reader) (store.Entry, error) {
	s := ws.svc
	conv, err := ws.cfg.Tokens.Verify(ctx, token, s.now())
	if err != nil {
		return store.Entry{}, err
	}
	if len(clientID) > 100 {
		return store.Entry{}, refuse(ErrInvalid, "client_id may be at most 100 characters")
	}
	e, err := s.storeFile(ctx, conv, name, r)
	if err != nil {
		return store.Entry{}, err
	}
	e.From, e.ClientID = "visitor", clientID
	key := ""
	if clientID != "" {
		key = "visitor-file:" + clientID
	}
	res, err := s.store.Turn(ctx, conv, key, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		return sess, []store.Entry{e}, nil
	})
	if err != nil {
		_ = s.cfg.Files.Delete(context.WithoutCancel(ctx), fileKey(conv, e.Data["file"].(string)))
		return store.Entry{}, err
	}
	if len(res.Entries) == 0 {
		return store.Entry{}, fmt.Errorf("conversation %s: the store stored nothing", conv)
	}
	if res.Duplicate {
		_ = s.cfg.Files.Delete(context.WithoutCancel(ctx), fileKey(conv, e.Data["file"].(string)))
	} else if c, err := s.inbox.Conversation(ctx, conv); err == nil {
		if err := s.inbox.Touch(ctx, c, handoff.Last{From: "visitor", Text: truncate("📎 "+e.Text, 200), At: e.At}); err != nil {
			s.log.Warn("updating the inbox's last message", "conversation", conv, "err", err)
		} else {
			s.PublishConversation(ctx, c)
		}
	}
	return res.Entries[0], nil
}

// FileURL is the path (and query) of a visitor's download URL for file
// fileID of conversation conv: signed with the token secret, bound to the
// conversation and the file, valid for FileLimits.URLTTL from now.
func (ws *Widgets) FileURL(conv, fileID string) string {
	exp := strconv.FormatInt(ws.svc.now().Add(ws.svc.cfg.FileLimits.URLTTL).Unix(), 10)
	sig := ws.cfg.Tokens.signWith(fileScope(conv, fileID, exp))
	return "/api/widget/files/" + url.PathEscape(conv) + "/" + url.PathEscape(fileID) + "?exp=" + exp + "&sig=" + sig
}

func fileScope(conv, fileID, exp string) string {
	return "file\x00" + conv + "\x00" + fileID + "\x00" + exp
}

// OpenFile returns file fileID of conversation conv to a visitor holding
// a URL of FileURL (its exp and sig), as the access policy decides
// (access.VisitorFile): the signature must check, for this conversation
// and this file, before its expiry.
func (ws *Widgets) OpenFile(ctx context.Context, conv, fileID, exp, sig string) (io.ReadCloser, store.Blob, error) {
	u := access.FileURL{Conversation: conv, File: fileID}
	if n, err := strconv.ParseInt(exp, 10, 64); err == nil && len(sig) < 100 {
		u.Expires = time.Unix(n, 0)
		u.Signed = ws.cfg.Tokens.checkWith(fileScope(conv, fileID, exp), sig)
	}
	if err := access.VisitorFile(u, conv, fileID, ws.svc.now()); err != nil {
		return nil, store.Blob{}, err
	}
	return ws.svc.openFile(ctx, conv, fileID)
}

// File describes a stored attachment (its name, type and size), as
// OpenFile returns it.
type File = store.Blob
