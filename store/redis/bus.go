package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Bus is Redis pub/sub (store.Bus): every process's listeners get what any
// process publishes. A listener holds one pub/sub connection; go-redis
// reconnects and subscribes again by itself after a break, and the
// listener then sends a Resync for each channel, since what was published
// in between is lost.
type Bus struct{ rdb goredis.UniversalClient }

var (
	_ store.Bus             = (*Bus)(nil)
	_ store.PatternListener = (*listener)(nil)
)

// NewBus returns the bus of rdb.
func NewBus(rdb goredis.UniversalClient) *Bus { return &Bus{rdb: rdb} }

// Publish sends payload on channel. On a Redis Cluster it goes to the
// master of the channel's slot, the node the turn script publishes on
// too: go-redis sends PUBLISH to any node, and two messages of one
// channel published on two nodes can reach a subscriber in either order
// (one arrives directly, the other over the cluster bus).
func (b *Bus) Publish(ctx context.Context, channel, payload string) error {
	if cc, ok := b.rdb.(*goredis.ClusterClient); ok {
		if n, err := cc.MasterForKey(ctx, channel); err == nil {
			if err := n.Publish(ctx, channel, payload).Err(); err == nil {
				return nil
			}
			// A stale slot map (a failover): the cluster client refreshes it.
		}
	}
	return b.rdb.Publish(ctx, channel, payload).Err()
}

// Listen opens a listener (one pub/sub connection).
func (b *Bus) Listen(ctx context.Context) (store.Listener, error) {
	l := &listener{ps: b.rdb.Subscribe(context.WithoutCancel(ctx)), confirmed: map[string]bool{}, followed: map[string]bool{},
		patterns: map[string]bool{}, pconfirmed: map[string]bool{},
		out: make(chan store.Message, 1024), stop: make(chan struct{})}
	go l.run()
	return l, nil
}

type listener struct {
	ps  *goredis.PubSub
	out chan store.Message

	mu sync.Mutex
	// followed are the channels subscribed to; confirmed those whose
	// subscription Redis confirmed: a second confirmation means go-redis
	// subscribed again on a new connection.
	followed  map[string]bool
	confirmed map[string]bool
	// patterns and pconfirmed are the same for pattern subscriptions.
	patterns   map[string]bool
	pconfirmed map[string]bool
	// waiting are the Subscribe and Unsubscribe calls waiting for Redis's
	// confirmation, by kind and channel.
	waiting map[[2]string][]chan struct{}

	stop chan struct{}
	once sync.Once
}

func (l *listener) run() {
	defer close(l.out)
	msgs := l.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	for {
		var m store.Message
		select {
		case <-l.stop:
			return
		case msg, ok := <-msgs:
			if !ok {
				return
			}
			switch msg := msg.(type) {
			case *goredis.Message:
				m = store.Message{Channel: msg.Channel, Payload: msg.Payload}
			case *goredis.Subscription:
				l.confirmed1(msg.Kind, msg.Channel)
				switch msg.Kind {
				case "subscribe":
					if !l.confirm(l.followed, l.confirmed, msg.Channel) {
						continue
					}
				case "psubscribe":
					if !l.confirm(l.patterns, l.pconfirmed, msg.Channel) {
						continue
					}
				default:
					continue
				}
				// Subscribed again on a new connection: what was
				// published in between is lost.
				m = store.Message{Channel: msg.Channel, Resync: true}
			default:
				continue
			}
		}
		select {
		case l.out <- m:
		case <-l.stop:
			return
		}
	}
}

// confirm records Redis's confirmation of a subscription to ch (a channel
// of followed, or a pattern) and reports whether it had been confirmed
// before.
func (l *listener) confirm(followed, confirmed map[string]bool, ch string) (again bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !followed[ch] {
		return false
	}
	again = confirmed[ch]
	confirmed[ch] = true
	return again
}

// confirmed1 wakes the calls waiting for Redis to confirm kind on ch.
func (l *listener) confirmed1(kind, ch string) {
	l.mu.Lock()
	k := [2]string{kind, ch}
	ws := l.waiting[k]
	delete(l.waiting, k)
	l.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// wait registers a wait for the confirmation of kind on each channel.
func (l *listener) wait(kind string, channels []string) []chan struct{} {
	if l.waiting == nil {
		l.waiting = map[[2]string][]chan struct{}{}
	}
	out := make([]chan struct{}, len(channels))
	for i, ch := range channels {
		out[i] = make(chan struct{})
		k := [2]string{kind, ch}
		l.waiting[k] = append(l.waiting[k], out[i])
	}
	return out
}

func (l *listener) await(ctx context.Context, ws []chan struct{}) error {
	for _, w := range ws {
		select {
		case <-w:
		case <-l.stop:
			return store.ErrListenerClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Subscribe subscribes and waits for Redis to confirm, so that whatever is
// published afterwards is delivered.
func (l *listener) Subscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	for _, ch := range channels {
		l.followed[ch] = true
	}
	ws := l.wait("subscribe", channels)
	l.mu.Unlock()
	if err := l.ps.Subscribe(ctx, channels...); err != nil {
		return err
	}
	return l.await(ctx, ws)
}

// PSubscribe subscribes to patterns and waits for Redis to confirm, so
// that whatever is published afterwards on a matching channel is
// delivered. On a Redis Cluster, whose classic pub/sub reaches every
// node, one pattern subscription on any node hears every channel.
func (l *listener) PSubscribe(ctx context.Context, patterns ...string) error {
	l.mu.Lock()
	for _, p := range patterns {
		l.patterns[p] = true
	}
	ws := l.wait("psubscribe", patterns)
	l.mu.Unlock()
	if err := l.ps.PSubscribe(ctx, patterns...); err != nil {
		return err
	}
	return l.await(ctx, ws)
}

// Unsubscribe unsubscribes and waits for Redis to confirm, so that nothing
// published afterwards is delivered.
func (l *listener) Unsubscribe(ctx context.Context, channels ...string) error {
	l.mu.Lock()
	for _, ch := range channels {
		delete(l.followed, ch)
		delete(l.confirmed, ch)
	}
	ws := l.wait("unsubscribe", channels)
	l.mu.Unlock()
	if err := l.ps.Unsubscribe(ctx, channels...); err != nil {
		return err
	}
	return l.await(ctx, ws)
}

func (l *listener) Messages() <-chan store.Message { return l.out }

func (l *listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		err = l.ps.Close()
	})
	return err
}
