package engine

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/playbook-dev/playbook/dsl/source"
)

// Program is a compiled playbook. It is immutable once built and safe for
// concurrent use.
type Program struct {
	ID    string // playbook id, a lowercase slug
	Title string
	// Hash is the hex SHA-256 of the playbook's source and of every file it
	// includes. Sessions record it to finish on the version they started on.
	Hash     string
	Locale   string   // default locale, e.g. "en"
	Locales  []string // every declared locale, Locale first
	Fallback string   // locale used when a text lacks the session's locale; "" = none
	Bot      Bot
	Trigger  *Trigger // nil when the playbook never starts on its own
	Prechat  *Prechat // nil when the widget shows no pre-chat form

	Vars  []*VarDecl // in declaration order
	Cards []*Card    // Cards[0] is where a session starts
	// Teams lists every team named in a handoff card or in agents_online and
	// open_hours calls, so a caller knows whose presence to put in events.
	Teams []string
	// Files lists the source files, main file first, for rendering snippets.
	Files []string
	// Hours are the teams' opening hours from the folder's hours.yaml, for
	// open_hours(); nil when there is none.
	Hours Hours

	cardByName map[string]int
	varByName  map[string]*VarDecl
}

// NewProgram indexes p's cards and vars; the dsl package calls it once after
// filling the fields. Cards' Next, Goto and similar indices must be set.
func NewProgram(p *Program) *Program {
	p.cardByName = make(map[string]int, len(p.Cards))
	for i, c := range p.Cards {
		c.Index = i
		p.cardByName[c.Name] = i
	}
	p.varByName = make(map[string]*VarDecl, len(p.Vars))
	for _, v := range p.Vars {
		p.varByName[v.Name] = v
	}
	p.prepare()
	return p
}

// Card returns the card named name.
func (p *Program) Card(name string) (*Card, bool) {
	i, ok := p.cardByName[name]
	if !ok {
		return nil, false
	}
	return p.Cards[i], true
}

// Var returns the declaration of the var named name.
func (p *Program) Var(name string) (*VarDecl, bool) {
	v, ok := p.varByName[name]
	return v, ok
}

// CanResumeAt returns the vars that card needs (see Card.Needs) and
// session s has not set, sorted. A hand-back to card is safe when err is
// nil; err says in plain words why not: an unknown card, or the missing
// vars (the same words as Step's refusal of such an EventResume).
func (p *Program) CanResumeAt(card string, s *Session) (missing []string, err error) {
	c, ok := p.Card(card)
	if !ok {
		return nil, fmt.Errorf("playbook %s has no card %q", p.ID, card)
	}
	if err := p.notBackTo(p.cardByName[card], s); err != nil {
		return nil, err
	}
	if missing = c.missing(s); len(missing) > 0 {
		return missing, errors.New(resumeRefusal(card, missing))
	}
	return nil, nil
}

// ResumeCards lists, in card order, the cards an agent may hand session s
// back to: those whose needed vars s has all set and, when s waits at a
// handoff with back_to, that the list names.
func (p *Program) ResumeCards(s *Session) []string {
	var names []string
	for i, c := range p.Cards {
		if len(c.missing(s)) == 0 && p.notBackTo(i, s) == nil {
			names = append(names, c.Name)
		}
	}
	return names
}

// notBackTo refuses card i when session s waits at a handoff card whose
// back_to does not list it.
func (p *Program) notBackTo(i int, s *Session) error {
	if s == nil || s.Card < 0 || s.Card >= len(p.Cards) {
		return nil
	}
	h := p.Cards[s.Card]
	if h.Handoff == nil || h.Handoff.BackTo == nil || slices.Contains(h.Handoff.BackTo, i) {
		return nil
	}
	names := make([]string, len(h.Handoff.BackTo))
	for j, t := range h.Handoff.BackTo {
		names[j] = strconv.Quote(p.Cards[t].Name)
	}
	return fmt.Errorf("cannot hand back to card %q: card %q lets agents hand back only to %s", p.Cards[i].Name, h.Name, strings.Join(names, ", "))
}

func (c *Card) missing(s *Session) []string {
	var out []string
	for _, v := range c.Needs {
		if s == nil || s.Vars[v] == nil {
			out = append(out, v)
		}
	}
	return out
}

// Bot is how the bot presents itself in the widget.
type Bot struct {
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	Color  string `json:"color,omitempty"`
}

// Trigger says when the widget starts the playbook on its own.
type Trigger struct {
	Pages    []string      // path globs ("*" any run of characters); empty = every page
	Delay    time.Duration // how long the visitor must have been on the page
	Campaign *Text         // proactive message above the closed widget; may be nil
	When     *Expr         // over the visitor context; nil = always
}

// Prechat is the form the widget shows before the bot starts; its values
// become visitor.name, visitor.email, visitor.phone and visitor.consent.
type Prechat struct {
	Intro  *Text          // shown above the fields; may be nil
	Fields []PrechatField // in the playbook's order; at least one
}

// PrechatField is one field of the pre-chat form.
type PrechatField struct {
	Name     string // one of PrechatFields
	Label    *Text  // nil: the widget's own label for Name
	Required bool   // the form is refused without it (consent: unticked)
}

// PrechatFields are the fields a pre-chat form may have, in the order the
// visitor context names them.
var PrechatFields = []string{"name", "email", "phone", "consent"}

// Type is the type of a declared var.
type Type string

// Var types. Email, Phone and URL are strings that passed their validator;
// Date is a time.Time at midnight UTC.
const (
	TypeString Type = "string"
	TypeNumber Type = "number" // float64
	TypeInt    Type = "int"    // int
	TypeBool   Type = "bool"
	TypeEmail  Type = "email"
	TypePhone  Type = "phone"
	TypeURL    Type = "url"
	TypeDate   Type = "date"
	TypeList   Type = "list" // []any
	TypeMap    Type = "map"  // map[string]any
	TypeAny    Type = "any"
)

// VarDecl declares one playbook var.
type VarDecl struct {
	Name    string
	Type    Type
	Default any  // nil when the var starts unset
	PII     bool // personal data: redacted from logs
	// Label is what agents see instead of Name (the inbox's details
	// panel), by locale; nil: none. See VarLabel.
	Label map[string]string
	Pos   source.Range
}

// VarLabel is v's label in locale (a browser or session locale): the
// program locale matching it, else the default locale's, else the
// fallback's; "" when v has no label.
func VarLabel(p *Program, v *VarDecl, locale string) string {
	if v == nil || len(v.Label) == 0 {
		return ""
	}
	for _, l := range []string{matchLocale(p, locale), p.Locale, p.Fallback} {
		if s := v.Label[l]; s != "" {
			return s
		}
	}
	return ""
}

// InputType is what an ask card accepts.
type InputType string

// Input types of ask cards.
const (
	InputText   InputType = "text"
	InputEmail  InputType = "email"
	InputPhone  InputType = "phone"
	InputNumber InputType = "number"
	InputInt    InputType = "int"
	InputDate   InputType = "date"
	InputURL    InputType = "url"
	InputYesNo  InputType = "yes_no"
	InputTime   InputType = "time"   // a time of day, saved as "15:30"
	InputChoice InputType = "choice" // answered by one of the card's choices
	InputIntent InputType = "intent" // free text matched to one of the card's intents
)

// Card is one named step of a playbook. The parts run in this order: SkipIf
// (skips Say, Ask and Save), Say, Ask (waits), Save, Set, Create, then one of
// Call, Handoff or Include (each waits or runs a sub-flow), then End, then
// Branch, Goto, or the next card.
type Card struct {
	Name  string
	Index int
	Pos   source.Range // the card's key in the file

	Say     []*Text
	Image   string
	Links   []Link
	Ask     *Ask
	Set     []Assign
	Create  []*Create
	Call    *Call
	Handoff *Handoff
	Branch  []Branch
	// Experiment, when set, splits visitors between variants: it picks the
	// next card (a card with it has no Branch and its Next is unused).
	Experiment *Experiment
	// End is the outcome label when the card ends the bot part; HasEnd
	// tells an `end` with an empty label from no end at all.
	End    string
	HasEnd bool
	// Next is the card that runs after this one (goto, or the card below);
	// -1 when the conversation ends after this card.
	Next int
	// Return is set on the last card of an included sub-flow and on its
	// fall-through: after it, control goes back to Next, which is the card
	// after the include. It is informational (for graphs); Next is already
	// resolved at compile time.
	Return bool
	// Include names the sub-flow's playbook id when this card includes one;
	// its first inlined card is Next.
	Include string
	// Needs lists, sorted, the vars that must have a value for a session
	// to enter this card from its top: vars without a default that some
	// path from here reads (in a way an unset var would fail) before any
	// card sets them. Definite assignment proves them set for a session
	// that came from the first card; an agent's hand-back to this card
	// (EventResume) is refused while one of them is unset. Filled by dsl.
	Needs []string
}

// Link is a button that opens a URL.
type Link struct {
	Label *Text
	URL   string
}

// Ask is a question that waits for the visitor.
type Ask struct {
	Prompt   *Text // nil when the card's say is the question
	Input    InputType
	Choices  []*Choice
	Save     string // var name; "" to not save
	SkipIf   *Expr
	Validate []Validation
	Retry    Retry
	// Other, when set, takes free text that matches no choice instead of
	// asking again.
	Other *Other
	// Intents makes the card an intent card: free text is matched to one
	// of them (Input is InputIntent).
	Intents []*Intent
	// Fallback is the card that runs when no intent is sure enough; -1
	// asks again (an invalid answer, counted by Retry).
	Fallback int
	// MinConfidence is how sure the matcher must be, from 0 to 1; 0 means
	// DefaultMinConfidence.
	MinConfidence float64
}

// Other says what happens to free text that matches no choice: it is saved
// into Save (when not "") and the session goes to Goto (-1 = the card's own
// flow, as if a choice without a goto was picked).
type Other struct {
	Save string
	Goto int
}

// Choice is one button of a question.
type Choice struct {
	Label *Text
	// Value is what is saved and what tests and the button event name; it
	// defaults to the label in the default locale.
	Value string
	Goto  int // card index, -1 = continue with the card's own flow
	Pos   source.Range
	// Synonyms are other words for the choice, by locale: an answer that is
	// one of them, or has one among its words, picks the choice.
	Synonyms map[string][]string

	// keys are the folded static labels, by locale, for matching free text;
	// synKeys the folded synonyms; valueKey is the folded Value. All are
	// filled by NewProgram.
	keys     []localeKey
	synKeys  []localeKey
	valueKey string
}

// Validation rejects an answer when If is false; Say explains why.
type Validation struct {
	If  *Expr
	Say *Text
}

// Retry says what happens after an invalid answer: Say (or a built-in hint
// for the input type) is shown and the question asked again, at most Max
// times in all; then the session goes to Then. Max 0 means ask until a valid
// answer comes. Then -1 with Max > 0 means continue with the var unset.
type Retry struct {
	Max  int
	Say  *Text
	Then int
}

// Assign is one `var: expr` of a set. Exactly one of Expr and Tmpl is set;
// Tmpl (a text with {{ }} holes) sets a string var.
type Assign struct {
	Var  string
	Expr *Expr
	Tmpl *Template
}

// Branch is one arm of a branch: the first whose If is true (or nil) wins.
type Branch struct {
	If   *Expr
	Goto int
}

// Experiment is an A/B test: each visitor is put in one of Variants, with
// chances in proportion to their weights, the same one every time (see
// [AssignVariant]).
type Experiment struct {
	// Name is unique in the program; it is the card's name unless the
	// card says `experiment:`.
	Name     string
	Variants []Variant // at least two; names unique
	// Total is the sum of the weights.
	Total int
	Pos   source.Range
}

// Variant is one arm of an experiment.
type Variant struct {
	Name   string
	Weight int // > 0
	Goto   int // card index
	Pos    source.Range
}

// Handoff hands the conversation to a human agent of Team.
type Handoff struct {
	Team     string
	Say      *Text // shown when handing off; may be nil
	Wait     time.Duration
	Offline  int // card index that runs when nobody is online or accepts in time
	Priority string
	// BackTo lists the card indices an agent may hand a chat that waits
	// here back to; nil lets any card whose Needs the session has.
	BackTo []int
}

// RecordKind is the kind of CRM record a create card makes.
type RecordKind string

// Record kinds.
const (
	RecordLead         RecordKind = "lead"
	RecordDeal         RecordKind = "deal"
	RecordPerson       RecordKind = "person"
	RecordOrganization RecordKind = "organization"
	RecordTask         RecordKind = "task"
	RecordNote         RecordKind = "note"
)

// Create describes one record to create.
type Create struct {
	Kind   RecordKind
	Fields []Field
	Pos    source.Range
}

// Field is one field of a record or of a call body. Exactly one of Value
// (a template or expression) and Fields (a nested object) is set.
type Field struct {
	Name   string
	Value  *Value
	Fields []Field
}

// Value is a field value: a template when the YAML text contains "{{", an
// expression when it is a plain (unquoted) scalar that compiles as one of the
// field's type, else a literal.
type Value struct {
	Lit  any
	Tmpl *Template
	Expr *Expr
}

// Call is an HTTP request to an allow-listed host.
type Call struct {
	Method  string
	URL     *Template
	Headers []Field
	Body    []Field
	Timeout time.Duration
	// Save maps var names to paths in the JSON response, e.g. "plan" <- "data.plan".
	Save    []CallSave
	OnError int // card index; -1 = continue with the var unset
}

// CallSave copies one field of the response into a var.
type CallSave struct {
	Var  string
	Path []string
}

// Expr is an expression compiled at load time.
type Expr struct {
	Src  string
	Pos  source.Range
	Prog *vm.Program
	// Loose marks a set's expression whose value may not fit its var (its
	// type is only known while chatting): a value that does not fit is
	// read generously, else the var is left without a value. Set by dsl,
	// which then treats the set as one that may leave its var unset.
	Loose bool
}

// Text is a message in one or more locales.
type Text struct {
	// ByLocale holds one template per locale; a text written as a plain string
	// is stored under the program's default locale.
	ByLocale map[string]*Template
	Pos      source.Range
}

// Template is a text with {{ expr }} holes.
type Template struct {
	Parts []Part
	// Static is the whole text when the template has no holes.
	Static   string
	IsStatic bool
}

// Part is a literal run of text or an expression hole.
type Part struct {
	Lit  string
	Expr *Expr
}
