package conversation

import (
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
)

// Which playbook a page gets: named by the widget, else by the page's
// trigger, else the default.

// PickPlaybook chooses the playbook a start frame gets: the one it names,
// else the one whose trigger matches its page and visitor, else def (nil:
// none of these is loaded).
func (s *Service) PickPlaybook(f *protocol.Start, def string) *engine.Program {
	return s.reg.Pick(f.Playbook, f.Page, VisitorFrom(f.Page, f.Locale, f.Visitor), def)
}

// WidgetMatch tells the widget which playbook's trigger applies to its
// page (none: the zero WidgetMatch): its id, bot, the trigger's delay, and
// its campaign message rendered for the visitor in their locale.
func (s *Service) WidgetMatch(req protocol.WidgetMatchRequest) protocol.WidgetMatch {
	vis := VisitorFrom(req.Page, req.Locale, req.Visitor)
	p := s.reg.MatchTrigger(req.Page, vis)
	if p == nil {
		return protocol.WidgetMatch{}
	}
	delay := p.Trigger.Delay.Milliseconds()
	out := protocol.WidgetMatch{Playbook: p.ID, DelayMS: &delay, Bot: &protocol.Bot{Name: p.Bot.Name, Avatar: p.Bot.Avatar, Color: p.Bot.Color}}
	if p.Trigger.Campaign != nil {
		loc := engine.MatchLocale(p, req.Locale)
		out.Campaign = engine.RenderText(p, p.Trigger.Campaign, loc, vis, s.now())
	}
	return out
}
