package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscriber receives what is published on the channels it follows: for a
// conversation's channel, its new entries (see redisstore.DecodeLive) or a
// signal (a payload starting with "!", such as typing).
type subscriber interface {
	receive(channel, payload string)
	// resync is called when the subscription to channel came back after
	// the connection to Redis broke (a Redis restart, a network cut):
	// whatever was published in between was missed, and the subscriber
	// catches up from what is stored.
	resync(channel string)
}

// hub fans out the entries every process publishes after a turn to the
// connections of this process that follow the conversation. It holds one
// Redis pub/sub connection and subscribes to a conversation's channel while
// at least one local connection follows it.
type hub struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu   sync.Mutex
	ps   *redis.PubSub
	subs map[string]map[subscriber]struct{} // channel -> followers
	// confirmed are the followed channels whose subscription Redis has
	// confirmed; a second confirmation means go-redis subscribed again on
	// a new connection.
	confirmed map[string]bool
	ready     chan struct{}
}

func newHub(rdb redis.UniversalClient, log *slog.Logger) *hub {
	return &hub{rdb: rdb, log: log, subs: map[string]map[subscriber]struct{}{}, confirmed: map[string]bool{}, ready: make(chan struct{})}
}

// attach makes sub follow channel ch. The subscription is confirmed by
// Redis before attach returns, so nothing published afterwards is missed.
func (h *hub) attach(ctx context.Context, ch string, sub subscriber) error {
	h.mu.Lock()
	followers, ok := h.subs[ch]
	if !ok {
		followers = map[subscriber]struct{}{}
		h.subs[ch] = followers
	}
	followers[sub] = struct{}{}
	first := !ok
	ps := h.ps
	h.mu.Unlock()
	if first && ps != nil {
		return ps.Subscribe(ctx, ch)
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
		delete(h.confirmed, ch)
	}
	ps := h.ps
	h.mu.Unlock()
	if last && ps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = ps.Unsubscribe(ctx, ch)
	}
}

// run reads published entries until ctx is done. go-redis reconnects and
// resubscribes by itself after a Redis restart; the followers of each
// channel subscribed again are told to resync.
func (h *hub) run(ctx context.Context) {
	h.mu.Lock()
	h.ps = h.rdb.Subscribe(ctx)
	var chans []string
	for ch := range h.subs {
		chans = append(chans, ch)
	}
	ps := h.ps
	h.mu.Unlock()
	if len(chans) > 0 {
		_ = ps.Subscribe(ctx, chans...)
	}
	close(h.ready)
	defer ps.Close()
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-msgs:
			if !ok {
				return
			}
			switch m := msg.(type) {
			case *redis.Message:
				for _, s := range h.followers(m.Channel) {
					s.receive(m.Channel, m.Payload)
				}
			case *redis.Subscription:
				if m.Kind == "subscribe" && h.confirm(m.Channel) {
					h.log.Info("live updates resumed after a break in the connection to Redis; catching up", "channel", m.Channel)
					for _, s := range h.followers(m.Channel) {
						go s.resync(m.Channel)
					}
				}
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

// confirm records Redis's confirmation of a subscription to ch and reports
// whether it had been confirmed before (go-redis subscribed again after a
// reconnect).
func (h *hub) confirm(ch string) (again bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, followed := h.subs[ch]; !followed {
		return false
	}
	again = h.confirmed[ch]
	h.confirmed[ch] = true
	return again
}

// conversationOf returns the conversation id in a channel name.
func conversationOf(ch string) string {
	_, rest, _ := strings.Cut(ch, "{c:")
	id, _, _ := strings.Cut(rest, "}")
	return id
}

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
	if err := s.cfg.Redis.Publish(ctx, s.store.Channel(conv), "!"+string(b)).Err(); err != nil {
		s.log.Warn("publishing signal", "conversation", conv, "err", err)
	}
}
