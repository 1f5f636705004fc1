package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// subscriber receives what is published on the channels it follows: for a
// conversation's channel, its new entries (see store.DecodeLive) or a
// signal (a payload starting with "!", such as typing).
type subscriber interface {
	receive(channel, payload string)
	// resync is called when the subscription to channel came back after a
	// break (a Redis restart, a network cut, a listener that fell behind):
	// whatever was published in between was missed, and the subscriber
	// catches up from what is stored.
	resync(channel string)
}

// hub fans out the entries every process publishes after a turn to the
// connections of this process that follow the conversation. It holds one
// listener of the store's Bus and subscribes to a conversation's channel
// while at least one local connection follows it.
type hub struct {
	bus store.Bus
	log *slog.Logger

	mu   sync.Mutex
	l    store.Listener
	subs map[string]map[subscriber]struct{} // channel -> followers
}

func newHub(bus store.Bus, log *slog.Logger) *hub {
	return &hub{bus: bus, log: log, subs: map[string]map[subscriber]struct{}{}}
}

// attach makes sub follow channel ch. The subscription is confirmed
// before attach returns, so nothing published afterwards is missed.
func (h *hub) attach(ctx context.Context, ch string, sub subscriber) error {
	h.mu.Lock()
	followers, ok := h.subs[ch]
	if !ok {
		followers = map[subscriber]struct{}{}
		h.subs[ch] = followers
	}
	followers[sub] = struct{}{}
	first := !ok
	l := h.l
	h.mu.Unlock()
	if first && l != nil {
		return l.Subscribe(ctx, ch)
	}
	return nil
}

// detach stops sub following ch.
func (h *hub) detach(ch string, sub subscriber) {
	h.mu.Lock()
	followers := h.subs[ch]
	delete(followers, sub)
	last := len(followers) == 0
	if last {
		delete(h.subs, ch)
	}
	l := h.l
	h.mu.Unlock()
	if last && l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Unsubscribe(ctx, ch)
	}
}

// run delivers published entries until ctx is done. The Redis bus
// reconnects and subscribes again by itself after a Redis restart; the
// followers of each channel subscribed again are told to resync.
func (h *hub) run(ctx context.Context) {
	l, err := h.bus.Listen(ctx)
	if err != nil {
		h.log.Error("listening for live updates", "err", err)
		return
	}
	defer l.Close()
	h.mu.Lock()
	h.l = l
	var chans []string
	for ch := range h.subs {
		chans = append(chans, ch)
	}
	h.mu.Unlock()
	if len(chans) > 0 {
		if err := l.Subscribe(ctx, chans...); err != nil {
			h.log.Error("subscribing to live updates", "err", err)
		}
	}
	msgs := l.Messages()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if m.Resync {
				h.log.Info("live updates resumed after a break; catching up", "channel", m.Channel)
				for _, s := range h.followers(m.Channel) {
					go s.resync(m.Channel)
				}
				continue
			}
			for _, s := range h.followers(m.Channel) {
				s.receive(m.Channel, m.Payload)
			}
		}
	}
}

func (h *hub) followers(ch string) []subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]subscriber, 0, len(h.subs[ch]))
	for s := range h.subs[ch] {
		out = append(out, s)
	}
	return out
}

// conversationOf returns the conversation id in a channel name.
func conversationOf(ch string) string { return store.ConversationOf(ch) }

// signal is an ephemeral event on a conversation's channel: typing dots.
type signal struct {
	Type   string `json:"type"`
	From   string `json:"from"`
	Author string `json:"author,omitempty"`
	On     bool   `json:"on"`
}

// publishSignal sends sig to everyone following conversation conv.
func (s *Server) publishSignal(ctx context.Context, conv string, sig signal) {
	b, _ := json.Marshal(sig)
	if err := s.bus.Publish(ctx, s.store.Channel(conv), "!"+string(b)); err != nil {
		s.log.Warn("publishing signal", "conversation", conv, "err", err)
	}
}
