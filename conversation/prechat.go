package conversation

import (
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
)

// The pre-chat form (docs/language.md, "Pre-chat form"): a start for a
// playbook with a form and without its values is answered with the form;
// a start with them is checked here, never trusting the widget, and the
// values become the visitor's name, email, phone and consent before the
// first card runs.

// prechatInputs are the widget's input kinds of the form's fields.
var prechatInputs = map[string]string{"name": "text", "email": "email", "phone": "tel", "consent": "checkbox"}

// PrechatForm is the form of prog for a visitor in locale (the browser's
// language), its texts rendered for vis; nil when prog has none.
func PrechatForm(prog *engine.Program, locale string, vis *engine.Visitor, now time.Time) *protocol.PrechatForm {
	pc := prog.Prechat
	if pc == nil {
		return nil
	}
	loc := engine.MatchLocale(prog, locale)
	out := &protocol.PrechatForm{
		Playbook: prog.ID, Locale: loc,
		Bot: protocol.Bot{Name: prog.Bot.Name, Avatar: prog.Bot.Avatar, Color: prog.Bot.Color},
	}
	if pc.Intro != nil {
		out.Intro = engine.RenderText(prog, pc.Intro, loc, vis, now)
	}
	for _, f := range pc.Fields {
		pf := protocol.PrechatField{Name: f.Name, Input: prechatInputs[f.Name], Required: f.Required}
		if f.Label != nil {
			pf.Label = engine.RenderText(prog, f.Label, loc, vis, now)
		}
		out.Fields = append(out.Fields, pf)
	}
	return out
}

// Longest pre-chat values, in characters.
const (
	maxPrechatName  = 200
	maxPrechatEmail = 320
)

// ApplyPrechat checks the pre-chat values pv against prog's form and puts
// them in vis. It refuses (an invalid_prechat error naming the field) a
// required field left empty, an email or phone that does not parse as the
// `input: email` and `input: phone` answers do, a name over 200
// characters, a field the form does not have, and any value for a
// playbook without a form. vis is unchanged when it refuses.
func ApplyPrechat(prog *engine.Program, pv *protocol.PrechatValues, vis *engine.Visitor, now time.Time) *protocol.Error {
	bad := func(field, msg string) *protocol.Error {
		return &protocol.Error{Code: protocol.CodeInvalidPrechat, Message: msg, Field: field}
	}
	if prog.Prechat == nil {
		return bad("", "this playbook has no pre-chat form")
	}
	in := map[string]bool{}
	for _, f := range prog.Prechat.Fields {
		in[f.Name] = true
	}
	given := map[string]bool{"name": pv.Name != "", "email": pv.Email != "", "phone": pv.Phone != "", "consent": pv.Consent}
	for _, name := range engine.PrechatFields {
		if given[name] && !in[name] {
			return bad(name, "the pre-chat form has no field "+name)
		}
	}
	out := *vis
	for _, f := range prog.Prechat.Fields {
		if f.Required && !given[f.Name] {
			if f.Name == "consent" {
				return bad(f.Name, "please tick the box to go on")
			}
			return bad(f.Name, "please fill in your "+f.Name)
		}
		switch f.Name {
		case "name":
			if utf8.RuneCountInString(pv.Name) > maxPrechatName {
				return bad(f.Name, "the name is too long (at most 200 characters)")
			}
			if pv.Name != "" {
				out.Name = pv.Name
			}
		case "email":
			if pv.Email == "" {
				break
			}
			v, ok := engine.ParseInput(engine.InputEmail, pv.Email, "", now)
			if !ok || utf8.RuneCountInString(pv.Email) > maxPrechatEmail {
				return bad(f.Name, "that doesn't look like an email address, like ana@example.com")
			}
			out.Email = v.(string)
		case "phone":
			if pv.Phone == "" {
				break
			}
			v, ok := engine.ParseInput(engine.InputPhone, pv.Phone, "", now)
			if !ok {
				return bad(f.Name, "that doesn't look like a phone number, like +1 415 555 0100")
			}
			out.Phone = v.(string)
		case "consent":
			out.Consent = pv.Consent
		}
	}
	*vis = out
	return nil
}
