package conversation_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
)

const pricing = `playbook: pricing
locale: en
locales: [en, es]
fallback: en
bot: {name: Ava, color: "#0b7a75"}
trigger:
  pages: ["/pricing*"]
  delay: 5s
  campaign:
    en: Questions about pricing?
    es: ¿Preguntas sobre precios?
  when: not visitor.returning
cards:
  hi:
    say: {en: Hi!, es: ¡Hola!}
    end: done
`

// TestWidgetMatchAndPick: a page under the trigger gets its playbook, bot, delay
// and campaign in the visitor's locale; a returning visitor or another
// page gets nothing; a start frame naming no playbook gets the trigger's,
// else the default.
func TestWidgetMatchAndPick(t *testing.T) {
	f := newCRMFixture(t, nil, pricing)
	m := f.svc.WidgetMatch(protocol.WidgetMatchRequest{Page: "/pricing/teams", Locale: "es"})
	if m.Playbook != "pricing" || m.DelayMS == nil || *m.DelayMS != 5000 || m.Bot == nil || m.Bot.Name != "Ava" || m.Campaign != "¿Preguntas sobre precios?" {
		t.Fatalf("the pricing page's match: %+v", m)
	}
	if m := f.svc.WidgetMatch(protocol.WidgetMatchRequest{Page: "/pricing", Visitor: &protocol.Visitor{Returning: true}}); m.Playbook != "" {
		t.Fatalf("a returning visitor matched: %+v", m)
	}
	if m := f.svc.WidgetMatch(protocol.WidgetMatchRequest{Page: "/blog"}); m.Playbook != "" || m.DelayMS != nil {
		t.Fatalf("another page matched: %+v", m)
	}
	if p := f.svc.PickPlaybook(&protocol.Start{Page: "/pricing"}, "desk"); p == nil || p.ID != "pricing" {
		t.Fatalf("a start on the pricing page got %v", p)
	}
	if p := f.svc.PickPlaybook(&protocol.Start{Page: "/blog"}, "desk"); p == nil || p.ID != "desk" {
		t.Fatalf("a start elsewhere got %v, want the default", p)
	}
	if p := f.svc.PickPlaybook(&protocol.Start{Playbook: "desk", Page: "/pricing"}, ""); p == nil || p.ID != "desk" {
		t.Fatalf("a start naming desk got %v", p)
	}
	v := conversation.VisitorFrom(strings.Repeat("p", 600), "fr", &protocol.Visitor{Name: strings.Repeat("n", 300)})
	if len([]rune(v.Page)) != 501 || len([]rune(v.Name)) != 201 || v.Language != "fr" {
		t.Fatalf("the visitor is not cut to size: page %d, name %d, language %q", len([]rune(v.Page)), len([]rune(v.Name)), v.Language)
	}
}
