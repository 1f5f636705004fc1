package crm

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/engine"
)

// Kind is a record's kind: the kinds of engine.RecordKind.
type Kind string

// Record kinds.
const (
	KindPerson       Kind = "person"
	KindOrganization Kind = "organization"
	KindLead         Kind = "lead"
	KindDeal         Kind = "deal"
	KindTask         Kind = "task"
	KindNote         Kind = "note"
)

// Kinds lists every kind.
var Kinds = []Kind{KindPerson, KindOrganization, KindLead, KindDeal, KindTask, KindNote}

func validKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// idPrefix starts the ids of each kind, so an id says what it names.
var idPrefix = map[Kind]string{
	KindPerson: "per_", KindOrganization: "org_", KindLead: "led_", KindDeal: "del_", KindTask: "tsk_", KindNote: "not_",
}

// KindOfID returns the kind an id names, or "".
func KindOfID(id string) Kind {
	for k, p := range idPrefix {
		if strings.HasPrefix(id, p) {
			return k
		}
	}
	return ""
}

// Record is one CRM record of any kind. Fields that do not apply to a kind
// are empty (and left out of its JSON).
type Record struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`

	// Person and organization.
	Name   string `json:"name,omitempty"`
	Email  string `json:"email,omitempty"`  // normalized: lowercase, trimmed
	Phone  string `json:"phone,omitempty"`  // normalized: digits, + when international
	Domain string `json:"domain,omitempty"` // organization: the email domain it was matched by

	// Lead and deal.
	Title         string   `json:"title,omitempty"`
	Value         *float64 `json:"value,omitempty"`
	Currency      string   `json:"currency,omitempty"`
	Pipeline      string   `json:"pipeline,omitempty"`
	Stage         string   `json:"stage,omitempty"`
	ExpectedClose string   `json:"expected_close,omitempty"` // a date, 2006-01-02
	Labels        []string `json:"labels,omitempty"`
	Source        string   `json:"source,omitempty"`

	// Task.
	Subject string     `json:"subject,omitempty"`
	Due     *time.Time `json:"due,omitempty"`
	Type    string     `json:"type,omitempty"`

	// Note: Content is about About (person, lead, deal or owner), AboutID.
	Content string `json:"content,omitempty"`
	About   string `json:"about,omitempty"`
	AboutID string `json:"about_id,omitempty"`

	// Note is the free text the create card's `note` field gives any record.
	Note   string         `json:"note,omitempty"`
	Custom map[string]any `json:"custom,omitempty"`

	// Links to other records.
	PersonID       string `json:"person,omitempty"`
	OrganizationID string `json:"organization,omitempty"`
	LeadID         string `json:"lead,omitempty"`
	DealID         string `json:"deal,omitempty"`

	// Owner is the agent id that owns it (a task's assignee); OwnerName is
	// that agent's name when it was set.
	Owner     string   `json:"owner,omitempty"`
	OwnerName string   `json:"owner_name,omitempty"`
	Teams     []string `json:"teams,omitempty"`

	// Conversation is the conversation it was created from, if any;
	// Playbook the id of that conversation's playbook (its source
	// playbook, for filtering lists).
	Conversation string `json:"conversation,omitempty"`
	Playbook     string `json:"playbook,omitempty"`
	// DoneAt is when a task was marked done; nil while it is open.
	DoneAt *time.Time `json:"done_at,omitempty"`
	// CreatedBy is "bot" or the id of the agent who created it;
	// CreatedByName the bot's or agent's name.
	CreatedBy     string    `json:"created_by,omitempty"`
	CreatedByName string    `json:"created_by_name,omitempty"`
	Key           string    `json:"key,omitempty"` // the idempotency key it was created with
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// encodeRecord is a record's stored form: its JSON without its id (the
// store keeps it under it) and without updated_at while it is created_at,
// about 80 bytes less a record.
func encodeRecord(r *Record) ([]byte, error) {
	var updated *time.Time
	if !r.UpdatedAt.Equal(r.CreatedAt) {
		updated = &r.UpdatedAt
	}
	return json.Marshal(struct {
		*Record
		ID        string     `json:"id,omitempty"`
		UpdatedAt *time.Time `json:"updated_at,omitempty"`
	}{Record: r, UpdatedAt: updated})
}

// appendRecordJSON appends to b the JSON json.Marshal(r) writes, made
// from stored, r's stored form (encodeRecord: the same fields in the same
// order but the id, and updated_at when it is created_at): the id put
// first and updated_at last. It returns nil when it cannot (an id or a
// time encoding/json would write otherwise), for the caller to marshal r.
func appendRecordJSON(b, stored []byte, r *Record) []byte {
	if b == nil || len(stored) < 2 || stored[0] != '{' || stored[len(stored)-1] != '}' || !plainID(r.ID) {
		return nil
	}
	b = append(b, `{"id":"`...)
	b = append(b, r.ID...)
	b = append(b, '"')
	if len(stored) > 2 {
		b = append(b, ',')
	}
	if !r.UpdatedAt.Equal(r.CreatedAt) {
		// Stored with its updated_at, last.
		return append(b, stored[1:]...)
	}
	b = append(b, stored[1:len(stored)-1]...)
	b = append(b, `,"updated_at":"`...)
	b, err := r.UpdatedAt.AppendText(b) // MarshalJSON's text, unquoted
	if err != nil {
		return nil
	}
	return append(b, `"}`...)
}

// plainID reports whether id is written by encoding/json as it is, in
// quotes (letters, digits, '_' and '-': every id newID makes).
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeRecord reads record id's stored form, or the older one (with the
// id and updated_at written out).
func decodeRecord(id, v string, r *Record) error {
	if err := json.Unmarshal([]byte(v), r); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = id
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	return nil
}

// Label is how a record shows in one line: its title, subject, name or
// the start of its content.
func (r *Record) Label() string {
	for _, s := range []string{r.Title, r.Subject, r.Name, r.Email, r.Phone, r.Content} {
		if s != "" {
			return truncate(s, 120)
		}
	}
	return string(r.Kind)
}

// Field returns the value of a field by its JSON name, for configurable
// field lists ("name", "email", "value", "custom.plan", ...), and whether
// the record has it.
func (r *Record) Field(name string) (any, bool) {
	if c, ok := strings.CutPrefix(name, "custom."); ok {
		v, ok := r.Custom[c]
		return v, ok
	}
	var v any
	switch name {
	case "id":
		v = r.ID
	case "name":
		v = r.Name
	case "email":
		v = r.Email
	case "phone":
		v = r.Phone
	case "domain":
		v = r.Domain
	case "title":
		v = r.Title
	case "value":
		if r.Value == nil {
			return nil, false
		}
		v = *r.Value
	case "currency":
		v = r.Currency
	case "pipeline":
		v = r.Pipeline
	case "stage":
		v = r.Stage
	case "expected_close":
		v = r.ExpectedClose
	case "labels":
		if len(r.Labels) == 0 {
			return nil, false
		}
		v = r.Labels
	case "source":
		v = r.Source
	case "subject":
		v = r.Subject
	case "due":
		if r.Due == nil {
			return nil, false
		}
		v = r.Due.Format(time.RFC3339)
	case "type":
		v = r.Type
	case "content":
		v = r.Content
	case "note":
		v = r.Note
	case "owner":
		v = r.OwnerName
		if v == "" {
			v = r.Owner
		}
	case "organization":
		v = r.OrganizationID
	case "person":
		v = r.PersonID
	case "created_at":
		v = r.CreatedAt.Format(time.RFC3339)
	case "playbook":
		v = r.Playbook
	default:
		return nil, false
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, false
	}
	return v, true
}

// Contact is the person a record is about, as the create card or the agent
// gave it.
type Contact struct {
	Name  string
	Email string
	Phone string
}

// Org is the organization a record is about, as given.
type Org struct {
	Name   string
	Domain string
}

// draft is a normalized create request: the main record, and whom and
// what it is about.
type draft struct {
	rec     Record
	contact Contact
	org     Org
	owner   string // the owner as written: "round_robin:TEAM", an agent's email or id, or ""
}

// maxText bounds every text field; longer texts are cut.
const maxText = 4000

// Draft checks and normalizes what a create card made into the record it
// would create, before owners, people and organizations are resolved. It
// is pure: `playbook test` and `playbook chat` may show it without a store.
func Draft(rec engine.Record) (Record, error) {
	d, err := newDraft(Kind(rec.Kind), rec.Fields)
	if err != nil {
		return Record{}, err
	}
	d.rec.Key = rec.Key
	return d.rec, nil
}

// newDraft turns create-card fields into a draft. Unknown fields of a kind
// are refused (the checker already refuses them in playbooks); values of
// the wrong type are read generously or refused with a message.
func newDraft(kind Kind, fields map[string]any) (*draft, error) {
	if !validKind(kind) {
		return nil, fmt.Errorf("unknown record kind %q", kind)
	}
	d := &draft{rec: Record{Kind: kind}}
	r := &d.rec
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		var err error
		switch {
		case k == "custom":
			m, ok := v.(map[string]any)
			if !ok && v != nil {
				return nil, fmt.Errorf("%s: custom must be a mapping of your own fields", kind)
			}
			if len(m) > 50 {
				return nil, fmt.Errorf("%s: at most 50 custom fields", kind)
			}
			if len(m) > 0 {
				r.Custom = make(map[string]any, len(m))
				for ck, cv := range m {
					r.Custom[truncate(ck, 100)] = plainValue(cv)
				}
			}
		case k == "person" && (kind == KindLead || kind == KindDeal):
			d.contact, err = contactOf(v)
		case k == "organization" && kind != KindOrganization && kind != KindTask && kind != KindNote:
			d.org, err = orgOf(v)
		case k == "owner" && kind != KindTask && kind != KindNote, k == "assignee" && kind == KindTask:
			d.owner = text(v)
		case k == "note" && kind != KindNote:
			r.Note = text(v)
		default:
			err = d.set(k, v)
		}
		if err != nil {
			return nil, err
		}
	}
	switch kind {
	case KindPerson:
		d.contact = Contact{Name: r.Name, Email: r.Email, Phone: r.Phone}
		r.Email, r.Phone = NormalizeEmail(r.Email), NormalizePhone(r.Phone)
	case KindOrganization:
		r.Domain = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(r.Domain)), "www.")
		d.org = Org{Name: r.Name, Domain: r.Domain}
		if r.Name == "" && r.Domain == "" {
			return nil, fmt.Errorf("organization: a name or a domain is needed")
		}
		if r.Name == "" {
			r.Name = OrgName(r.Domain)
		}
	case KindLead, KindDeal:
		if r.Title == "" {
			r.Title = "New " + string(kind)
		}
	case KindTask:
		if r.Subject == "" {
			r.Subject = "Follow up"
		}
	case KindNote:
		if r.Content == "" {
			return nil, fmt.Errorf("note: content is empty")
		}
		switch r.About {
		case "", "person", "lead", "deal", "owner":
		default:
			return nil, fmt.Errorf("note: about is person, lead, deal or owner, not %q", r.About)
		}
		if r.About == "" {
			r.About = "person"
		}
	}
	return d, nil
}

// set sets one scalar field of the draft's record.
func (d *draft) set(k string, v any) error {
	r := &d.rec
	kind := r.Kind
	allowed := map[Kind]string{
		KindPerson:       " name email phone ",
		KindOrganization: " name domain ",
		KindLead:         " title value currency labels source ",
		KindDeal:         " title value currency stage pipeline expected_close ",
		KindTask:         " subject due type ",
		KindNote:         " content about ",
	}[kind]
	if !strings.Contains(allowed, " "+k+" ") {
		return fmt.Errorf("%s has no field %q", kind, k)
	}
	switch k {
	case "name":
		r.Name = text(v)
	case "email":
		r.Email = text(v)
	case "phone":
		r.Phone = text(v)
	case "domain":
		r.Domain = text(v)
	case "title":
		r.Title = text(v)
	case "subject":
		r.Subject = text(v)
	case "content":
		r.Content = text(v)
	case "about":
		r.About = strings.ToLower(text(v))
	case "currency":
		r.Currency = strings.ToUpper(truncate(text(v), 10))
	case "stage":
		r.Stage = truncate(text(v), 100)
	case "pipeline":
		r.Pipeline = truncate(text(v), 100)
	case "source":
		r.Source = truncate(text(v), 200)
	case "type":
		r.Type = truncate(text(v), 100)
	case "value":
		if v == nil {
			return nil
		}
		f, ok := number(v)
		if !ok {
			return fmt.Errorf("%s: value must be a number, not %s", kind, describe(v))
		}
		r.Value = &f
	case "labels":
		r.Labels = labels(v)
	case "expected_close":
		if s := dateText(v); s != "" {
			r.ExpectedClose = s
		}
	case "due":
		t, ok := timeOf(v)
		if !ok && v != nil && text(v) != "" {
			return fmt.Errorf("task: due must be a time, not %s", describe(v))
		}
		if ok {
			t = t.UTC()
			r.Due = &t
		}
	}
	return nil
}

func contactOf(v any) (Contact, error) {
	switch x := v.(type) {
	case nil:
		return Contact{}, nil
	case map[string]any:
		c := Contact{Name: text(x["name"]), Email: text(x["email"]), Phone: text(x["phone"])}
		for k := range x {
			if k != "name" && k != "email" && k != "phone" {
				return Contact{}, fmt.Errorf("person has no field %q (name, email, phone)", k)
			}
		}
		return c, nil
	case string:
		if strings.Contains(x, "@") {
			return Contact{Email: x}, nil
		}
		return Contact{Name: x}, nil
	}
	return Contact{}, fmt.Errorf("person must be {name, email, phone}, not %s", describe(v))
}

func orgOf(v any) (Org, error) {
	switch x := v.(type) {
	case nil:
		return Org{}, nil
	case map[string]any:
		for k := range x {
			if k != "name" && k != "domain" {
				return Org{}, fmt.Errorf("organization has no field %q (name, domain)", k)
			}
		}
		return Org{Name: text(x["name"]), Domain: strings.TrimPrefix(strings.ToLower(text(x["domain"])), "www.")}, nil
	case string:
		return Org{Name: x}, nil
	}
	return Org{}, fmt.Errorf("organization must be {name, domain}, not %s", describe(v))
}

// text renders a field value as text, cut to maxText.
func text(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		s = x
	case time.Time:
		s = dateText(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	case fmt.Stringer:
		s = x.String()
	default:
		s = fmt.Sprint(x)
	}
	return truncate(strings.TrimSpace(s), maxText)
}

// plainValue keeps JSON-friendly values: times become RFC 3339 (dates
// 2006-01-02), texts are cut, lists and maps are copied.
func plainValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return dateText(x)
	case time.Duration:
		return x.String()
	case string:
		return truncate(x, maxText)
	case []any:
		out := make([]any, 0, min(len(x), 100))
		for i, e := range x {
			if i == 100 {
				break
			}
			out = append(out, plainValue(e))
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainValue(e)
		}
		return out
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	return v
}

// dateText is a date as 2006-01-02, or a time as RFC 3339 when it has a
// time of day.
func dateText(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return text(v)
	}
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func timeOf(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, !x.IsZero()
	case string:
		s := strings.TrimSpace(x)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case string:
		p, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(x), ",", ""), 64)
		if err != nil {
			return 0, false
		}
		f = p
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func labels(v any) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && len(out) < 20 {
			out = append(out, truncate(s, 40))
		}
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			add(text(e))
		}
	case []string:
		for _, e := range x {
			add(e)
		}
	case string:
		for _, e := range strings.Split(x, ",") {
			add(e)
		}
	}
	return out
}

func describe(v any) string {
	switch v.(type) {
	case string:
		return fmt.Sprintf("the text %q", truncate(v.(string), 40))
	case bool:
		return "true/false"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// truncate cuts s to at most n runes, on a rune boundary.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// NormalizeEmail returns an email address as people are matched by it:
// trimmed, lowercase, without "mailto:" or angle brackets; "" when it is not
// an address with a dotted domain.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "mailto:")
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, ">"))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n,;") {
		return ""
	}
	dom := s[at+1:]
	if !strings.Contains(dom, ".") || strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") {
		return ""
	}
	return s
}

// NormalizePhone returns a phone number as people are matched by it: its
// digits, with a leading + when it was written with one (or with 00);
// "" when it does not have 7 to 15 digits.
func NormalizePhone(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "tel:")
	plus := strings.HasPrefix(strings.TrimLeft(s, " ("), "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune(" -.()/+\u00a0", r):
		default:
			return ""
		}
	}
	d := b.String()
	if !plus && strings.HasPrefix(d, "00") {
		d, plus = d[2:], true
	}
	if len(d) < 7 || len(d) > 15 {
		return ""
	}
	if plus {
		return "+" + d
	}
	return d
}

// freeMail are the brands of free-mail providers: an address at
// BRAND.TLD (or BRAND.co.TLD, BRAND.com.TLD) makes no organization.
var freeMail = map[string]bool{
	"gmail": true, "googlemail": true, "yahoo": true, "ymail": true, "rocketmail": true, "hotmail": true,
	"outlook": true, "live": true, "msn": true, "icloud": true, "me": true, "mac": true, "aol": true,
	"gmx": true, "proton": true, "protonmail": true, "pm": true, "yandex": true, "qq": true, "163": true,
	"126": true, "sina": true, "naver": true, "daum": true, "zoho": true, "mail": true, "inbox": true,
	"fastmail": true, "tutanota": true, "tuta": true, "hey": true, "seznam": true, "libero": true,
	"orange": true, "wanadoo": true, "free": true, "laposte": true, "t-online": true, "freenet": true,
	"rediffmail": true, "comcast": true, "verizon": true, "att": true, "btinternet": true,
}

// freeMailDomains are free-mail domains whose first label is not a brand
// above on its own.
var freeMailDomains = map[string]bool{
	"web.de": true, "mail.ru": true, "bk.ru": true, "list.ru": true, "inbox.ru": true, "ya.ru": true,
	"yahoo.co.jp": true, "sbcglobal.net": true, "email.com": true, "usa.com": true,
}

// FreeMail reports whether domain belongs to a free-mail provider.
func FreeMail(domain string) bool {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if freeMailDomains[domain] {
		return true
	}
	// The labels are looked at in place (no split: a lead's create asks
	// this of every address).
	first, rest, ok := strings.Cut(domain, ".")
	if !ok {
		return false
	}
	second, rest, ok := strings.Cut(rest, ".")
	switch {
	case !ok: // two labels
		return freeMail[first]
	case !strings.Contains(rest, ".") && (second == "co" || second == "com"): // three
		return freeMail[first]
	}
	return false
}

// OrgDomain is the registrable part of an email's domain, the key
// organizations are matched by ("eu.acme.co.uk" → "acme.co.uk"), or "" for
// a free-mail address or no address.
func OrgDomain(email string) string {
	email = NormalizeEmail(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	dom := registrable(email[at+1:])
	if FreeMail(dom) {
		return ""
	}
	return dom
}

// registrable cuts a domain to its last two labels, or three when the
// second-to-last is a common second-level suffix (co.uk, com.au, ...).
func registrable(dom string) string {
	// The labels are found from the end, in place: the answer is a
	// suffix of dom (no split and join: a lead's create asks this of every
	// address and domain).
	s := strings.TrimPrefix(dom, "www.")
	last := strings.LastIndexByte(s, '.')
	if last < 0 {
		return dom // one label
	}
	prev := strings.LastIndexByte(s[:last], '.')
	if prev < 0 {
		return s // two labels
	}
	if sl := s[prev+1 : last]; len(s)-last-1 == 2 && (sl == "co" || sl == "com" || sl == "org" || sl == "net" || sl == "ac" || sl == "gov" || sl == "edu" || sl == "ne" || sl == "or") {
		return s[strings.LastIndexByte(s[:prev], '.')+1:] // the last three
	}
	return s[prev+1:]
}

// OrgName makes an organization's name from its domain: "acme.co.uk" →
// "Acme".
func OrgName(domain string) string {
	base, _, _ := strings.Cut(registrable(domain), ".")
	if base == "" {
		return domain
	}
	r := []rune(base)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}
