package crm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Chat is a conversation as it appears in an activity feed.
type Chat struct {
	Conversation string     `json:"conversation"`
	Playbook     string     `json:"playbook,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	// Agent is the name of the agent who took the chat, if one did.
	Agent string `json:"agent,omitempty"`
	// FirstMessage is the visitor's first message (cut to 200 characters).
	FirstMessage string `json:"first_message,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	// Transcript is the path of the full transcript in the agent API.
	Transcript string `json:"transcript"`
}

// TranscriptPath is where the agent API serves a conversation's transcript.
func TranscriptPath(conv string) string { return "/api/conversations/" + conv + "/transcript" }

// Feed item types, for filtering.
const (
	FeedChats   = "chats"
	FeedNotes   = "notes"
	FeedRecords = "records"
)

// FeedItem is one entry of an activity feed: a chat, a note or a record.
type FeedItem struct {
	Type   string    `json:"type"` // chat, note or record
	At     time.Time `json:"at"`
	Chat   *Chat     `json:"chat,omitempty"`
	Record *Record   `json:"record,omitempty"`
}

// encodeChat is a chat's stored form: its JSON without the conversation
// (the store keeps the chat under it) and without the transcript's path
// when it is TranscriptPath's, about 100 bytes less.
func encodeChat(c Chat) string {
	conv := c.Conversation
	c.Conversation = ""
	if c.Transcript == TranscriptPath(conv) {
		c.Transcript = ""
	}
	b, _ := json.Marshal(struct {
		Chat
		Conversation string `json:"conversation,omitempty"`
		Transcript   string `json:"transcript,omitempty"`
	}{Chat: c, Transcript: c.Transcript})
	return string(b)
}

// decodeChat reads the chat kept for conversation conv, in its stored
// form or the older one (with the conversation and the path).
func decodeChat(conv, v string) (Chat, error) {
	var c Chat
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return Chat{}, err
	}
	if c.Conversation == "" {
		c.Conversation = conv
	}
	if c.Transcript == "" {
		c.Transcript = TranscriptPath(c.Conversation)
	}
	return c, nil
}

// putChat adds writing a chat, and putting it in a person's feed, to a
// change. The chat's item is scored by its start, once.
func (s *Store) putChat(ch *change, person string, c Chat) {
	c.FirstMessage = truncate(c.FirstMessage, 200)
	ch.c.Chats = append(ch.c.Chats, store.Chat{Conv: c.Conversation, JSON: encodeChat(c)})
	ch.feed(person, "c:"+c.Conversation, c.StartedAt.UnixMilli(), true)
	ch.conv(c.Conversation, "person", person)
}

// LinkChat puts a conversation in the activity feed of a person, or
// refreshes it there (the agent who joined, the end time, the outcome). It
// also adds the conversation's team to the person's teams. The person is
// the conversation's own (from a record made in it), else the one with the
// visitor's email; with neither it does nothing and returns "".
func (s *Store) LinkChat(ctx context.Context, c Chat, team, email string) (string, error) {
	return s.LinkChatOf(ctx, c, team, email, "")
}

// LinkChatOf is LinkChat for a caller that has just read the person
// (PersonOf with the same conversation and email; "" when it has not): the
// first try goes by it instead of reading it again, a try that found the
// person changed reads it afresh.
func (s *Store) LinkChatOf(ctx context.Context, c Chat, team, email, person string) (string, error) {
	if c.Conversation == "" {
		return "", fmt.Errorf("%w: a chat needs its conversation", ErrInvalid)
	}
	for try := 0; try < maxTries; try++ {
		if try > 0 || person == "" {
			var err error
			if person, err = s.PersonOf(ctx, c.Conversation, email); err != nil || person == "" {
				return "", err
			}
		}
		rs, err := s.load(ctx, person)
		if err != nil {
			return "", err
		}
		if rs[0].rec == nil {
			return "", nil
		}
		ch := newChange()
		s.putChat(ch, person, c)
		if team != "" && !slices.Contains(rs[0].rec.Teams, team) {
			p := rs[0].rec
			p.Teams = append(p.Teams, team)
			b, err := encodeRecord(p)
			if err != nil {
				return "", err
			}
			ch.record(person, rs[0].json, string(b))
		}
		if _, err := s.commit(ctx, ch); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return "", err
		}
		return person, nil
	}
	return "", fmt.Errorf("%w: the person kept changing", ErrConflict)
}

// PersonOf returns the person a conversation is linked to (by a record
// made in it), else the person with the email, else "". One read: the
// conversation's memory with the index entry PersonIndex(email).
func (s *Store) PersonOf(ctx context.Context, conv, email string) (string, error) {
	var idx []string
	if n := PersonIndex(email); n != "" {
		idx = append(idx, n)
	}
	m, ids, err := s.st.Conversation(ctx, conv, idx...)
	if err != nil {
		return "", err
	}
	return PersonFrom(m, ids), nil
}

// PersonIndex is the index entry PersonOf reads with the conversation's
// memory for email ("" when email is empty), for a caller that reads it
// ahead (store.TurnReads.CRMIndexes).
func PersonIndex(email string) string {
	if e := NormalizeEmail(email); e != "" {
		return emailIndex(e)
	}
	return ""
}

// PersonFrom is PersonOf's answer from what it reads: the conversation's
// memory and the ids of the index entries read with it, the first being
// PersonIndex's (none when there was no email).
func PersonFrom(memory map[string]string, ids []string) string {
	if memory["person"] != "" || len(ids) == 0 {
		return memory["person"]
	}
	return ids[0]
}

// Linked reports the person a conversation is linked to, or "".
func (s *Store) Linked(ctx context.Context, conv string) (string, error) {
	m, _, err := s.st.Conversation(ctx, conv)
	if err != nil {
		return "", err
	}
	return m["person"], nil
}

// ChatOf returns the chat item kept for a conversation.
func (s *Store) ChatOf(ctx context.Context, conv string) (*Chat, error) {
	vs, err := s.st.Chats(ctx, conv)
	if err != nil {
		return nil, err
	}
	if vs[0] == "" {
		return nil, ErrNotFound
	}
	c, err := decodeChat(conv, vs[0])
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// maxFeed bounds the items a feed answers.
const maxFeed = 500

// Feed returns the activity feed of a person, lead, deal or organization,
// newest first: every chat with the person (for a lead or deal, with its
// person), the notes and the records linked to it. typ filters: "chats",
// "notes", "records" or "" for all. At most limit items (default 100, at
// most 500).
func (s *Store) Feed(ctx context.Context, id, typ string, limit int) ([]FeedItem, error) {
	switch typ {
	case "", FeedChats, FeedNotes, FeedRecords:
	default:
		return nil, fmt.Errorf("%w: type is chats, notes or records", ErrInvalid)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxFeed)
	rec, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	sources := []string{id}
	if (rec.Kind == KindLead || rec.Kind == KindDeal) && rec.PersonID != "" {
		sources = append(sources, rec.PersonID)
	}
	type member struct {
		m     string
		score float64
	}
	var all []member
	seen := map[string]bool{}
	for i, k := range sources {
		zs, err := s.st.Feed(ctx, k, maxFeed)
		if err != nil {
			return nil, err
		}
		for _, z := range zs {
			m := z.Member
			if seen[m] {
				continue
			}
			// From the person's feed a lead or deal takes only the chats.
			if i > 0 && !strings.HasPrefix(m, "c:") {
				continue
			}
			if !wanted(m, typ) {
				continue
			}
			seen[m] = true
			all = append(all, member{m, z.Score})
		}
	}
	slices.SortStableFunc(all, func(a, b member) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	if len(all) > limit {
		all = all[:limit]
	}
	var chats, recs []string // conversations, record ids
	for _, m := range all {
		kind, ref, _ := strings.Cut(m.m, ":")
		if kind == "c" {
			chats = append(chats, ref)
		} else {
			recs = append(recs, ref)
		}
	}
	chatVals, err := s.st.Chats(ctx, chats...)
	if err != nil {
		return nil, err
	}
	chatConvs := chats
	recVals, err := s.st.Records(ctx, recs...)
	if err != nil {
		return nil, err
	}
	recIDs := recs
	// vals: each item's stored form; convs: its conversation (a chat) or
	// record id.
	vals, convs := make([]string, len(all)), make([]string, len(all))
	for i, m := range all {
		if m.m[0] == 'c' {
			vals[i], chatVals = chatVals[0], chatVals[1:]
			convs[i], chatConvs = chatConvs[0], chatConvs[1:]
		} else {
			vals[i], recVals = recVals[0], recVals[1:]
			convs[i], recIDs = recIDs[0], recIDs[1:]
		}
	}
	out := make([]FeedItem, 0, len(all))
	for i, m := range all {
		if vals[i] == "" {
			continue
		}
		at := time.UnixMilli(int64(m.score)).UTC()
		switch m.m[0] {
		case 'c':
			if c, err := decodeChat(convs[i], vals[i]); err == nil {
				out = append(out, FeedItem{Type: "chat", At: c.StartedAt, Chat: &c})
			}
		default:
			var r Record
			if decodeRecord(convs[i], vals[i], &r) == nil {
				t := "record"
				if r.Kind == KindNote {
					t = "note"
				}
				out = append(out, FeedItem{Type: t, At: at, Record: &r})
			}
		}
	}
	return out, nil
}

// LinkedRecords returns the records in a person's or organization's feed that
// v may see (its leads, deals, tasks; an organization's people), newest
// first, grouped by kind.
func (s *Store) LinkedRecords(ctx context.Context, v Viewer, id string) (map[Kind][]*Record, error) {
	items, err := s.Feed(ctx, id, FeedRecords, maxFeed)
	if err != nil {
		return nil, err
	}
	out := map[Kind][]*Record{}
	for _, it := range items {
		if it.Record != nil && v.CanSee(it.Record) {
			out[it.Record.Kind] = append(out[it.Record.Kind], it.Record)
		}
	}
	return out, nil
}

func wanted(member, typ string) bool {
	switch typ {
	case FeedChats:
		return strings.HasPrefix(member, "c:")
	case FeedNotes:
		return strings.HasPrefix(member, "n:")
	case FeedRecords:
		return strings.HasPrefix(member, "r:")
	}
	return true
}

// maxArchive bounds an archived transcript.
const maxArchive = 2 << 20

// ArchiveTranscript keeps a copy of a linked conversation's transcript
// (store.EncodeEntries' form), so the feed's link outlives the
// conversation's idle expiry. Larger than 2 MiB is refused. The service no
// longer copies transcripts (the store keeps the transcript a feed links:
// store.Sessions.KeepTranscript); the copies older versions made are
// still read (ArchivedTranscript).
func (s *Store) ArchiveTranscript(ctx context.Context, conv string, transcript []byte) error {
	if len(transcript) > maxArchive {
		return fmt.Errorf("%w: the transcript is over 2 MiB", ErrInvalid)
	}
	return s.st.PutArchive(ctx, conv, transcript)
}

// ArchivedTranscript returns the copy ArchiveTranscript kept.
func (s *Store) ArchivedTranscript(ctx context.Context, conv string) ([]byte, error) {
	b, err := s.st.Archive(ctx, conv)
	if err == nil && b == nil {
		return nil, ErrNotFound
	}
	return b, err
}
