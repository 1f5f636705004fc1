package conversation

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Subscriber receives what is published on the channels it follows: for a
// conversation's channel, its new entries (see store.DecodeLive) or a
// signal (a payload starting with "!", such as typing; see Signal).
// Receive is called on the hub's goroutine and must not block.
type Subscriber interface {
	Receive(channel, payload string)
	// Resync is called (in a goroutine of its own) when the subscription
	// to channel came back after a break (a Redis restart, a network cut,
	// a listener that fell behind): whatever was published in between was
	// missed, and the subscriber catches up from what is stored.
	Resync(channel string)
}

// Hub fans out what every process publishes on a channel (a
// conversation's entries after a turn, signals, inbox events) to the
// subscribers of this process that follow it. It holds one listener of
// the store's Bus and subscribes to a channel while at least one local
// subscriber follows it; with a pattern (NewPatternHub) and a bus whose
// listener takes patterns (Redis), the channels the pattern matches (every
// conversation's) are heard through one pattern subscription for the
// whole process instead: following a conversation costs no SUBSCRIBE and
// no UNSUBSCRIBE, and no wait for Redis when a conversation starts.
// Messages of channels nobody here follows are dropped unread.
type Hub struct {
	bus store.Bus
	log *slog.Logger
	// pattern matches the channels heard through one subscription: a
	// glob with one "*" between pre and suf ("" for none).
	pattern, pre, suf string

	// listening is closed once Run listens (Listening).
	listening     chan struct{}
	listeningOnce sync.Once

	mu   sync.Mutex
	l    store.Listener
	all  bool                               // pattern is subscribed: its channels need no subscription of their own
	subs map[string]map[Subscriber]struct{} // channel -> followers
}

// NewHub returns a hub over bus that subscribes to each channel followed;
// Run it.
func NewHub(bus store.Bus, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{bus: bus, log: log, subs: map[string]map[Subscriber]struct{}{}, listening: make(chan struct{})}
}

// Listening is closed once Run listens: its pattern and the channels
// followed until then are subscribed and confirmed (or Run gave up
// listening, or returned). From then on a follower that Attach returns
// for misses nothing published afterwards; one attached before is told
// to Resync instead, which for an agent's inbox means reloading its lists
// rather than getting each event (a new chat's notify among them). A
// caller that counts on every live event, a test, waits for it first.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

func (h *Hub) listened() { h.listeningOnce.Do(func() { close(h.listening) }) }

// NewPatternHub returns a hub over bus that hears every channel pattern
// matches through one pattern subscription, when bus's listener takes
// patterns (store.PatternListener), and subscribes to other channels one
// by one. pattern has one "*", such as a conversation's channel name
// with "*" for its id (Service.Channel("*")). Run it.
func NewPatternHub(bus store.Bus, pattern string, log *slog.Logger) *Hub {
	h := NewHub(bus, log)
	if pre, suf, ok := strings.Cut(pattern, "*"); ok && !strings.ContainsAny(pre+suf, "*?[\\") {
		h.pattern, h.pre, h.suf = pattern, pre, suf
	}
	return h
}

// covered reports whether the pattern subscription hears ch (h.mu held).
func (h *Hub) covered(ch string) bool {
	return h.all && len(ch) > len(h.pre)+len(h.suf) && strings.HasPrefix(ch, h.pre) && strings.HasSuffix(ch, h.suf)
}

// Attach makes sub follow channel ch. Once the hub listens (Listening),
// the subscription is confirmed before Attach returns, so nothing
// published afterwards is missed; before, sub is told to Resync when it
// listens.
func (h *Hub) Attach(ctx context.Context, ch string, sub Subscriber) error {
	h.mu.Lock()
	followers, ok := h.subs[ch]
	if !ok {
		followers = map[Subscriber]struct{}{}
		h.subs[ch] = followers
	}
	followers[sub] = struct{}{}
	first := !ok && !h.covered(ch)
	l := h.l
	h.mu.Unlock()
	if first && l != nil {
		return l.Subscribe(ctx, ch)
	}
	return nil
}

// Detach stops sub following ch. The last follower's leaving
// unsubscribes, bounded to 2 s.
func (h *Hub) Detach(ch string, sub Subscriber) {
	h.mu.Lock()
	followers := h.subs[ch]
	delete(followers, sub)
	last := len(followers) == 0
	if last {
		delete(h.subs, ch)
	}
	last = last && !h.covered(ch)
	l := h.l
	h.mu.Unlock()
	if last && l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Unsubscribe(ctx, ch)
	}
}

// Run delivers published messages until ctx is done. Subscribers that
// attached before Run listened are told to Resync once it does. The Redis
// bus reconnects and subscribes again by itself after a Redis restart;
// the followers of each channel subscribed again are told to Resync.
func (h *Hub) Run(ctx context.Context) {
	defer h.listened()
	l, err := h.bus.Listen(ctx)
	if err != nil {
		h.log.Error("listening for live updates", "err", err)
		return
	}
	defer l.Close()
	// The pattern is confirmed before Attach may count on it.
	all := false
	if pl, ok := l.(store.PatternListener); ok && h.pattern != "" {
		if err := pl.PSubscribe(ctx, h.pattern); err != nil {
			h.log.Error("subscribing to live updates; following channels one by one", "pattern", h.pattern, "err", err)
		} else {
			all = true
		}
	}
	h.mu.Lock()
	h.l, h.all = l, all
	var chans, own []string
	for ch := range h.subs {
		chans = append(chans, ch)
		if !h.covered(ch) {
			own = append(own, ch)
		}
	}
	h.mu.Unlock()
	if len(chans) > 0 {
		if len(own) > 0 {
			if err := l.Subscribe(ctx, own...); err != nil {
				h.log.Error("subscribing to live updates", "err", err)
			}
		}
		// They followed before anything was subscribed: what was
		// published until now never came. The transcript has it.
		for _, ch := range chans {
			for _, s := range h.followers(ch) {
				go s.Resync(ch)
			}
		}
	}
	h.listened()
	msgs := l.Messages()
	// The followers a message goes to, copied out of the map under the
	// lock into one list that Run keeps from message to message.
	var to []Subscriber
	defer func() { clear(to) }()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if m.Resync && all && m.Channel == h.pattern {
				// Every channel the pattern hears came back.
				h.log.Info("live updates resumed after a break; catching up", "pattern", m.Channel)
				for ch, subs := range h.coveredFollowers() {
					for _, s := range subs {
						go s.Resync(ch)
					}
				}
				continue
			}
			if sl, ok := l.(store.ShardListener); ok && m.Resync && all && len(h.followers(m.Channel)) == 0 {
				// A shard of the pattern's channels came back (a Redis
				// Cluster's sharded pub/sub): the channels it covers.
				n := 0
				for ch, subs := range h.coveredFollowers() {
					if !sl.Covers(m.Channel, ch) {
						continue
					}
					n++
					for _, s := range subs {
						go s.Resync(ch)
					}
				}
				h.log.Info("live updates resumed after a break; catching up", "shard", m.Channel, "conversations", n)
				continue
			}
			if m.Resync {
				h.log.Info("live updates resumed after a break; catching up", "channel", m.Channel)
				for _, s := range h.followers(m.Channel) {
					go s.Resync(m.Channel)
				}
				continue
			}
			to = h.appendFollowers(to[:0], m.Channel)
			for _, s := range to {
				s.Receive(m.Channel, m.Payload)
			}
			clear(to) // no follower kept past its message
		}
	}
}

// coveredFollowers are the followers of every channel the pattern hears.
func (h *Hub) coveredFollowers() map[string][]Subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]Subscriber{}
	for ch, subs := range h.subs {
		if !h.covered(ch) {
			continue
		}
		for s := range subs {
			out[ch] = append(out[ch], s)
		}
	}
	return out
}

func (h *Hub) followers(ch string) []Subscriber {
	return h.appendFollowers(nil, ch)
}

// appendFollowers appends ch's followers to out.
func (h *Hub) appendFollowers(out []Subscriber, ch string) []Subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out = slices.Grow(out, len(h.subs[ch]))
	for s := range h.subs[ch] {
		out = append(out, s)
	}
	return out
}

// Alone reports whether nobody on this process follows ch but self (nil:
// nobody at all): a turn of self's may then be quiet (store.TurnReads.Quiet:
// left unpublished when no other process hears ch either). After such a
// turn, CatchUpOthers.
func (h *Hub) Alone(ch string, self Subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return onlySelf(h.subs[ch], self)
}

// onlySelf reports whether followers holds no one but self (nil: no
// one), by their number and one lookup: every quiet turn asks it, twice,
// and a map's iteration costs more (a random start, each group scanned;
// docs/benchmarks.md, "A turn's frames written by hand; the hub's
// followers counted, not walked").
func onlySelf(followers map[Subscriber]struct{}, self Subscriber) bool {
	switch len(followers) {
	case 0:
		return true
	case 1:
		_, ok := followers[self]
		return ok
	}
	return false
}

// CatchUpOthers tells each follower of ch but self to Resync: after a quiet
// turn of self's, one that came while the turn was stored may have read
// the transcript before the turn's write and missed its entries, which
// were not published.
func (h *Hub) CatchUpOthers(ch string, self Subscriber) {
	h.mu.Lock()
	if onlySelf(h.subs[ch], self) { // usually: nobody came meanwhile
		h.mu.Unlock()
		return
	}
	var others []Subscriber
	for s := range h.subs[ch] {
		if s != self {
			others = append(others, s)
		}
	}
	h.mu.Unlock()
	for _, s := range others {
		go s.Resync(ch)
	}
}

// ConversationOf returns the conversation id in a conversation channel's
// name ("" for another channel).
func ConversationOf(ch string) string { return store.ConversationOf(ch) }

// Channel returns the name of conversation conv's live channel.
func (s *Service) Channel(conv string) string { return s.store.Channel(conv) }

// LivePattern returns the pattern a process hears the channels it follows
// through (NewPatternHub): every conversation's channel and the inbox
// channel, which share the store's key prefix ("pb:{c:ID}:live" and
// "pb:inbox": "pb:*"), so that a process holds one subscription in all
// (issue 13). When they share no prefix, it is the conversations' pattern
// alone and the inbox channel is subscribed on its own.
func (s *Service) LivePattern() string {
	conv := s.Channel("*")
	pre, _, _ := strings.Cut(conv, "*")
	inbox := s.InboxChannel()
	n := 0
	for n < len(pre) && n < len(inbox) && pre[n] == inbox[n] {
		n++
	}
	if n == 0 {
		return conv
	}
	return pre[:n] + "*"
}

// Signal is an ephemeral event on a conversation's channel: typing dots.
// It goes out as "!" and its JSON.
type Signal struct {
	Type   string `json:"type"`
	From   string `json:"from"`
	Author string `json:"author,omitempty"`
	On     bool   `json:"on"`
}

// ParseSignal decodes a signal payload; ok is false for entries.
func ParseSignal(payload string) (Signal, bool) {
	if len(payload) == 0 || payload[0] != '!' {
		return Signal{}, false
	}
	// Declared here, not as a result: what Unmarshal decodes into goes to
	// the heap, which entries (every turn's echo) then do not pay for.
	var sig Signal
	if json.Unmarshal([]byte(payload[1:]), &sig) != nil {
		return Signal{}, false
	}
	return sig, true
}

// PublishSignal sends sig to everyone following conversation conv; a
// failure is logged (a signal is not worth a retry).
func (s *Service) PublishSignal(ctx context.Context, conv string, sig Signal) {
	b, _ := json.Marshal(sig)
	if err := s.cfg.Publisher.Publish(ctx, s.store.Channel(conv), "!"+string(b)); err != nil {
		s.log.Warn("publishing signal", "conversation", conv, "err", err)
	}
}
