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
}

// hub fans out the entries every process publishes after a turn to the
// connections of this process that follow the conversation. It holds one
// Redis pub/sub connection and subscribes to a conversation's channel while
// at least one local connection follows it.
type hub struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu    sync.Mutex
	ps    *redis.PubSub
	subs  map[string]map[subscriber]struct{} // channel -> followers
	ready chan struct{}
}

func newHub(rdb redis.UniversalClient, log *slog.Logger) *hub {
	return &hub{rdb: rdb, log: log, subs: map[string]map[subscriber]struct{}{}, ready: make(chan struct{})}
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
// resubscribes by itself after a Redis restart.
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
	msgs := ps.Channel(redis.WithChannelSize(1024))
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			h.mu.Lock()
			var followers []subscriber
			for s := range h.subs[m.Channel] {
				followers = append(followers, s)
			}
			h.mu.Unlock()
			for _, s := range followers {
				s.receive(m.Channel, m.Payload)
			}
		}
	}
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
