package bench

import (
	"fmt"
	"strconv"
)

// The texts of the reference conversation (../shared/design/BENCH.md and
// playbooks/bench/qualify.yaml). The driver checks every reply against them.
const (
	textHello    = "Hi! What brings you here?"
	textBrowsing = "Enjoy! Ping us anytime."
	textEmail    = "What's your work email?"
	textBadEmail = "That doesn't look like an email"
	textSize     = "How many employees?"
	textBudget   = "Monthly budget in USD?"
	textHandoff  = "Connecting you to sales..."
	textOffline  = "Our team is offline, we will email you"
	textNurture  = "Thanks! We'll send you resources."
)

// Outcomes of the reference conversation.
const (
	OutcomeHandoff  = "handoff"
	OutcomeLead     = "lead"
	OutcomeNurture  = "nurture"
	OutcomeBrowsing = "browsing"
)

// Outcomes lists the outcomes in the order reports show them.
var Outcomes = []string{OutcomeHandoff, OutcomeLead, OutcomeNurture, OutcomeBrowsing}

// Turn is one visitor frame and what the bot must answer to it.
type Turn struct {
	// Type is the frame: "start", "message" (Text) or "button" (Label: the
	// button to click on the bot's last message).
	Type  string
	Text  string
	Label string
	// Bot are the texts of the bot's messages, in order; the last one ends
	// the turn (and its latency).
	Bot []string
	// Buttons are the labels the last bot message must offer (nil: none
	// checked).
	Buttons []string
	// Events are the kinds of the system entries the visitor must see, in
	// order (handoff, end).
	Events []string
	// Status is the conversation status the turn must leave.
	Status string
}

// Script is the whole conversation number N.
type Script struct {
	N       int
	Turns   []Turn
	Outcome string
}

// VisitorID is the visitor id conversation n starts with; SimulatedPresence
// reads the number back.
func VisitorID(n int) string { return "bench-" + strconv.Itoa(n) }

// ScriptFor returns conversation n of the reference mix: k = n mod 10.
//
//   - k = 0..5: qualified. One invalid email ("not an email N"), then
//     visitorN@acme{N mod 97}.com; size 51-200 (k even) or 201+ (k odd);
//     budget 300 (k < 3) or 1500 (k >= 3). Even N finds a sales agent online
//     and is handed off; odd N finds nobody and becomes a lead. 6 turns.
//   - k = 6, 7: nurture: size 1-10 and budget 2500 (k = 6), or 11-50 and
//     400 (k = 7). 5 turns.
//   - k = 8, 9: just browsing. 2 turns.
//
// The first turn is the start frame: the widget opening the chat.
func ScriptFor(n int) Script {
	k := n % 10
	start := Turn{Type: "start", Bot: []string{textHello}, Buttons: []string{"Talk to sales", "Just browsing"}, Status: "waiting"}
	if k >= 8 {
		return Script{N: n, Outcome: OutcomeBrowsing, Turns: []Turn{
			start,
			{Type: "button", Label: "Just browsing", Bot: []string{textBrowsing}, Events: []string{"end"}, Status: "ended"},
		}}
	}
	email := fmt.Sprintf("visitor%d@acme%d.com", n, n%97)
	sizes := []string{"1-10", "11-50", "51-200", "201+"}
	turns := []Turn{start, {Type: "button", Label: "Talk to sales", Bot: []string{textEmail}, Status: "waiting"}}
	var size, budget string
	var last Turn
	out := ""
	if k <= 5 {
		turns = append(turns, Turn{Type: "message", Text: fmt.Sprintf("not an email %d", n), Bot: []string{textBadEmail, textEmail}, Status: "waiting"})
		size = "51-200"
		if k%2 == 1 {
			size = "201+"
		}
		budget = "300"
		if k >= 3 {
			budget = "1500"
		}
		if n%2 == 0 {
			out = OutcomeHandoff
			last = Turn{Bot: []string{textHandoff}, Events: []string{"handoff"}, Status: "handoff"}
		} else {
			out = OutcomeLead
			last = Turn{Bot: []string{textOffline}, Events: []string{"end"}, Status: "ended"}
		}
	} else {
		size, budget = "1-10", "2500"
		if k == 7 {
			size, budget = "11-50", "400"
		}
		out = OutcomeNurture
		last = Turn{Bot: []string{textNurture}, Events: []string{"end"}, Status: "ended"}
	}
	turns = append(turns,
		Turn{Type: "message", Text: email, Bot: []string{textSize}, Buttons: sizes, Status: "waiting"},
		Turn{Type: "button", Label: size, Bot: []string{textBudget}, Status: "waiting"},
	)
	last.Type, last.Text = "message", budget
	turns = append(turns, last)
	return Script{N: n, Turns: turns, Outcome: out}
}
