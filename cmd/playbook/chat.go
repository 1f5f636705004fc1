package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/playtest"
)

var chatCommand = &command{
	name:    "chat",
	summary: "talk to a playbook in this terminal, as a visitor would",
	usage:   "chat [options] FILE",
	help: `Starts a conversation with the playbook in FILE. The bot's messages are
printed with their buttons numbered; type what a visitor would type, or a
button's number to click it. What the bot would do behind the scenes is
shown on grey lines starting with "·": a handoff to your team, a lead or
task it would create, a web call, the end of the conversation. Nothing is
created or sent for real.

While chatting, these commands change the pretend world:
` + chatHelp + `
Nobody is online unless you say so with --online (or /online during the
chat). A team is within its opening hours when --open (or /open) names it,
else as the hours.yaml beside the playbook says at the chat's time, else
not. The chat runs on the real clock; --now pins it to a time.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		o := &chatOptions{}
		fs.StringVar(&o.online, "online", "", "agents online per team at the start, like `sales=2,support=1`")
		fs.StringVar(&o.open, "open", "", "teams within their opening hours, like `sales,support`")
		fs.StringVar(&o.locale, "locale", "", "the visitor's browser language, like `es` or es-MX (default: the playbook's)")
		fs.StringVar(&o.name, "visitor-name", "", "the visitor's `name`, as if they were known")
		fs.StringVar(&o.page, "page", "", "the `path` of the page the visitor is on, like /pricing")
		fs.StringVar(&o.now, "now", "", "pin the clock to this `time` (2026-01-05T10:00:00Z, or a date) instead of the real time; /wait still moves it")
		fs.StringVar(&o.mocks, "http-mock", "", "answer web calls from this `FILE.yaml` (\"METHOD URL\": {status, body}, as in a test's http:); without it every call fails")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 1 {
				return usageError("give exactly one playbook file")
			}
			return runChat(ctx, std, args[0], o)
		}
	},
}

const chatHelp = `  /online sales=1        set how many agents of a team are online
  /open sales,support    set which teams are within opening hours
  /wait 2m               let time pass (timers, such as a handoff's wait, fire)
  /join alice            an agent takes the chat
  /leave                 the agent leaves the chat
  /resume CARD           the agent hands the chat back to the bot at CARD
  /vars                  show the conversation's vars, status and outcome
  /restart               start the conversation again
  /quit                  stop (so does Ctrl-D)
  /help                  show these commands
`

type chatOptions struct {
	online, open, locale, name, page, mocks, now string
}

// chat is one terminal conversation.
type chat struct {
	std      *stdio
	prog     *engine.Program
	sim      *playtest.Sim
	visitor  engine.Visitor
	locale   string
	dim      bool // stdout is a terminal: grey lines with ANSI codes
	said     bool // the last action produced some output
	sessions int
	// last is when the clock was last moved to the real time; zero when
	// --now pinned the clock (then only /wait moves it).
	last time.Time
}

// tick moves the chat's clock on by the real time since the last tick,
// unless --now pinned it.
func (c *chat) tick() {
	if c.last.IsZero() {
		return
	}
	now := time.Now()
	c.sim.Now = c.sim.Now.Add(now.Sub(c.last))
	c.last = now
}

func runChat(ctx context.Context, std *stdio, file string, o *chatOptions) error {
	online, err := parseOnline(o.online)
	if err != nil {
		return usageError("--online: %v", err)
	}
	open := parseOpen(o.open)
	start, pinned := time.Now().UTC(), false
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			t, err = time.Parse("2006-01-02", o.now)
		}
		if err != nil {
			return usageError("--now: %q is not a time like 2026-01-05T10:00:00Z or a date like 2026-01-05", o.now)
		}
		start, pinned = t, true
	}
	var mocks []*playtest.Mock
	if o.mocks != "" {
		src, err := os.ReadFile(o.mocks)
		if err != nil {
			return failf("cannot read %s: %v", o.mocks, pathErr(err))
		}
		ms, diags := playtest.ParseMocks(o.mocks, src)
		if diags.HasErrors() {
			source.Render(std.err, source.Files{o.mocks: src}, diags)
			return errFailed
		}
		mocks = ms
	}
	p, err := loadOne(std.err, file)
	if err != nil {
		return err
	}
	c := &chat{
		std:     std,
		prog:    p,
		visitor: engine.Visitor{Name: o.name, Page: o.page, Language: o.locale},
		locale:  o.locale,
		dim:     isTerminal(std.out),
	}
	c.sim = c.newSim(start)
	if !pinned {
		c.last = time.Now()
	}
	c.sim.SetOnline(online)
	c.sim.SetOpen(open)
	c.sim.Mocks = mocks
	interactive := isTerminal(std.in)

	name := p.ID
	if p.Title != "" {
		name += " (" + p.Title + ")"
	}
	fmt.Fprintf(std.out, "Chatting with %s. Type /help for commands, /quit to stop.\n", name)
	c.start()

	in := bufio.NewScanner(std.in)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if interactive {
			fmt.Fprint(std.out, "> ")
		}
		if !in.Scan() {
			if interactive {
				fmt.Fprintln(std.out)
			}
			if err := in.Err(); err != nil {
				return failf("reading input: %v", err)
			}
			return nil
		}
		line := strings.TrimSpace(in.Text())
		if !interactive {
			fmt.Fprintf(std.out, "> %s\n", line)
		}
		if line == "" {
			continue
		}
		c.tick()
		if strings.HasPrefix(line, "/") {
			if quit := c.command(line); quit {
				return nil
			}
			continue
		}
		c.visitorSays(line)
	}
}

func (c *chat) newSim(now time.Time) *playtest.Sim {
	c.sessions++
	s := playtest.NewSim(c.prog, fmt.Sprintf("chat-%d", c.sessions), now)
	s.OnEffect = c.show
	s.OnCallResult = func(_ *engine.CallRequest, r *engine.CallResult) { c.note(playtest.DescribeResult(r)) }
	s.OnTimer = func(t engine.Timer) { c.note("timer fired at " + t.At.UTC().Format("15:04:05")) }
	s.OnIntent = func(g engine.IntentGuess) {
		if g.Name == "" {
			c.note("no intent matched")
			return
		}
		c.note(fmt.Sprintf("intent %s (confidence %.2f)", g.Name, g.Confidence))
	}
	return s
}

func (c *chat) start() {
	c.act(c.sim.Start(c.visitor, c.locale))
}

// act reports what an action did when it printed nothing.
func (c *chat) act(err error) {
	if err != nil {
		fmt.Fprintf(c.std.out, "! %v\n", err)
		return
	}
	if c.said {
		c.said = false
		return
	}
	s := c.sim.Session
	switch s.Status {
	case engine.StatusHandoff:
		c.note("the chat is waiting for an agent of the team; the bot stays quiet (/join NAME, /wait 2m)")
	case engine.StatusAgent:
		c.note("agent " + s.Agent + " owns the chat; the bot stays quiet (/resume CARD, /leave)")
	case engine.StatusEnded:
		c.note("the conversation has ended (/restart to start again)")
	case engine.StatusFailed:
		c.note("the bot stopped after an error (/restart to start again)")
	}
}

func (c *chat) visitorSays(line string) {
	if n, err := strconv.Atoi(line); err == nil {
		if bs := c.sim.Buttons(); n >= 1 && n <= len(bs) && c.sim.Session.Status == engine.StatusWaiting {
			c.act(c.sim.ClickButton(bs[n-1]))
			return
		}
	}
	c.act(c.sim.Text(line))
}

// note prints a grey line.
func (c *chat) note(s string) {
	c.said = true
	if c.dim {
		fmt.Fprintf(c.std.out, "\x1b[2m· %s\x1b[0m\n", s)
		return
	}
	fmt.Fprintf(c.std.out, "· %s\n", s)
}

// show prints one effect.
func (c *chat) show(e engine.Effect) {
	switch e.Kind {
	case engine.EffectSay:
		c.said = true
		bot := c.prog.Bot.Name
		if bot == "" {
			bot = "bot"
		}
		fmt.Fprintf(c.std.out, "%s: %s\n", bot, strings.ReplaceAll(e.Text, "\n", "\n    "))
		if e.Image != "" {
			fmt.Fprintf(c.std.out, "    [image] %s\n", e.Image)
		}
		for _, l := range e.Links {
			fmt.Fprintf(c.std.out, "    [link] %s: %s\n", l.Label, l.URL)
		}
		for i, b := range e.Buttons {
			fmt.Fprintf(c.std.out, "    [%d] %s\n", i+1, b.Label)
		}
	case engine.EffectWait:
		// The prompt says it.
	case engine.EffectError:
		c.said = true
		fmt.Fprintf(c.std.out, "! %s\n", playtest.Describe(e))
	default:
		if d := playtest.Describe(e); d != "" {
			c.note(d)
		}
	}
}

// command runs a slash command; it returns true to quit.
func (c *chat) command(line string) bool {
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	out := c.std.out
	switch strings.ToLower(name) {
	case "/quit", "/exit", "/q":
		return true
	case "/help", "/?":
		fmt.Fprint(out, chatHelp)
	case "/online":
		online, err := parseOnline(arg)
		if err != nil || arg == "" {
			fmt.Fprintln(out, "! write it like /online sales=1 (or sales=1,support=2)")
			break
		}
		c.sim.SetOnline(online)
		c.note("agents online: " + formatOnline(c.sim.Online))
	case "/open":
		c.sim.Open = parseOpen(arg)
		if len(c.sim.Open) == 0 {
			c.note("every team is outside its opening hours")
		} else {
			c.note("within opening hours: " + strings.Join(sortedKeys(c.sim.Open), ", "))
		}
	case "/wait":
		d, err := engine.ParseDuration(arg)
		if err != nil || d <= 0 {
			fmt.Fprintln(out, "! write it like /wait 2m (or 30s, 1h, 2d)")
			break
		}
		c.note("waiting " + playtest.FormatDuration(d))
		c.said = false
		c.act(c.sim.Advance(d))
	case "/join":
		if arg == "" {
			arg = "agent"
		}
		c.note("agent " + arg + " joins")
		c.said = false
		c.act(c.sim.AgentJoins(arg))
	case "/leave":
		if arg == "" {
			arg = c.sim.Session.Agent
		}
		if arg == "" {
			arg = "agent"
		}
		c.note("agent " + arg + " leaves")
		c.said = false
		c.act(c.sim.AgentLeaves(arg))
	case "/resume":
		if arg == "" {
			fmt.Fprintln(out, "! write it like /resume CARD, with the name of the card to go on from")
			break
		}
		c.act(c.sim.Resume(arg))
	case "/vars":
		c.printVars()
	case "/restart":
		online, open, mocks := c.sim.Online, c.sim.Open, c.sim.Mocks
		c.sim = c.newSim(c.sim.Now)
		c.sim.Online, c.sim.Open, c.sim.Mocks = online, open, mocks
		c.note("starting again")
		c.said = false
		c.start()
	default:
		fmt.Fprintf(out, "! there is no command %s; type /help for the list\n", name)
	}
	return false
}

func (c *chat) printVars() {
	out := c.std.out
	s := c.sim.Session
	status := string(s.Status)
	if status == "" {
		status = "not started"
	}
	fmt.Fprintf(out, "  status: %s\n", status)
	if s.Outcome != "" {
		fmt.Fprintf(out, "  outcome: %s\n", s.Outcome)
	}
	if s.Card >= 0 && s.Card < len(c.prog.Cards) {
		fmt.Fprintf(out, "  card: %s\n", c.prog.Cards[s.Card].Name)
	}
	for _, v := range c.prog.Vars {
		val, ok := s.Vars[v.Name]
		shown := playtest.Format(val)
		if !ok || val == nil {
			shown = "(unset)"
		}
		fmt.Fprintf(out, "  %s = %s\n", v.Name, shown)
	}
}

// parseOnline reads "sales=2,support=1" (commas or spaces between teams).
func parseOnline(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		team, n, ok := strings.Cut(part, "=")
		if !ok {
			team, n = part, "1"
		}
		c, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || c < 0 || strings.TrimSpace(team) == "" {
			return nil, fmt.Errorf("%q is not team=NUMBER", part)
		}
		out[strings.TrimSpace(team)] = c
	}
	return out, nil
}

// parseOpen reads "sales,support".
func parseOpen(s string) map[string]bool {
	out := map[string]bool{}
	for _, team := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out[team] = true
	}
	return out
}

func formatOnline(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
