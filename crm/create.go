package crm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/retry"
	"github.com/playbook-dev/playbook/store"
)

// Source is where a create comes from.
type Source struct {
	// Conversation is the conversation the record is made from; "" for
	// none (a script or the API).
	Conversation string
	// Team is the conversation's team, when it was handed off.
	Team string
	// Visitor is what the conversation knows of the visitor (the pre-chat
	// form, a var of type email): used when the record names nobody.
	Visitor Contact
	// Agent is the agent who creates the record; nil for the bot.
	Agent *Agent
	// BotName is the bot's name, for CreatedByName.
	BotName string
	// Playbook is the id of the conversation's playbook: the records made
	// keep it (Record.Playbook).
	Playbook string
	// Chat, when set, is put in the activity feed of the person the record
	// is linked to.
	Chat *Chat
	// Read, when set, is what the CRM's store answered for the
	// conversation's memory and index entries, read with the turn that
	// asks for the create (store.TurnReads): a create's first try reads
	// only what it lacks. Its compare-and-sets check what it used.
	Read *ConversationRead
}

// ConversationRead is a read of the CRM's memory of a conversation and of
// index entries (store.CRM.Conversation), made ahead of a create.
type ConversationRead struct {
	Memory  map[string]string
	Indexes map[string]string // index name (store.IndexKey) → record id, "" for none
	// Records are the records the memory (its person and organization)
	// and the index entries name, read with them, by id (their JSON as
	// store.CRM.Records answers it); nil when they were not.
	Records map[string]string
}

// ReadNames are the index entries a create of rec from a conversation
// whose visitor is visitor reads first (with the conversation's memory):
// the store.IndexKey names to read ahead with the turn. A record the
// create cannot make (ErrInvalid) reads none.
func ReadNames(visitor Contact, rec engine.Record) []string {
	d, err := newDraft(Kind(rec.Kind), rec.Fields)
	if err != nil {
		return nil
	}
	return readNames(Source{Visitor: visitor}, d)
}

// Clone is a copy of src that shares nothing a caller may change (its
// Chat is copied).
func (src Source) Clone() Source {
	if src.Chat != nil {
		c := *src.Chat
		src.Chat = &c
	}
	return src
}

// Result is what Create made, or found made by an earlier call with the
// same key.
type Result struct {
	Record       *Record // the record asked for (for kind person: the person)
	Person       *Record // the person it is linked to, if any
	Organization *Record // the person's or record's organization, if any
	// Created lists every record this call created, in order (a new
	// organization, a new person, then the record); empty for a duplicate.
	Created []*Record
	// Duplicate is set when the key had been used: nothing was written.
	Duplicate bool
}

// idemValue is what an idempotency key remembers.
type idemValue struct {
	Record       string `json:"r"`
	Person       string `json:"p,omitempty"`
	Organization string `json:"o,omitempty"`
}

// maxTries bounds how often Create reads again after a concurrent change.
const maxTries = 20

// Create makes the record a create card (or an agent) asks for, linked to
// the person it is about (matched by email, then phone, or made), that
// person's organization (by email domain), and the conversation's latest
// lead and deal; it resolves the owner; it puts the record, and the chat,
// in the activity feeds; and it adds a record.created event to the outbox
// for every record it made (when a webhook wants record.created) — all
// in one atomic step. The same rec.Key
// creates once: a second call answers the first call's records with
// Duplicate set.
func (s *Store) Create(ctx context.Context, src Source, rec engine.Record) (*Result, error) {
	if rec.Key == "" {
		return nil, fmt.Errorf("%w: a record needs an idempotency key", ErrInvalid)
	}
	d, err := newDraft(Kind(rec.Kind), rec.Fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	key := rec.Key
	if len(key) > 200 {
		h := sha256.Sum256([]byte(key))
		key = "h:" + hex.EncodeToString(h[:])
	}
	// Another create changed the records under this one: try again after
	// a few milliseconds, with jitter.
	var res *Result
	try := 0
	err = retry.Do(ctx, retry.Policy{Tries: maxTries, Base: 3 * time.Millisecond, Max: 20 * time.Millisecond}, func(ctx context.Context) error {
		var err error
		res, err = s.tryCreate(ctx, src, *d, rec.Key, key, try > 0)
		try++
		if errors.Is(err, errStale) {
			return err
		}
		return retry.Permanent(err)
	})
	switch {
	case err == nil:
		if !res.Duplicate {
			for _, r := range res.Created {
				s.m.RecordCreated(string(r.Kind))
			}
			s.afterCreate(ctx, src, res)
			if s.changedMsg == nil {
				s.tellChanged(ctx, res.Created...) // else sent with the change
			}
		}
		return res, nil
	case ctx.Err() == nil && errors.Is(err, errStale):
		return nil, fmt.Errorf("%w: the records kept changing under the create", ErrConflict)
	case ctx.Err() != nil:
		return nil, err
	}
	return res, err
}

// duplicate answers a key used before with the records it made.
func (s *Store) duplicate(ctx context.Context, v string) (*Result, error) {
	var iv idemValue
	if err := json.Unmarshal([]byte(v), &iv); err != nil {
		return nil, fmt.Errorf("crm: bad idempotency value %q", v)
	}
	rs, err := s.load(ctx, iv.Record, iv.Person, iv.Organization)
	if err != nil {
		return nil, err
	}
	return &Result{Record: rs[0].rec, Person: rs[1].rec, Organization: rs[2].rec, Duplicate: true}, nil
}

// tryCreate reads, decides and commits once; errStale means read again.
func (s *Store) tryCreate(ctx context.Context, src Source, d draft, fullKey, key string, retry bool) (*Result, error) {
	// A key used before is found when the change is applied; reading it
	// first would cost every create a round trip. After a stale read it is
	// read first: the stale read may be this key's own change, left under
	// way by a crash, which this finishes.
	if retry {
		if v, err := s.st.Intent(ctx, key); err != nil {
			return nil, err
		} else if v != "" {
			return s.duplicate(ctx, v)
		}
	}
	now := s.now().UTC()
	ch := newChange()
	ch.c.Key, ch.c.KeyTTL, ch.c.Planned = key, idemTTL, now.UnixMilli()
	cc, ctx, err := s.readAhead(ctx, src, &d, retry)
	if err != nil {
		return nil, err
	}
	main := d.rec
	main.Key = fullKey
	main.Conversation, main.Playbook = src.Conversation, src.Playbook
	main.CreatedAt, main.UpdatedAt = now, now
	if src.Agent != nil {
		main.CreatedBy, main.CreatedByName = src.Agent.ID, src.Agent.Name
	} else {
		main.CreatedBy, main.CreatedByName = "bot", src.BotName
	}
	res := &Result{}

	// The person.
	p, err := s.resolvePerson(ctx, src, &d, cc)
	if err != nil {
		return nil, err
	}
	// The organization: for a new person, one without, or an organization
	// record.
	o, err := s.resolveOrg(ctx, &d, p)
	if err != nil {
		return nil, err
	}
	// The owner.
	owner, team, err := s.resolveOwner(ctx, src, d.owner, p, cc)
	if err != nil {
		return nil, err
	}
	if d.rec.Kind == KindNote {
		owner = nil // a note belongs to what it is about
	}
	teams := []string{}
	addTeam := func(t string) {
		if t != "" && !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	addTeam(src.Team)
	addTeam(team)
	if len(teams) == 0 && owner != nil {
		for _, t := range owner.Teams {
			addTeam(t)
		}
	}
	if len(teams) == 0 && p != nil {
		for _, t := range p.rec.Teams {
			addTeam(t)
		}
	}
	if len(teams) == 0 && src.Agent != nil {
		for _, t := range src.Agent.Teams {
			addTeam(t)
		}
	}

	// At most three (an organization, a person, the record): room for
	// them at once. Each gets a record.created event.
	created := make([]*Record, 0, 3)
	var updated []*Record
	finish := func(r *slot, kind Kind) {
		if r == nil || r.rec == nil {
			return
		}
		for _, t := range teams {
			if !slices.Contains(r.rec.Teams, t) {
				r.rec.Teams = append(r.rec.Teams, t)
				r.changed = true
			}
		}
		if r.rec.Owner == "" && owner != nil {
			r.rec.Owner, r.rec.OwnerName = owner.ID, owner.Name
			r.changed = true
		}
		if r.isNew {
			r.rec.ID = newID(idPrefix[kind])
			r.rec.Kind = kind
			r.rec.CreatedAt, r.rec.UpdatedAt = now, now
			r.rec.Conversation, r.rec.Playbook = src.Conversation, src.Playbook
			r.rec.CreatedBy, r.rec.CreatedByName = main.CreatedBy, main.CreatedByName
		}
	}
	if d.rec.Kind != KindOrganization {
		finish(o, KindOrganization)
	}
	if d.rec.Kind != KindPerson {
		finish(p, KindPerson)
	}
	if p != nil && o != nil && p.rec.OrganizationID == "" {
		p.rec.OrganizationID = o.rec.ID
		p.changed = true
	}

	// The record itself, unless it is the person or organization matched.
	var self *slot
	switch d.rec.Kind {
	case KindPerson:
		self = p
		if self == nil {
			return nil, fmt.Errorf("%w: a person needs a name, an email or a phone", ErrInvalid)
		}
		finish(self, KindPerson)
		if o != nil && self.rec.OrganizationID == "" {
			self.rec.OrganizationID = o.rec.ID
		}
		if main.Note != "" && self.rec.Note == "" {
			self.rec.Note, self.changed = main.Note, true
		}
		mergeCustom(self, main.Custom)
	case KindOrganization:
		self = o
		if self == nil {
			return nil, fmt.Errorf("%w: an organization needs a name or a domain", ErrInvalid)
		}
		finish(self, KindOrganization)
		if main.Note != "" && self.rec.Note == "" {
			self.rec.Note, self.changed = main.Note, true
		}
		mergeCustom(self, main.Custom)
	default:
		self = &slot{rec: &main, isNew: true}
		if p != nil {
			main.PersonID = p.rec.ID
		}
		if o != nil {
			main.OrganizationID = o.rec.ID
		} else if p != nil {
			main.OrganizationID = p.rec.OrganizationID
		}
		switch main.Kind {
		case KindDeal:
			main.LeadID = cc.Lead
		case KindTask:
			main.LeadID, main.DealID = cc.Lead, cc.Deal
		case KindNote:
			main.LeadID, main.DealID = cc.Lead, cc.Deal
			switch main.About {
			case "lead":
				main.AboutID = cc.Lead
			case "deal":
				main.AboutID = cc.Deal
			default:
				main.AboutID = main.PersonID
			}
		}
		if main.Kind == KindNote && main.About == "owner" && d.owner == "" {
			// A note for the owner goes to the person's owner, else to
			// the owner the conversation's round robin picked.
			if p != nil && p.rec.Owner != "" {
				main.Owner, main.OwnerName = p.rec.Owner, p.rec.OwnerName
			} else if len(cc.Owners) > 0 && s.agents != nil {
				teamsOf := make([]string, 0, len(cc.Owners))
				for t := range cc.Owners {
					teamsOf = append(teamsOf, t)
				}
				sort.Strings(teamsOf)
				if a, err := s.agents.Agent(ctx, cc.Owners[teamsOf[0]]); err == nil {
					main.Owner, main.OwnerName = a.ID, a.Name
				}
			}
		}
		finish(self, main.Kind)
	}

	// Write what is new or changed. createdJSON is the created records'
	// JSON array as json.Marshal(created) writes it, made from their
	// stored forms (for the records message: the JSON is not made twice;
	// nil when a record's could not be).
	var createdJSON []byte
	if s.changedMsg != nil {
		createdJSON = make([]byte, 1, 2048)
		createdJSON[0] = '['
	}
	for _, sl := range []*slot{o, p, self} {
		if sl == nil || sl.written {
			continue
		}
		sl.written = true
		old := ""
		if sl.isNew {
			created = append(created, sl.rec)
		} else if sl.changed {
			sl.rec.UpdatedAt = now
			updated = append(updated, sl.rec)
			old = sl.json
		} else {
			continue
		}
		b, err := encodeRecord(sl.rec)
		if err != nil {
			return nil, err
		}
		ch.record(sl.rec.ID, old, string(b))
		if sl.isNew {
			ch.list(sl.rec, now.UnixMilli())
			if createdJSON != nil {
				if len(createdJSON) > 1 {
					createdJSON = append(createdJSON, ',')
				}
				createdJSON = appendRecordJSON(createdJSON, b, sl.rec)
			}
		}
	}
	// Indexes of the person and organization.
	if p != nil {
		s.index(ch, p)
	}
	if o != nil {
		s.index(ch, o)
	}
	ms := now.UnixMilli()
	// The conversation's memory and results.
	if src.Conversation != "" {
		ck := src.Conversation
		if p != nil {
			ch.conv(ck, "person", p.rec.ID)
		}
		if o != nil {
			ch.conv(ck, "organization", o.rec.ID)
		}
		switch self.rec.Kind {
		case KindLead:
			ch.conv(ck, "lead", self.rec.ID)
		case KindDeal:
			ch.conv(ck, "deal", self.rec.ID)
		}
		if team != "" && owner != nil {
			ch.conv(ck, "owner:"+team, owner.ID)
		}
		// Scored by creation time in ms·1000 plus the order within this
		// create, so records made in one millisecond keep their order.
		for i, r := range created {
			ch.result(src.Conversation, r.ID, ms*1000+int64(i))
		}
	}
	// The feeds. Each item names a record new in this change, which no
	// feed holds yet (or holds from this same change, applied again, at
	// the same ms): added with NX it is added as without, and a person's
	// feed takes it in one write with the chat's item, which is NX too
	// (store/redis: one ZADD a key and flag).
	item := feedMember(self.rec)
	if self.isNew && p != nil && self != p {
		ch.feed(p.rec.ID, item, ms, newMember)
	}
	if self.isNew && self.rec.Kind != KindLead && self.rec.LeadID != "" && (self.rec.Kind != KindNote || self.rec.About == "lead") {
		ch.feed(self.rec.LeadID, item, ms, newMember)
	}
	if self.isNew && self.rec.Kind != KindDeal && self.rec.DealID != "" && (self.rec.Kind != KindNote || self.rec.About == "deal") {
		ch.feed(self.rec.DealID, item, ms, newMember)
	}
	// An organization's feed has its people, leads and deals.
	if self.isNew && self.rec.OrganizationID != "" && (self.rec.Kind == KindLead || self.rec.Kind == KindDeal || self.rec.Kind == KindPerson) {
		ch.feed(self.rec.OrganizationID, item, ms, newMember)
	}
	if p != nil && p.isNew && p != self && p.rec.OrganizationID != "" {
		ch.feed(p.rec.OrganizationID, feedMember(p.rec), ms, newMember)
	}
	if p != nil && src.Chat != nil {
		s.putChat(ch, p.rec.ID, *src.Chat)
	}
	// The outbox.
	for _, r := range created {
		if err := s.addRecordEvent(ctx, ch, EventRecordCreated, r, p, o, now); err != nil {
			return nil, err
		}
	}
	for _, r := range updated {
		if err := s.addRecordEvent(ctx, ch, EventRecordUpdated, r, p, o, now); err != nil {
			return nil, err
		}
	}
	iv := idemValue{Record: self.rec.ID}
	if p != nil {
		iv.Person = p.rec.ID
		res.Person = p.rec
	}
	if o != nil {
		iv.Organization = o.rec.ID
		res.Organization = o.rec
	}
	ivb, _ := json.Marshal(iv)
	ch.c.Done = string(ivb)
	if s.changedMsg != nil && len(created) > 0 {
		if createdJSON != nil {
			createdJSON = append(createdJSON, ']')
		}
		if m, ok := s.changedMsg(created, createdJSON); ok {
			ch.c.Publish = append(ch.c.Publish, m)
		}
	}

	dup, err := s.commit(ctx, ch)
	if err != nil {
		return nil, err
	}
	if dup != "" {
		return s.duplicate(ctx, dup)
	}
	res.Record = self.rec
	res.Created = created
	return res, nil
}

// slot is a person or organization Create works on: found (with the JSON
// it was read as) or new.
type slot struct {
	rec     *Record
	json    string
	isNew   bool
	changed bool
	written bool
	// index keys to claim: key → expected current value ("" = absent).
	claims map[string]string
}

func (sl *slot) claim(key, current string) {
	if sl.claims == nil {
		sl.claims = map[string]string{}
	}
	sl.claims[key] = current
}

// index claims a slot's index keys for it: each must still hold what was
// read, then points at the slot's record.
func (s *Store) index(ch *change, sl *slot) {
	keys := make([]string, 0, len(sl.claims))
	for k := range sl.claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ch.index(k, sl.claims[k], sl.rec.ID)
	}
}

func mergeCustom(sl *slot, custom map[string]any) {
	for k, v := range custom {
		if sl.rec.Custom == nil {
			sl.rec.Custom = map[string]any{}
		}
		if _, ok := sl.rec.Custom[k]; !ok {
			sl.rec.Custom[k] = v
			sl.changed = true
		}
	}
}

// readCache is what one try of Create read ahead: the index entries its
// contact may need and the records they and the conversation name, in two
// round trips instead of one per step of the resolving.
type readCache struct {
	idx  map[string]string // index name → record id
	recs map[string]string // record id → JSON ("" = missing)
}

type readCacheKey struct{}

// readAhead reads the conversation's memory with the index entries the
// draft's contact, the visitor and the organization may need, then the
// records they name, and returns the context carrying them for lookup and
// found. A first try (not again) takes what src.Read has.
func (s *Store) readAhead(ctx context.Context, src Source, d *draft, again bool) (ConversationContext, context.Context, error) {
	names := readNames(src, d)
	var m map[string]string
	var ids []string
	var err error
	if r := src.Read; r != nil && !again {
		var missing []string
		for _, n := range names {
			if _, ok := r.Indexes[n]; !ok {
				missing = append(missing, n)
			}
		}
		var got []string
		if len(missing) > 0 {
			if _, got, err = s.st.Conversation(ctx, "", missing...); err != nil {
				return ConversationContext{}, ctx, err
			}
		}
		m, ids = r.Memory, make([]string, len(names))
		for i, n := range names {
			if j := slices.Index(missing, n); j >= 0 {
				ids[i] = got[j]
			} else {
				ids[i] = r.Indexes[n]
			}
		}
	} else if m, ids, err = s.st.Conversation(ctx, src.Conversation, names...); err != nil {
		return ConversationContext{}, ctx, err
	}
	cc := contextOf(m)
	rc := &readCache{idx: map[string]string{}, recs: map[string]string{}}
	var load []string
	for i, n := range names {
		rc.idx[n] = ids[i]
		if ids[i] != "" && !slices.Contains(load, ids[i]) {
			load = append(load, ids[i])
		}
	}
	for _, id := range []string{cc.Person, cc.Organization} {
		if id != "" && !slices.Contains(load, id) {
			load = append(load, id)
		}
	}
	if r := src.Read; r != nil && !again && r.Records != nil {
		// Read with the memory and the index entries: only those named
		// by an entry read here are left to load.
		left := load[:0]
		for _, id := range load {
			if v, ok := r.Records[id]; ok {
				rc.recs[id] = v
			} else {
				left = append(left, id)
			}
		}
		load = left
	}
	if len(load) > 0 {
		vals, err := s.st.Records(ctx, load...)
		if err != nil {
			return ConversationContext{}, ctx, err
		}
		for i, id := range load {
			rc.recs[id] = vals[i]
		}
	}
	return cc, context.WithValue(ctx, readCacheKey{}, rc), nil
}

// readNames are the index entries readAhead reads for a create of d from
// src: the draft's contact's and the visitor's email, domain and phone,
// and the organization's domain or name.
func readNames(src Source, d *draft) []string {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for i, c := range []Contact{d.contact, src.Visitor} {
		// The visitor's email and phone are most often the card's: their
		// names are made once.
		if e := NormalizeEmail(c.Email); e != "" && (i == 0 || c.Email != d.contact.Email) {
			add(emailIndex(e))
			if dom := OrgDomain(e); dom != "" {
				add(domainIndex(dom))
			}
		}
		if p := NormalizePhone(c.Phone); p != "" && (i == 0 || c.Phone != d.contact.Phone) {
			add(phoneIndex(p))
		}
	}
	org := d.org
	if d.rec.Kind == KindOrganization {
		org = Org{Name: d.rec.Name, Domain: d.rec.Domain}
	}
	if org.Domain != "" {
		add(domainIndex(registrable(org.Domain)))
	} else if org.Name != "" {
		add(orgNameIndex(org.Name))
	}
	return names
}

// lookup reads an index entry: the id it holds, or "".
func (s *Store) lookup(ctx context.Context, name string) (string, error) {
	if rc, ok := ctx.Value(readCacheKey{}).(*readCache); ok {
		if id, ok := rc.idx[name]; ok {
			return id, nil
		}
	}
	return s.st.Lookup(ctx, name)
}

// found loads the record an index pointed at into a slot.
func (s *Store) found(ctx context.Context, id string) (*slot, error) {
	if rc, ok := ctx.Value(readCacheKey{}).(*readCache); ok {
		if v, ok := rc.recs[id]; ok {
			if ms, ok := store.PendingRecord(v); ok {
				return nil, s.pendingRecord(ms)
			}
			var r Record
			if v == "" || decodeRecord(id, v, &r) != nil {
				return nil, nil
			}
			return &slot{rec: &r, json: v}, nil
		}
	}
	rs, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rs[0].pending != 0 {
		return nil, s.pendingRecord(rs[0].pending)
	}
	if rs[0].rec == nil {
		// The index points at nothing: treat as absent, the commit's
		// check of the index keeps this safe.
		return nil, nil
	}
	return &slot{rec: rs[0].rec, json: rs[0].json}, nil
}

// abandonedAfter is how long a new record may stay pending (its change
// under way) before a create takes it for abandoned (the process that
// planned it died and nobody retried its create) and goes on without it.
const abandonedAfter = 10 * time.Second

// pendingRecord is what finding a pending record means: read again
// (errStale) while its change may still finish, nothing once abandoned.
func (s *Store) pendingRecord(plannedMs int64) error {
	if s.now().Sub(time.UnixMilli(plannedMs)) < abandonedAfter {
		return errStale
	}
	return nil
}

// resolvePerson finds or makes the person a record is about: the one the
// card names (by email, then phone), else the conversation's person, else
// the visitor's.
func (s *Store) resolvePerson(ctx context.Context, src Source, d *draft, cc ConversationContext) (*slot, error) {
	c := d.contact
	kind := d.rec.Kind
	if kind == KindOrganization {
		return nil, nil
	}
	explicit := c.Email != "" || c.Phone != "" || c.Name != ""
	email, phone := NormalizeEmail(c.Email), NormalizePhone(c.Phone)
	if !explicit || (email == "" && phone == "") {
		// Nobody named by email or phone: the conversation's person.
		if cc.Person != "" {
			p, err := s.found(ctx, cc.Person)
			if err != nil || p != nil {
				if p != nil && c.Name != "" && p.rec.Name == "" {
					p.rec.Name, p.changed = truncate(c.Name, 200), true
				}
				return p, err
			}
		}
		if !explicit {
			c = src.Visitor
			email, phone = NormalizeEmail(c.Email), NormalizePhone(c.Phone)
		}
	}
	canMake := kind == KindLead || kind == KindDeal || kind == KindPerson
	var p *slot
	emailID, phoneID := "", ""
	var err error
	if email != "" {
		if emailID, err = s.lookup(ctx, emailIndex(email)); err != nil {
			return nil, err
		}
		if emailID != "" {
			if p, err = s.found(ctx, emailID); err != nil {
				return nil, err
			}
		}
	}
	if phone != "" {
		if phoneID, err = s.lookup(ctx, phoneIndex(phone)); err != nil {
			return nil, err
		}
		if p == nil && phoneID != "" && (email == "" || emailID == "") {
			if p, err = s.found(ctx, phoneID); err != nil {
				return nil, err
			}
			if p != nil && p.rec.Email != "" && email != "" && p.rec.Email != email {
				// Another email has this phone: a different person who
				// shares a number (a switchboard). Do not merge them.
				p = nil
			}
		}
	}
	if p == nil {
		if !canMake || (email == "" && phone == "" && c.Name == "") {
			return nil, nil
		}
		p = &slot{rec: &Record{Kind: KindPerson, Name: truncate(c.Name, 200), Email: email, Phone: phone}, isNew: true}
		if kind == KindPerson {
			p.rec.Custom = d.rec.Custom
		}
	} else {
		// Known person: fill what it lacks, never overwrite.
		if p.rec.Name == "" && c.Name != "" {
			p.rec.Name, p.changed = truncate(c.Name, 200), true
		}
		if p.rec.Email == "" && email != "" && emailID == "" {
			p.rec.Email, p.changed = email, true
		}
		if p.rec.Phone == "" && phone != "" && phoneID == "" {
			p.rec.Phone, p.changed = phone, true
		}
	}
	if p.rec.Email == email && email != "" && (p.isNew || emailID != p.rec.ID) {
		p.claim(emailIndex(email), emailID)
	}
	if p.rec.Phone == phone && phone != "" && phoneID == "" {
		p.claim(phoneIndex(phone), "")
	}
	return p, nil
}

// resolveOrg finds or makes the organization: the one the card names, or
// the person's email domain's, unless the person has one already.
func (s *Store) resolveOrg(ctx context.Context, d *draft, p *slot) (*slot, error) {
	given := d.org
	if d.rec.Kind == KindOrganization {
		given = Org{Name: d.rec.Name, Domain: d.rec.Domain}
	}
	if given.Name == "" && given.Domain == "" {
		if p == nil {
			return nil, nil
		}
		if p.rec.OrganizationID != "" {
			return s.found(ctx, p.rec.OrganizationID)
		}
		given.Domain = OrgDomain(p.rec.Email)
		if given.Domain == "" {
			return nil, nil
		}
	}
	var idx string
	if given.Domain != "" {
		given.Domain = registrable(given.Domain)
		idx = domainIndex(given.Domain)
	} else {
		idx = orgNameIndex(given.Name)
	}
	id, err := s.lookup(ctx, idx)
	if err != nil {
		return nil, err
	}
	if id != "" {
		o, err := s.found(ctx, id)
		if err != nil || o != nil {
			return o, err
		}
	}
	name := given.Name
	if name == "" {
		name = OrgName(given.Domain)
	}
	o := &slot{rec: &Record{Kind: KindOrganization, Name: truncate(name, 200), Domain: given.Domain}, isNew: true}
	if d.rec.Kind == KindOrganization {
		o.rec.Custom = d.rec.Custom
	}
	o.claim(idx, id)
	return o, nil
}

// resolveOwner returns the owner for a record and the team its round
// robin was for. spec is the card's owner: "round_robin:TEAM", an agent's
// email or id, or "" (the person's owner; for an agent's create, else that
// agent).
func (s *Store) resolveOwner(ctx context.Context, src Source, spec string, p *slot, cc ConversationContext) (*Agent, string, error) {
	spec = strings.TrimSpace(spec)
	personOwner := func() *Agent {
		if p == nil || p.rec.Owner == "" || s.agents == nil {
			return nil
		}
		a, err := s.agents.Agent(ctx, p.rec.Owner)
		if err != nil {
			return nil
		}
		return a
	}
	if team, ok := strings.CutPrefix(spec, engine.RoundRobinPrefix); ok {
		team = strings.TrimSpace(team)
		if s.agents == nil || team == "" {
			return nil, team, nil
		}
		// The agent this conversation's round robin already picked.
		if id := cc.Owners[team]; id != "" {
			if a, err := s.agents.Agent(ctx, id); err == nil {
				return a, team, nil
			}
		}
		// A returning person keeps their owner when they are in the team.
		if a := personOwner(); a != nil && slices.Contains(a.Teams, team) {
			return a, team, nil
		}
		a, err := s.roundRobin(ctx, team)
		return a, team, err
	}
	if spec != "" && s.agents != nil {
		var a *Agent
		var err error
		if strings.Contains(spec, "@") {
			a, err = s.agents.AgentByEmail(ctx, spec)
		} else {
			a, err = s.agents.Agent(ctx, spec)
		}
		if err == nil {
			return a, "", nil
		}
	}
	if a := personOwner(); a != nil {
		return a, "", nil
	}
	if src.Agent != nil {
		return src.Agent, "", nil
	}
	return nil, "", nil
}

// roundRobin picks the next agent of team: among the team's online agents
// when there are any, else among all its agents, sorted by id, with a
// counter every process shares.
func (s *Store) roundRobin(ctx context.Context, team string) (*Agent, error) {
	members, err := s.agents.TeamAgents(ctx, team)
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, nil
	}
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	online, err := s.agents.OnlineAgents(ctx, team)
	if err != nil {
		return nil, err
	}
	var pool []*Agent
	for _, a := range members {
		if slices.Contains(online, a.ID) {
			pool = append(pool, a)
		}
	}
	if len(pool) == 0 {
		pool = members
	}
	n, err := s.st.Next(ctx, "rr:"+team)
	if err != nil {
		return nil, err
	}
	return pool[int((n-1)%int64(len(pool)))], nil
}

// feedMember is how a record appears in a feed's sorted set.
func feedMember(r *Record) string {
	if r.Kind == KindNote {
		return "n:" + r.ID
	}
	return "r:" + r.ID
}

// afterCreate sends the notifications a create asks for: a note about the
// owner notifies the owner.
func (s *Store) afterCreate(ctx context.Context, src Source, res *Result) {
	r := res.Record
	if s.notify == nil || r == nil || r.Kind != KindNote || r.About != "owner" || r.Owner == "" {
		return
	}
	if src.Agent != nil && src.Agent.ID == r.Owner {
		return
	}
	who := "The bot"
	if src.Agent != nil {
		who = src.Agent.Name
	}
	about := ""
	if res.Person != nil {
		about = " about " + res.Person.Label()
	}
	s.notify(ctx, Notice{To: r.Owner, Kind: "sales_note", Text: who + " left a note for you" + about + ": " + truncate(r.Content, 120),
		Record: r, Person: res.Person, Conversation: src.Conversation})
}

// UpdatePerson changes a person's name and phone (nil leaves a field as
// it is; "" clears it). A phone another person has is refused with
// ErrConflict. It adds a record.updated event to the outbox (when a
// webhook wants those).
func (s *Store) UpdatePerson(ctx context.Context, id string, name, phone *string) (*Record, error) {
	for try := 0; try < maxTries; try++ {
		rs, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if rs[0].rec == nil || rs[0].rec.Kind != KindPerson {
			return nil, ErrNotFound
		}
		p := rs[0].rec
		old := rs[0].json
		ch := newChange()
		if name != nil {
			p.Name = truncate(strings.TrimSpace(*name), 200)
		}
		// Validate before comparing: "12ab" normalizes to "", which equals
		// the phone of a person who has none.
		if phone != nil && NormalizePhone(*phone) == "" && strings.TrimSpace(*phone) != "" {
			return nil, fmt.Errorf("%w: %q is not a phone number (7 to 15 digits, + for the country code)", ErrInvalid, truncate(*phone, 40))
		}
		if phone != nil && NormalizePhone(*phone) != p.Phone {
			np := NormalizePhone(*phone)
			if np != "" {
				cur, err := s.lookup(ctx, phoneIndex(np))
				if err != nil {
					return nil, err
				}
				if cur != "" && cur != id {
					return nil, fmt.Errorf("%w: another person has the phone %s", ErrConflict, np)
				}
				ch.index(phoneIndex(np), cur, id)
			}
			if p.Phone != "" {
				ch.index(phoneIndex(p.Phone), id, "")
			}
			p.Phone = np
		}
		p.UpdatedAt = s.now().UTC()
		b, err := encodeRecord(p)
		if err != nil {
			return nil, err
		}
		ch.record(id, old, string(b))
		if err := s.addRecordEvent(ctx, ch, EventRecordUpdated, p, nil, nil, p.UpdatedAt); err != nil {
			return nil, err
		}
		if _, err := s.commit(ctx, ch); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return nil, err
		}
		s.tellChanged(ctx, p)
		return p, nil
	}
	return nil, fmt.Errorf("%w: the person kept changing", ErrConflict)
}

// Key makes an idempotency key for a create that is not a card's: the
// conversation, who acts and the client's request id.
func Key(parts ...string) string {
	return "x:" + strings.Join(parts, ":")
}
