package conversation

import (
	"context"
	"encoding/json"
	"log/slog"
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
//
// With a bus that keeps a follower registry (store.Follows: Redis), the
// hub registers how many local followers each conversation's channel has
// (one, or more) before Attach returns, and removes the registration when
// the last one leaves: a turn is then published only when another process
// follows the conversation, or this one has another follower than the
// turn's own maker (store.WithSelfDelivered), so a process alone with a
// conversation reads no echo of its own turns. After a break it registers
// them all again before its followers catch up, and renews them every
// store.FollowKeep/4.
type Hub struct {
	bus store.Bus
	log *slog.Logger
	// pattern matches the channels heard through one subscription: a
	// glob with one "*" between pre and suf ("" for none).
	pattern, pre, suf string

	mu   sync.Mutex
	l    store.Listener
	all  bool                               // pattern is subscribed: its channels need no subscription of their own
	subs map[string]map[Subscriber]struct{} // channel -> followers

	// reg is the bus's follower registry (nil: none). regs are the
	// per-channel locks that keep a channel's registrations in order,
	// and registered what the registry holds for each channel (1, or 2
	// for more; absent: none), both under mu.
	reg        store.Follows
	regs       map[string]*regLock
	registered map[string]int
}

// regLock orders the registrations of one channel.
type regLock struct {
	mu   sync.Mutex
	refs int
}

// NewHub returns a hub over bus that subscribes to each channel followed;
// Run it.
func NewHub(bus store.Bus, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{bus: bus, log: log, subs: map[string]map[Subscriber]struct{}{}}
	if f, ok := bus.(store.Follows); ok {
		h.reg, h.regs, h.registered = f, map[string]*regLock{}, map[string]int{}
	}
	return h
}

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

// Attach makes sub follow channel ch. The subscription (and the
// process's registration as a follower of the conversation) is confirmed
// before Attach returns, so nothing published afterwards is missed.
func (h *Hub) Attach(ctx context.Context, ch string, sub Subscriber) error {
	return h.attach(ctx, ch, sub, false)
}

// AttachRegistered is Attach for the maker of a conversation's start
// stored with store.WithSelfDelivered, which registered this process as
// its one follower in the same write: no registration of its own.
func (h *Hub) AttachRegistered(ctx context.Context, ch string, sub Subscriber) error {
	return h.attach(ctx, ch, sub, true)
}

func (h *Hub) attach(ctx context.Context, ch string, sub Subscriber, registered bool) error {
	var rl *regLock
	if h.reg != nil && store.ConversationOf(ch) != "" {
		rl = h.lockReg(ch)
		defer h.unlockReg(ch, rl)
	}
	h.mu.Lock()
	followers, ok := h.subs[ch]
	if !ok {
		followers = map[Subscriber]struct{}{}
		h.subs[ch] = followers
	}
	followers[sub] = struct{}{}
	first := !ok && !h.covered(ch)
	want, have := bucket(len(followers)), h.registered[ch]
	if rl != nil && registered && want == 1 && have == 0 {
		h.registered[ch], have = 1, 1
	}
	l := h.l
	h.mu.Unlock()
	if rl != nil && want != have {
		if err := h.reg.Follow(ctx, ch, want); err != nil {
			return err
		}
		h.setRegistered(ch, want)
	}
	if first && l != nil {
		return l.Subscribe(ctx, ch)
	}
	return nil
}

// bucket is what the registry holds for n local followers: 0, 1, or 2
// for more.
func bucket(n int) int { return min(n, 2) }

func (h *Hub) setRegistered(ch string, n int) {
	h.mu.Lock()
	if n == 0 {
		delete(h.registered, ch)
	} else {
		h.registered[ch] = n
	}
	h.mu.Unlock()
}

func (h *Hub) lockReg(ch string) *regLock {
	h.mu.Lock()
	rl := h.regs[ch]
	if rl == nil {
		rl = &regLock{}
		h.regs[ch] = rl
	}
	rl.refs++
	h.mu.Unlock()
	rl.mu.Lock()
	return rl
}

func (h *Hub) unlockReg(ch string, rl *regLock) {
	rl.mu.Unlock()
	h.mu.Lock()
	if rl.refs--; rl.refs == 0 {
		delete(h.regs, ch)
	}
	h.mu.Unlock()
}

// Detach stops sub following ch. The last follower's leaving
// unsubscribes (and removes the process from the conversation's
// registry), bounded to 2 s.
func (h *Hub) Detach(ch string, sub Subscriber) {
	var rl *regLock
	if h.reg != nil && store.ConversationOf(ch) != "" {
		rl = h.lockReg(ch)
		defer h.unlockReg(ch, rl)
	}
	h.mu.Lock()
	followers := h.subs[ch]
	delete(followers, sub)
	last := len(followers) == 0
	if last {
		delete(h.subs, ch)
	}
	want, have := bucket(len(followers)), h.registered[ch]
	last = last && !h.covered(ch)
	l := h.l
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if rl != nil && want != have {
		// A registration left behind (Redis did not answer) costs only
		// publishes nobody here reads, until it expires.
		if err := h.reg.Follow(ctx, ch, want); err == nil {
			h.setRegistered(ch, want)
		}
	}
	if last && l != nil {
		_ = l.Unsubscribe(ctx, ch)
	}
}

// register registers every followed conversation again (after a break,
// which may have lost registrations, and every store.FollowKeep/4 so that
// none expires); logged when Redis did not take it.
func (h *Hub) register(ctx context.Context) {
	if h.reg == nil {
		return
	}
	h.mu.Lock()
	counts := make(map[string]int, len(h.subs))
	for ch, subs := range h.subs {
		if store.ConversationOf(ch) != "" && len(subs) > 0 {
			counts[ch] = bucket(len(subs))
		}
	}
	h.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.reg.FollowAll(ctx, counts); err != nil {
		h.log.Warn("registering the conversations followed here", "conversations", len(counts), "err", err)
	}
}

// Run delivers published messages until ctx is done. Subscribers that
// attached before Run listened are told to Resync once it does. The Redis
// bus reconnects and subscribes again by itself after a Redis restart;
// the followers of each channel subscribed again are told to Resync.
func (h *Hub) Run(ctx context.Context) {
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
	msgs := l.Messages()
	var renew <-chan time.Time
	if h.reg != nil {
		t := time.NewTicker(store.FollowKeep / 4)
		defer t.Stop()
		renew = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew:
			go h.register(ctx)
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if m.Resync && all && m.Channel == h.pattern {
				// Every channel the pattern hears came back. A Redis
				// restart (or a failover) may have lost the registrations:
				// they are made again before the followers catch up.
				h.log.Info("live updates resumed after a break; catching up", "pattern", m.Channel)
				h.register(ctx)
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
				h.register(ctx)
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
				if store.ConversationOf(m.Channel) != "" {
					h.register(ctx)
				}
				for _, s := range h.followers(m.Channel) {
					go s.Resync(m.Channel)
				}
				continue
			}
			for _, s := range h.followers(m.Channel) {
				s.Receive(m.Channel, m.Payload)
			}
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
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Subscriber, 0, len(h.subs[ch]))
	for s := range h.subs[ch] {
		out = append(out, s)
	}
	return out
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
func ParseSignal(payload string) (sig Signal, ok bool) {
	if len(payload) == 0 || payload[0] != '!' {
		return Signal{}, false
	}
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
