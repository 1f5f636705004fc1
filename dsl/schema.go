package dsl

// Schema returns a JSON Schema (draft-07, the dialect YAML editors read) of
// the playbook language. It is built from the same key tables the compiler
// checks against (topKeys, cardKeys, choiceKeys, handoffKeys, callKeys,
// recordFields, inputTypes, varTypes, ...): a key the compiler accepts is in
// the schema, with its description from keyDocs when it has one, and a key
// it rejects is not. The schema checks shapes only; types of expressions,
// card names in goto and the like are for `playbook validate`.
func Schema() map[string]any {
	defs := map[string]any{
		"text": oneOf(
			str("A text; {{ expr }} holes are filled in."),
			obj("A text per locale, like {en: Hi, de: Hallo}.", nil, strSchema()),
		),
		"texts": oneOf(ref("text"), arr(ref("text"))),
		"phrases": oneOf(
			arr(strSchema()),
			obj("Phrases per locale, like {en: [...], de: [...]}.", nil, arr(strSchema())),
		),
		"cardName": map[string]any{"type": "string", "pattern": cardNameRE.String()},
		"expr":     map[string]any{"type": []string{"string", "number", "boolean"}, "description": "An expression, like budget >= 1000."},
		"duration": map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)([0-9]+(ms|s|m|h|d))*$`, "description": "A duration: 30s, 2m, 1h30m, 1d."},
		"strings":  oneOf(strSchema(), arr(strSchema())),
		"fields":   obj("Fields: text with {{ }} holes, or expressions.", nil, map[string]any{}),
	}
	defs["card"] = section("card", cardKeys, nil)
	defs["choice"] = oneOf(
		map[string]any{"type": []string{"string", "number", "boolean"}},
		section("choice", choiceKeys, []string{"label"}),
	)
	defs["intent"] = section("intent", intentKeys, []string{"name", "examples"})
	defs["var"] = oneOf(
		map[string]any{"type": "string", "enum": varTypes},
		section("var", varKeys, []string{"type"}),
	)
	create := map[string]any{}
	for _, k := range recordKinds {
		create[k] = section(k, recordFields[k], nil)
	}
	defs["record"] = map[string]any{"type": "object", "properties": create, "additionalProperties": false}

	root := section("playbook", topKeys, []string{"playbook", "cards"})
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://playbook.dev/schema/playbook.json"
	root["title"] = "Playbook"
	root["definitions"] = defs
	return root
}

// section is an object schema whose properties are keys, in table order,
// each with its shape from keyShapes and its description from keyDocs.
func section(what string, keys, required []string) map[string]any {
	props := map[string]any{}
	for _, k := range keys {
		s := map[string]any{}
		if shape, ok := keyShapes[what+"."+k]; ok {
			for kk, v := range shape() {
				s[kk] = v
			}
		}
		if d := keyDocs[what+"."+k]; d != "" {
			if r, ok := s["$ref"]; ok { // draft-07 ignores a $ref's siblings
				s = map[string]any{"allOf": []any{map[string]any{"$ref": r}}}
			}
			s["description"] = d
		}
		props[k] = s
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if d := keyDocs[what]; d != "" {
		out["description"] = d
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/definitions/" + name} }
func strSchema() map[string]any      { return map[string]any{"type": "string"} }
func str(desc string) map[string]any {
	return map[string]any{"type": "string", "description": desc}
}
func arr(items map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": items}
}
func oneOf(s ...map[string]any) map[string]any {
	list := make([]any, len(s))
	for i, x := range s {
		list[i] = x
	}
	return map[string]any{"anyOf": list}
}
func obj(desc string, props map[string]any, extra map[string]any) map[string]any {
	o := map[string]any{"type": "object"}
	if desc != "" {
		o["description"] = desc
	}
	if props != nil {
		o["properties"] = props
	}
	if extra != nil {
		o["additionalProperties"] = extra
	}
	return o
}
func enum(vals []string) map[string]any { return map[string]any{"type": "string", "enum": vals} }

// keyShapes gives the shape of a key's value, by "section.key". A key with
// no entry accepts any value (the compiler still checks it). It is filled
// in init, since the shapes refer to section, which reads it.
var keyShapes map[string]func() map[string]any

func init() { keyShapes = shapes() }

func shapes() map[string]func() map[string]any {
	return map[string]func() map[string]any{
		"playbook.playbook": func() map[string]any {
			return map[string]any{"type": "string", "pattern": slugRE.String()}
		},
		"playbook.title":       strSchema,
		"playbook.locale":      strSchema,
		"playbook.locales":     func() map[string]any { return arr(strSchema()) },
		"playbook.fallback":    strSchema,
		"playbook.bot":         func() map[string]any { return section("bot", botKeys, nil) },
		"playbook.trigger":     func() map[string]any { return section("trigger", triggerKeys, nil) },
		"playbook.prechat":     func() map[string]any { return prechatSchema() },
		"playbook.allow_hosts": func() map[string]any { return ref("strings") },
		"playbook.vars":        func() map[string]any { return obj("", nil, ref("var")) },
		"playbook.cards": func() map[string]any {
			o := obj("", nil, ref("card"))
			o["propertyNames"] = ref("cardName")
			o["minProperties"] = 1
			return o
		},

		"bot.name":   strSchema,
		"bot.avatar": strSchema,
		"bot.color":  func() map[string]any { return map[string]any{"type": "string", "pattern": colorRE.String()} },

		"prechat.intro": func() map[string]any { return ref("text") },

		"prechatField.label":    func() map[string]any { return ref("text") },
		"prechatField.required": func() map[string]any { return map[string]any{"type": "boolean"} },

		"trigger.pages":    func() map[string]any { return ref("strings") },
		"trigger.delay":    func() map[string]any { return ref("duration") },
		"trigger.campaign": func() map[string]any { return ref("text") },
		"trigger.when":     func() map[string]any { return ref("expr") },

		"var.type":    func() map[string]any { return enum(varTypes) },
		"var.pii":     func() map[string]any { return map[string]any{"type": "boolean"} },
		"var.default": func() map[string]any { return map[string]any{} },
		"var.label":   func() map[string]any { return ref("text") },

		"card.say":     func() map[string]any { return ref("texts") },
		"card.image":   strSchema,
		"card.links":   func() map[string]any { return arr(section("link", linkKeys, []string{"label", "url"})) },
		"card.ask":     func() map[string]any { return ref("text") },
		"card.input":   func() map[string]any { return enum(inputTypes) },
		"card.choices": func() map[string]any { return arr(ref("choice")) },
		"card.other": func() map[string]any {
			return oneOf(ref("cardName"), map[string]any{"const": true}, section("other", otherKeys, nil))
		},
		"card.intents":        func() map[string]any { return arr(ref("intent")) },
		"card.fallback":       func() map[string]any { return ref("cardName") },
		"card.min_confidence": func() map[string]any { return map[string]any{"type": "number", "exclusiveMinimum": 0, "maximum": 1} },
		"card.save":           strSchema,
		"card.skip_if":        func() map[string]any { return ref("expr") },
		"card.validate": func() map[string]any {
			v := section("validate", validateKeys, []string{"if"})
			return oneOf(v, arr(v))
		},
		"card.retry":   func() map[string]any { return section("retry", retryKeys, nil) },
		"card.set":     func() map[string]any { return obj("", nil, ref("expr")) },
		"card.branch":  func() map[string]any { return arr(section("branch", branchKeys, []string{"goto"})) },
		"card.goto":    func() map[string]any { return ref("cardName") },
		"card.handoff": func() map[string]any { return section("handoff", handoffKeys, []string{"team", "offline"}) },
		"card.create":  func() map[string]any { return oneOf(ref("record"), arr(ref("record"))) },
		"card.call":    func() map[string]any { return section("call", callKeys, []string{"url"}) },
		"card.end":     func() map[string]any { return map[string]any{"type": []string{"string", "boolean"}} },
		"card.include": strSchema,
		"card.experiment": func() map[string]any {
			return map[string]any{"type": "string", "pattern": cardNameRE.String()}
		},
		"card.variants": func() map[string]any {
			a := arr(section("variant", variantKeys, []string{"name", "goto"}))
			a["minItems"] = 2
			return a
		},

		"variant.name":   func() map[string]any { return map[string]any{"type": "string", "pattern": cardNameRE.String()} },
		"variant.weight": func() map[string]any { return map[string]any{"type": "integer", "minimum": 1, "maximum": 1000000} },
		"variant.goto":   func() map[string]any { return ref("cardName") },

		"choice.label":    func() map[string]any { return ref("text") },
		"choice.value":    func() map[string]any { return map[string]any{"type": []string{"string", "number", "boolean"}} },
		"choice.goto":     func() map[string]any { return ref("cardName") },
		"choice.synonyms": func() map[string]any { return ref("phrases") },

		"other.save": strSchema,
		"other.goto": func() map[string]any { return ref("cardName") },

		"intent.name":     strSchema,
		"intent.examples": func() map[string]any { return ref("phrases") },
		"intent.goto":     func() map[string]any { return ref("cardName") },

		"link.label": func() map[string]any { return ref("text") },
		"link.url":   strSchema,

		"validate.if":  func() map[string]any { return ref("expr") },
		"validate.say": func() map[string]any { return ref("text") },

		"retry.max":  func() map[string]any { return map[string]any{"type": "integer", "minimum": 1, "maximum": 100} },
		"retry.say":  func() map[string]any { return ref("text") },
		"retry.then": func() map[string]any { return ref("cardName") },

		"branch.if":   func() map[string]any { return ref("expr") },
		"branch.goto": func() map[string]any { return ref("cardName") },

		"handoff.team":    func() map[string]any { return map[string]any{"type": "string", "pattern": slugRE.String()} },
		"handoff.say":     func() map[string]any { return ref("text") },
		"handoff.wait":    func() map[string]any { return ref("duration") },
		"handoff.offline": func() map[string]any { return ref("cardName") },
		"handoff.back_to": func() map[string]any {
			return map[string]any{"oneOf": []any{ref("cardName"), map[string]any{"type": "array", "items": ref("cardName")}}}
		},
		"handoff.priority": func() map[string]any { return enum([]string{"low", "normal", "high", "urgent"}) },

		"call.url": strSchema,
		"call.method": func() map[string]any {
			return map[string]any{"type": "string", "pattern": "(?i)^(get|post|put|patch|delete)$"}
		},
		"call.headers":  func() map[string]any { return obj("", nil, strSchema()) },
		"call.body":     func() map[string]any { return ref("fields") },
		"call.timeout":  func() map[string]any { return ref("duration") },
		"call.save":     func() map[string]any { return obj("", nil, strSchema()) },
		"call.on_error": func() map[string]any { return ref("cardName") },
	}
}

// keyDocs describes keys, by "section.key", for the schema (and so for
// hover and completion in editors) and for `playbook lsp`.
var keyDocs = map[string]string{
	"playbook":              "A chat playbook: what the bot says and asks, where each answer leads.",
	"playbook.playbook":     "The playbook's id: lowercase letters, digits and dashes, unique per server.",
	"playbook.title":        "A title for people.",
	"playbook.locale":       "The default language, such as en.",
	"playbook.locales":      "Every language the texts exist in; the default first.",
	"playbook.fallback":     "The language shown when a text lacks the visitor's.",
	"playbook.bot":          "How the bot presents itself: name, avatar, color.",
	"playbook.trigger":      "When the widget starts this playbook on its own: pages, delay, campaign, when.",
	"playbook.prechat":      "A form shown before the bot starts: intro, name, email, phone, consent; its values are visitor.name, visitor.email, visitor.phone, visitor.consent.",
	"prechat.intro":         "A text above the form's fields.",
	"prechat.name":          "The visitor's name: optional, required, or {label, required}.",
	"prechat.email":         "The visitor's email, checked like input: email: optional, required, or {label, required}.",
	"prechat.phone":         "The visitor's phone, checked like input: phone: optional, required, or {label, required}.",
	"prechat.consent":       "A checkbox: {label, required}; the label is what the visitor agrees to.",
	"prechatField.label":    "The field's label, or a label per locale.",
	"prechatField.required": "The form is refused without this field (the box unticked) when true.",
	"playbook.allow_hosts":  "Hosts that call cards may reach.",
	"playbook.vars":         "Declared vars: name: type, or {type, default, pii}.",
	"playbook.cards":        "The cards, in order; the first is where a conversation starts.",
	"card":                  "A named step of the conversation.",
	"card.say":              "One text or a list of texts (bubbles); {{ expr }} holes are filled in.",
	"card.image":            "An image URL shown with the last bubble.",
	"card.links":            "Buttons that open a URL: [{label, url}].",
	"card.ask":              "A question; the bot waits for the answer.",
	"card.input":            "What the answer must be: text, email, phone, number, int, date, url or yes_no.",
	"card.choices":          "Buttons: a label, or {label, value, goto, synonyms}.",
	"card.other":            "Free text that matches no choice: saved, then this card (or true: the card's own flow).",
	"card.intents":          "Free text matched to intents: [{name, examples, goto}].",
	"card.fallback":         "The card when no intent is sure enough.",
	"card.min_confidence":   "How sure the intent matcher must be, above 0 and at most 1 (default 0.5).",
	"card.save":             "The var the answer is saved into.",
	"card.skip_if":          "Skip the question when this is true.",
	"card.validate":         "Rules the answer must pass: {if, say}, or a list of them.",
	"card.retry":            "After invalid answers: {max, say, then}.",
	"card.set":              "Assignments var: expression, in order.",
	"card.branch":           "Arms {if, goto} tried in order; the last may have no if.",
	"card.goto":             "The next card (without it, the card below runs).",
	"card.handoff":          "Live chat: {team, say, wait, offline, priority, back_to}.",
	"card.create":           "CRM records: lead, deal, person, organization, task, note.",
	"card.call":             "An HTTP call to an allowed host: {url, method, headers, body, timeout, save, on_error}.",
	"card.end":              "Ends the bot part with an outcome label, or true.",
	"card.include":          "Runs another playbook's cards as a sub-flow, then comes back.",
	"card.experiment":       "The experiment's name, for the funnel and `playbook stats --experiment` (default: the card's name).",
	"card.variants":         "An A/B split: [{name, weight, goto}]; each visitor always gets the same variant.",
	"variant.name":          "The variant's name, such as a or short-copy; unique in the experiment.",
	"variant.weight":        "The variant's share, a whole number above 0 (default 1): 50 and 50 split evenly.",
	"variant.goto":          "The card visitors in this variant go to.",
	"choice.label":          "The button's text, or a text per locale.",
	"choice.value":          "What is saved; defaults to the label in the default locale.",
	"choice.goto":           "The card this choice leads to.",
	"choice.synonyms":       "Other words for this choice, a list or per locale.",
	"intent.name":           "The intent's name; saved into the card's save var.",
	"intent.examples":       "Example phrases, a list or per locale.",
	"intent.goto":           "The card this intent leads to.",
	"other.save":            "A string var for the typed text (default: the card's save).",
	"other.goto":            "The card free text leads to.",
	"handoff.team":          "The team whose agents take the chat.",
	"handoff.wait":          "How long to wait for an agent before going offline (default 2m).",
	"handoff.offline":       "The card when nobody is online or accepts in time.",
	"handoff.back_to":       "The cards an agent may hand the chat back to (default: any card whose vars the chat has); each must need no var a chat may lack here.",
	"call.on_error":         "The card when the call fails.",
	"var.type":              "string, number, int, bool, email, phone, url, date, list, map or any.",
	"var.label":             "What agents see instead of the var's name, in the inbox: plain text, or a map of locales to texts.",
}

// prechatSchema is the pre-chat form: intro, then each field as
// optional, required or {label, required}, from prechatKeys.
func prechatSchema() map[string]any {
	s := section("prechat", prechatKeys, nil)
	field := oneOf(enum([]string{"optional", "required"}), map[string]any{"type": "boolean"}, section("prechatField", prechatFieldKeys, nil))
	props := s["properties"].(map[string]any)
	for _, k := range prechatKeys[1:] {
		fs := map[string]any{"allOf": []any{field}}
		if d := keyDocs["prechat."+k]; d != "" {
			fs["description"] = d
		}
		props[k] = fs
	}
	return s
}

// InputTypes lists the `input:` types, for editors.
func InputTypes() []string { return append([]string(nil), inputTypes...) }

// CardKeys lists the keys a card takes, with their descriptions, for
// editors.
func CardKeys() map[string]string {
	out := make(map[string]string, len(cardKeys))
	for _, k := range cardKeys {
		out[k] = keyDocs["card."+k]
	}
	return out
}

// KeyDoc describes a key of the language, by section ("card", "playbook",
// "choice", "handoff", ...) and key; "" when it has no description.
func KeyDoc(section, key string) string { return keyDocs[section+"."+key] }

// TopKeys lists the keys at the top of a playbook, for editors.
func TopKeys() []string { return append([]string(nil), topKeys...) }
